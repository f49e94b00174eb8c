package smtp

import (
	"crypto/tls"
	"time"
)

// ServerHooks observe a Server's connections, for metrics and tracing
// without a dependency: set the fields of Server.Hooks that you need. A
// hook left nil costs one nil check where it would run. Hooks run on the
// connection's goroutine, so they must return quickly and may not call
// back into the connection's dialogue; the Conn's getters are safe.
//
// The log lines of the Server carry the same events under stable
// attribute names: "conn" (Conn.ID), "remote" (the client's address),
// "mechanism", "user", "reply" (a code), "err". No hook and no log line
// is ever given a password or a message body.
type ServerHooks struct {
	// ConnOpened is called when a connection is accepted and admitted by
	// the connection limits, before the TLS handshake of implicit TLS and
	// the greeting.
	ConnOpened func(c *Conn)
	// ConnClosed is called when the connection ends, with how long it
	// lasted.
	ConnClosed func(c *Conn, lasted time.Duration)
	// TLSHandshake is called after each TLS handshake, implicit (RFC 8314)
	// or after STARTTLS (RFC 3207): with the state when it succeeded, or
	// the error when it failed (the connection then closes).
	TLSHandshake func(c *Conn, state *tls.ConnectionState, err error)
	// Auth is called after each AUTH exchange (RFC 4954) with the
	// mechanism, the user name the client tried when the mechanism tells
	// it (sasl.AttemptServer), and nil for success or the error.
	Auth func(c *Conn, mechanism, user string, err error)
	// Command is called after each command is answered, with its verb
	// (textproto.Verb's name, "UNKNOWN" for one not recognized), the code
	// of its reply (the last reply, for DATA and BDAT and for LMTP's
	// replies per recipient; 0 when none was sent, as when the connection
	// broke) and how long the server took, from the line read to the
	// reply written.
	Command func(c *Conn, verb string, code int, took time.Duration)
	// Message is called when a message body has been answered, accepted
	// or refused.
	Message func(c *Conn, m MessageEvent)
}

// messageWatch is what Conn keeps of a message in flight for
// Hooks.Message.
type messageWatch struct {
	active   bool
	accepted bool
	event    MessageEvent
	start    time.Time
}

// watchMessage starts watching a message body, when Hooks.Message is set.
func (c *Conn) watchMessage(bdat bool) {
	if c.srv.Hooks.Message == nil {
		return
	}
	c.msg = messageWatch{active: true, start: time.Now(),
		event: MessageEvent{Recipients: len(c.rcpts), BDAT: bdat}}
}

// reportMessage tells Hooks.Message about the message just answered, if
// one was watched.
func (c *Conn) reportMessage() {
	if !c.msg.active {
		return
	}
	m := &c.msg
	m.active = false
	m.event.Size = c.body.read
	m.event.Accepted = m.accepted
	m.event.Code = c.lastCode
	m.event.Took = time.Since(m.start)
	c.srv.Hooks.Message(c, m.event)
}

// MessageEvent describes one message a client sent, for ServerHooks.
type MessageEvent struct {
	// Recipients is the number of recipients of the transaction.
	Recipients int
	// Size is the number of body octets the server read for it
	// (unstuffed, as RFC 1870 counts them), up to the first rule the body
	// broke.
	Size int64
	// BDAT tells whether it came in BDAT chunks (RFC 3030) rather than
	// DATA.
	BDAT bool
	// Accepted tells whether it was accepted for at least one recipient;
	// Code is the reply (in LMTP, the last of the replies per recipient).
	Accepted bool
	Code     int
	// Took is the time from DATA (or the first BDAT) to the reply.
	Took time.Duration
}
