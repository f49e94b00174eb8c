package smtp

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/textproto"
)

func TestClientStartTLSInjection(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("STARTTLS")
		s.expect("STARTTLS")
		// A man in the middle appends a reply meant for after the
		// handshake: the client must not trust it.
		s.send("220 2.0.0 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n")
		s.rest()
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	err = c.StartTLS(clientCtx(t), nil)
	var pe *textproto.ProtocolError
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, pe.Msg, "injection")
	require.Error(t, c.Noop(clientCtx(t)), "the connection is closed")
}

func TestClientOverlongReply(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.send("220 fake\r\n")
		s.expect("EHLO localhost")
		s.send("250 " + strings.Repeat("x", 600) + "\r\n")
		s.rest()
	})
	c, err := Dial(clientCtx(t), addr, &DialOptions{MaxReplyLineLength: 512})
	require.NoError(t, err)
	defer c.Close()
	var pe *textproto.ProtocolError
	require.ErrorAs(t, c.Hello(clientCtx(t), ""), &pe)
}

func TestClientTooManyReplyLines(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.send("220 fake\r\n")
		s.expect("EHLO localhost")
		s.send(strings.Repeat("250-x\r\n", 20) + "250 x\r\n")
		s.rest()
	})
	c, err := Dial(clientCtx(t), addr, &DialOptions{MaxReplyLines: 10})
	require.NoError(t, err)
	defer c.Close()
	var pe *textproto.ProtocolError
	require.ErrorAs(t, c.Hello(clientCtx(t), ""), &pe)
}

func TestClientBadReplyCode(t *testing.T) {
	for _, reply := range []string{"600 what\r\n", "199 early\r\n", "2x0 bad\r\n"} {
		addr := clientFake(t, func(s *clientScript) {
			s.send("220 fake\r\n")
			s.expect("EHLO localhost")
			s.send(reply)
			s.rest()
		})
		c, err := Dial(clientCtx(t), addr, nil)
		require.NoError(t, err)
		var pe *textproto.ProtocolError
		require.ErrorAs(t, c.Hello(clientCtx(t), ""), &pe, reply)
		c.Close()
	}
}

func TestClientUnsolicitedReply(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.send("220 fake\r\n")
		s.expect("EHLO localhost")
		s.send("250 fake\r\n250 2.0.0 nobody asked\r\n")
		assert.Equal(t, "", s.rest(), "nothing may be written after an unsolicited reply")
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello(clientCtx(t), ""))
	time.Sleep(50 * time.Millisecond) // let the stray reply arrive
	_, err = c.Send(clientCtx(t), &Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader("x"))
	var pe *textproto.ProtocolError
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, pe.Msg, "no command pending")
}

func TestClientDroppedConnectionIsTemporary(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after func(s *clientScript)
	}{
		{"after the envelope", func(s *clientScript) {
			s.expect("MAIL FROM:<a@example.org>")
			s.expect("RCPT TO:<b@example.org>")
			s.expect("DATA")
			s.send("250 ok\r\n250 ok\r\n")
		}},
		{"during the body", func(s *clientScript) {
			s.expect("MAIL FROM:<a@example.org>")
			s.expect("RCPT TO:<b@example.org>")
			s.expect("DATA")
			s.send("250 ok\r\n250 ok\r\n354 go\r\n")
			s.line()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := clientFake(t, func(s *clientScript) {
				s.greetEHLO("PIPELINING")
				tc.after(s)
				s.conn.(*net.TCPConn).SetLinger(0)
			})
			c, err := Dial(clientCtx(t), addr, nil)
			require.NoError(t, err)
			defer c.Close()
			res, err := c.Send(clientCtx(t), &Envelope{From: "a@example.org", To: []string{"b@example.org"}},
				strings.NewReader(strings.Repeat("line of body\r\n", 50000)))
			require.Error(t, err)
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, 451, se.Code)
			assert.True(t, se.Temporary())
			var tmp interface{ Temporary() bool }
			require.ErrorAs(t, err, &tmp)
			assert.True(t, tmp.Temporary())
			assert.Empty(t, res.Reply)
			// The client stays closed with the same error.
			assert.Equal(t, err, c.Noop(clientCtx(t)))
		})
	}
}

func TestClientContextCancelMidReply(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO()
		s.expect("NOOP")
		s.rest() // never answers
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello(clientCtx(t), ""))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err = c.Noop(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestClientBodyReadErrorDropsConnection(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("PIPELINING")
		s.expect("MAIL FROM:<a@example.org>")
		s.expect("RCPT TO:<b@example.org>")
		s.expect("DATA")
		s.send("250 ok\r\n250 ok\r\n354 go\r\n")
		got := s.rest()
		assert.NotContains(t, got, "\r\n.\r\n", "a truncated body must never be ended")
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	boom := errors.New("disk on fire")
	_, err = c.Send(clientCtx(t), &Envelope{From: "a@example.org", To: []string{"b@example.org"}},
		io.MultiReader(strings.NewReader("partial\r\n"), clientErrReader{boom}))
	require.ErrorIs(t, err, boom)
}

type clientErrReader struct{ err error }

func (r clientErrReader) Read([]byte) (int, error) { return 0, r.err }
