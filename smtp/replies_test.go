package smtp

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
)

// srvRefusingSession answers RCPT with its error, and Data with another.
type srvRefusingSession struct {
	srvDiscardSession
	rcpt, data error
}

func (s srvRefusingSession) Rcpt(context.Context, string, *RcptOptions) error { return s.rcpt }
func (s srvRefusingSession) Data(_ context.Context, r io.Reader) error {
	io.Copy(io.Discard, r)
	return s.data
}

// The ready-made replies go out as they are, their codes those of RFC
// 5321 section 4.2.3 and RFC 3463, and WithMessage keeps the codes and
// leaves the original alone.
func TestReadyMadeReplies(t *testing.T) {
	own := ErrNoSuchUser.WithMessage("No mailbox for bob here")
	assert.Equal(t, "No such user here", ErrNoSuchUser.Message, "WithMessage copies")
	for _, tc := range []struct {
		rcpt, data error
		want       string
	}{
		{rcpt: ErrNoSuchUser, want: "550 5.1.1 No such user here"},
		{rcpt: own, want: "550 5.1.1 No mailbox for bob here"},
		{rcpt: ErrMailboxFull, want: "452 4.2.2 "},
		{rcpt: ErrRelayDenied, want: "554 5.7.1 "},
		{rcpt: ErrTryLater, want: "451 4.7.1 "},
		{rcpt: errors.Join(errors.New("wrapped"), ErrMailboxUnavailable), want: "450 4.2.1 "},
		{data: ErrMessageRefused, want: "554 5.7.1 "},
		{data: ErrMessageTooBig, want: "552 5.3.4 "},
	} {
		session := srvRefusingSession{rcpt: tc.rcpt, data: tc.data}
		s := &Server{Hostname: "mx.test", Logger: srvQuietLogger,
			Backend: BackendFunc(func(*Conn) (Session, error) { return session, nil })}
		addr, _ := srvServe(t, s)
		c := srvDial(t, addr)
		c.expect("220 ")
		c.cmd("EHLO client.test", "250 ")
		c.cmd("MAIL FROM:<a@example.org>", "250 ")
		if tc.rcpt != nil {
			c.cmd("RCPT TO:<bob@example.org>", tc.want)
			continue
		}
		c.cmd("RCPT TO:<bob@example.org>", "250 ")
		c.cmd("DATA", "354 ")
		c.cmd("body\r\n.", tc.want)
	}
}
