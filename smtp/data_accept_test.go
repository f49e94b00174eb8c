package smtp

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
)

// acceptSession accepts every message with a 250 reply of its own, as a
// before-queue proxy passes on its upstream's.
type acceptSession struct{}

func (acceptSession) Mail(context.Context, string, *MailOptions) error { return nil }
func (acceptSession) Rcpt(context.Context, string, *RcptOptions) error { return nil }
func (acceptSession) Reset()                                           {}
func (acceptSession) Logout() error                                    { return nil }
func (acceptSession) Data(_ context.Context, r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	return &Error{Code: 250, Enhanced: EnhancedCode{2, 0, 0}, Message: "Ok: queued as 4ABC123\nupstream says hi"}
}

// A 250 *Error from Data is the reply to the final dot and to the last
// BDAT chunk, and the transaction is over; a body that broke a rule still
// gets the rule's reply.
func TestDataAcceptedWithTheSessionsReply(t *testing.T) {
	b := BackendFunc(func(*Conn) (Session, error) { return acceptSession{}, nil })
	_, addr := srvStart(t, nil, func(s *Server) { s.Backend = b })
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")

	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("RCPT TO:<b@example.org>", "250 ")
	c.cmd("DATA", "354 ")
	lines := c.cmd("Subject: x\r\n\r\nhi\r\n.", "250 ")
	assert.Equal(t, []string{"250-2.0.0 Ok: queued as 4ABC123", "250 2.0.0 upstream says hi"}, lines)

	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("RCPT TO:<b@example.org>", "250 ")
	c.cmd("BDAT 4 LAST\r\nhi", "250 2.0.0 upstream says hi")

	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("RCPT TO:<b@example.org>", "250 ")
	c.cmd("DATA", "354 ")
	c.cmd("bare\nLF\r\n.", "550 5.5.2")
}

// In LMTP the 250 *Error is each recipient's reply.
func TestLMTPDataAcceptedWithTheSessionsReply(t *testing.T) {
	b := BackendFunc(func(*Conn) (Session, error) { return acceptSession{}, nil })
	_, addr := srvStart(t, nil, func(s *Server) { s.Backend = b; s.LMTP = true })
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("LHLO client.test", "250 ")
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("RCPT TO:<b@example.org>", "250 ")
	c.cmd("RCPT TO:<c@example.org>", "250 ")
	c.cmd("DATA", "354 ")
	c.cmd("Subject: x\r\n\r\nhi\r\n.", "250 2.0.0 upstream says hi")
	c.expect("250 2.0.0 upstream says hi")
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
}
