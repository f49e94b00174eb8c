package smtp

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Other protocols' requests, in any case, get 421 4.7.0 and the
// connection is closed, with one log line; SMTP verbs that merely look
// alike still get 500 and the session goes on.
func TestForeignRequestsClose(t *testing.T) {
	log := &lockedBuffer{}
	_, addr := srvStart(t, &srvBackend{}, func(s *Server) {
		s.Logger = slog.New(slog.NewTextHandler(log, nil))
	})
	for _, line := range []string{
		"GET / HTTP/1.1", "get /index.html HTTP/1.0", "POST /submit HTTP/1.1", "CONNECT mx.test:25 HTTP/1.1",
		"HEAD / HTTP/1.1", "PUT /x HTTP/1.1", "OPTIONS * HTTP/1.1", "PRI * HTTP/2.0", "USER alice", "PASS secret",
	} {
		c := srvDial(t, addr)
		c.expect("220 ")
		c.send(line)
		c.expect("421 4.7.0")
		c.expectClosed()
	}
	assert.Equal(t, 10, strings.Count(log.String(), "not an SMTP client"))
	assert.NotContains(t, log.String(), "secret", "nothing of what was sent is logged but its verb")

	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("GETS / HTTP/1.1", "500 5.5.2")
	c.cmd("NOOP", "250 ")
}

// srvSlowBackend makes each session a little late, so that a client
// that does not wait for the greeting is sure to have spoken first.
type srvSlowBackend struct{ srvBackend }

func (b *srvSlowBackend) NewSession(c *Conn) (Session, error) {
	time.Sleep(100 * time.Millisecond)
	return b.srvBackend.NewSession(c)
}

// A client that talks before the greeting (RFC 5321 section 3.1) is
// answered 421 4.7.0 and disconnected, unless AllowEarlyCommands.
func TestEarlyTalkerRefused(t *testing.T) {
	s := &Server{Hostname: "mx.test", Backend: &srvSlowBackend{}, Logger: srvQuietLogger}
	addr, _ := srvServe(t, s)
	c := srvDial(t, addr)
	c.send("EHLO client.test")
	c.expect("421 4.7.0")
	c.expectClosed()

	lenient := &Server{Hostname: "mx.test", Backend: &srvSlowBackend{}, Logger: srvQuietLogger, AllowEarlyCommands: true}
	addr, _ = srvServe(t, lenient)
	c = srvDial(t, addr)
	c.send("EHLO client.test")
	c.expect("220 ")
	c.expect("250 ")
}

// By default 100 junk commands are answered and the 101st closes the
// connection (Postfix's smtpd_junk_command_limit).
func TestJunkCommandLimitDefault(t *testing.T) {
	_, addr := srvStart(t, &srvBackend{}, nil)
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	for range DefaultMaxJunkCommands {
		c.cmd("NOOP", "250 ")
	}
	c.cmd("NOOP", "421 4.7.0")
	c.expectClosed()
}
