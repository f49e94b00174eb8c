package smtp

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientCommand(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("XCLIENT ADDR NAME")
		s.expect("X-STATUS queue")
		s.send("250-2.0.0 queue: 3 messages\r\n250 2.0.0 oldest 2h\r\n")
		s.expect("X-BROKEN")
		s.send("550 5.5.1 no\r\n")
		s.expect("XCLIENT ADDR=192.0.2.1")
		s.send("220 fake.example ESMTP\r\n") // the session starts over
		s.expect("EHLO localhost")
		s.send("250 fake.example\r\n")
		s.expect("NOOP")
		s.send("250 2.0.0 ok\r\n")
		s.expect("QUIT")
		s.send("221 bye\r\n")
	})
	ctx := clientCtx(t)
	c, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	defer c.Close()

	r, err := c.Command(ctx, "X-STATUS queue")
	require.NoError(t, err)
	assert.Equal(t, 250, r.Code)
	assert.Equal(t, EnhancedCode{2, 0, 0}, EnhancedCode(r.Enhanced))
	assert.Equal(t, []string{"queue: 3 messages", "oldest 2h"}, r.Lines)

	r, err = c.Command(ctx, "X-BROKEN")
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 550, se.Code)
	assert.Equal(t, 550, r.Code)

	for _, bad := range []string{"MAIL FROM:<a@example.org>", "data", "X-A\r\nRSET", "", "X-\x00"} {
		_, err := c.Command(ctx, bad)
		assert.Error(t, err, "%q is refused before it is written", bad)
	}

	r, err = c.Command(ctx, "XCLIENT ADDR=192.0.2.1")
	require.NoError(t, err)
	assert.Equal(t, 220, r.Code)
	assert.False(t, c.Extensions().Has("XCLIENT"), "the old extensions no longer hold")
	_, err = c.Command(ctx, "NOOP") // the fake checks that EHLO comes first
	require.NoError(t, err)
	require.NoError(t, c.Quit(ctx))
}
