package smtp

import (
	"crypto/tls"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// srvHookLog records what the hooks saw, one line an event.
type srvHookLog struct {
	mu     sync.Mutex
	events []string
	closed chan struct{}
}

func (l *srvHookLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
}

func (l *srvHookLog) hooks() ServerHooks {
	return ServerHooks{
		ConnOpened: func(c *Conn) { l.add("open %s", c.ID()) },
		ConnClosed: func(c *Conn, lasted time.Duration) {
			l.add("close %s %t", c.ID(), lasted > 0)
			close(l.closed)
		},
		TLSHandshake: func(c *Conn, st *tls.ConnectionState, err error) { l.add("tls %t %v", st != nil, err) },
		Auth:         func(c *Conn, mech, user string, err error) { l.add("auth %s %s %t", mech, user, err == nil) },
		Command:      func(c *Conn, verb string, code int, took time.Duration) { l.add("cmd %s %d", verb, code) },
		Message: func(c *Conn, m MessageEvent) {
			l.add("msg rcpts=%d size=%d bdat=%t accepted=%t code=%d", m.Recipients, m.Size, m.BDAT, m.Accepted, m.Code)
		},
	}
}

// Every hook sees its event once, in order, with what the dialogue did.
func TestServerHooks(t *testing.T) {
	serverTLS, clientTLS := srvTLSConfig(t)
	log := &srvHookLog{closed: make(chan struct{})}
	b := &srvBackend{auth: true}
	_, addr := srvStart(t, b, func(s *Server) { s.TLSConfig = serverTLS; s.Hooks = log.hooks() })

	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	c.cmd("STARTTLS", "220 ")
	c.startTLS(clientTLS)
	c.cmd("EHLO client.test", "250 ")
	c.cmd("AUTH PLAIN "+srvB64("\x00user\x00wrong"), "535 ")
	c.cmd("AUTH PLAIN "+srvB64("\x00user\x00pass"), "235 ")
	c.envelope()
	c.cmd("DATA", "354 ")
	c.cmd("hello\r\n.", "250 ")
	c.envelope()
	c.raw("BDAT 3\r\nabc")
	c.expect("250 ")
	c.raw("BDAT 3 LAST\r\nd\x00f")
	c.expect("550 5.6.0")
	c.cmd("BOGUS", "500 ")
	c.cmd("QUIT", "221 ")
	select {
	case <-log.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("ConnClosed was not called")
	}

	id := b.LastConn().ID()
	want := []string{
		"open " + id,
		"cmd EHLO 250", "tls true <nil>", "cmd STARTTLS 220", "cmd EHLO 250",
		"auth PLAIN user false", "cmd AUTH 535", "auth PLAIN user true", "cmd AUTH 235",
		"cmd MAIL 250", "cmd RCPT 250", "msg rcpts=1 size=7 bdat=false accepted=true code=250", "cmd DATA 250",
		"cmd MAIL 250", "cmd RCPT 250",
		"msg rcpts=1 size=4 bdat=true accepted=false code=550", "cmd BDAT 550",
		"cmd UNKNOWN 500", "cmd QUIT 221",
		"close " + id + " true",
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	require.Equal(t, want, log.events, strings.Join(log.events, "\n"))
}
