package smtp

import (
	"crypto/tls"
	"net"
	"strconv"
	"time"

	"github.com/postwire/postwire/internal/ascii"
)

// ClientHooks observe a Client's connection, for metrics and tracing
// without a dependency, as ServerHooks do for the Server: set the fields
// of DialOptions.Hooks that you need. With every field nil they cost one
// nil check where they would run and nothing else: the connection is not
// wrapped. Hooks run on the goroutine calling the Client, so they must
// return quickly and may not call the Client's dialogue methods; its
// getters (Extensions, TLSConnectionState) are safe. No hook is ever
// given a password or a message body.
type ClientHooks struct {
	// ConnOpened is called once the server's greeting was read (RFC 5321
	// section 3.1), when the Client is ready.
	ConnOpened func(c *Client)
	// ConnClosed is called once, when Close or Quit closes the
	// connection (also after an error broke it), with how long it was
	// open from the greeting.
	ConnClosed func(c *Client, lasted time.Duration)
	// TLSHandshake is called after the TLS handshake of STARTTLS (RFC
	// 3207) with the state when it succeeded or the error when it failed
	// (the connection then closes), and at ConnOpened's time for a
	// connection with implicit TLS (RFC 8314), whose failed handshake
	// leaves no Client to report it with: DialTLS returns the error.
	TLSHandshake func(c *Client, state *tls.ConnectionState, err error)
	// Auth is called after each AUTH exchange Auth began on the wire (RFC
	// 4954), with the mechanism and nil for success or the error.
	Auth func(c *Client, mechanism string, err error)
	// Command is called for each reply to a command, pipelined or not:
	// with the command's verb in upper case ("AUTH" for the responses to
	// its challenges, "DATA" for both the 354 and the reply to the body,
	// "BDAT" for each chunk), the reply's code and the time from the
	// command's write to the end of its reply.
	Command func(c *Client, verb string, code int, took time.Duration)
	// Message is called when Send or SendMany knows what became of a
	// message.
	Message func(c *Client, m ClientMessageEvent)
}

// ClientMessageEvent describes one message the client sent, for
// ClientHooks.Message.
type ClientMessageEvent struct {
	// Recipients is the number of recipients of the envelope; Accepted
	// the number the message was accepted for (in LMTP, delivered to).
	Recipients, Accepted int
	// Size is the number of body octets written, as they went on the
	// wire (dot-stuffed for DATA, RFC 5321 section 4.5.2, the final "."
	// line not counted; the chunks' octets for BDAT, RFC 3030).
	Size int64
	// Err is the transaction's error: nil when it was accepted for at
	// least one recipient (Send and SendMany still report the others'
	// refusals as a *RecipientsError).
	Err error
	// Took is the time from the MAIL command's write to the result.
	Took time.Duration
}

// set tells whether any hook is set.
func (h *ClientHooks) set() bool {
	return h.ConnOpened != nil || h.ConnClosed != nil || h.TLSHandshake != nil || h.Auth != nil ||
		h.Command != nil || h.Message != nil
}

// clientWatch is what a Client keeps for its hooks; nil when no hook
// is set.
type clientWatch struct {
	opened time.Time
	closed bool
	wire   *hookConn // set when Command or Message needs the dialogue
}

// hookOpened starts the watch after the greeting: ConnOpened, and
// TLSHandshake for implicit TLS.
func (c *Client) hookOpened() {
	h := &c.opts.Hooks
	if !h.set() {
		return
	}
	if c.watch == nil {
		c.watch = &clientWatch{}
	}
	c.watch.opened = time.Now()
	if h.ConnOpened != nil {
		h.ConnOpened(c)
	}
	if h.TLSHandshake != nil && c.isTLS {
		if st, ok := c.TLSConnectionState(); ok {
			h.TLSHandshake(c, &st, nil)
		}
	}
}

// hookTLS reports the handshake of STARTTLS and returns err.
func (c *Client) hookTLS(tc *tls.Conn, err error) error {
	if hook := c.opts.Hooks.TLSHandshake; hook != nil {
		if err != nil {
			hook(c, nil, err)
		} else {
			st := tc.ConnectionState()
			hook(c, &st, nil)
		}
	}
	return err
}

// hookAuth reports an AUTH exchange and returns its error.
func (c *Client) hookAuth(mech string, err error) error {
	if hook := c.opts.Hooks.Auth; hook != nil {
		hook(c, mech, err)
	}
	return err
}

// hookClosed reports the end of the connection, once.
func (c *Client) hookClosed() {
	if c.watch == nil || c.watch.closed {
		return
	}
	c.watch.closed = true
	if hook := c.opts.Hooks.ConnClosed; hook != nil {
		hook(c, time.Since(c.watch.opened))
	}
}

// hookMessage reports the result of one message of Send or SendMany.
func (c *Client) hookMessage(res *SendResult) {
	hook := c.opts.Hooks.Message
	if hook == nil || res == nil {
		return
	}
	ev := ClientMessageEvent{Recipients: len(res.Recipients), Accepted: res.Accepted(), Err: res.Err}
	if c.watch != nil && c.watch.wire != nil {
		if t, ok := c.watch.wire.popTransaction(); ok {
			ev.Size, ev.Took = t.size, time.Since(t.start)
		}
	}
	hook(c, ev)
}

// hookConn wraps conn to follow the dialogue for Command and Message,
// when either is set; it returns conn itself otherwise.
func (c *Client) hookConn(conn net.Conn) net.Conn {
	h := &c.opts.Hooks
	if h.Command == nil && h.Message == nil {
		return conn
	}
	if c.watch == nil {
		c.watch = &clientWatch{}
	}
	if c.watch.wire == nil {
		c.watch.wire = &hookConn{client: c}
	}
	c.watch.wire.Conn = conn
	return c.watch.wire
}

// hookMaxTransactions bounds the transactions hookConn remembers for
// Message, for the lock-step commands that no result pops.
const hookMaxTransactions = 64

// hookConn follows the commands written and the replies read, pairing
// them in order as pipelining keeps them (RFC 2920 section 3.1), without
// copying the bodies: it skips BDAT chunks by their size (RFC 3030) and
// DATA bodies up to the line with a single "." (RFC 5321 section 4.1.1.4).
type hookConn struct {
	net.Conn
	client *Client

	off bool // the connection was handed over (ATRN): no more following

	// The write side.
	line      []byte // the command line being written, up to hookLineMax
	inBody    bool   // after DATA's 354: writing the body
	bodyState int    // how much of CRLF "." CRLF ends what was written
	chunkLeft int64  // BDAT octets still to skip
	saslNext  bool   // after a 334: the next line answers the challenge

	// The read side.
	reply    []byte // the start of the reply line being read
	midReply bool   // the line has no LF yet

	rcptOK  int           // recipients accepted in the transaction replied to
	pending []hookCommand // commands written, awaiting their reply
	txns    []hookTransaction
}

type hookCommand struct {
	verb    string
	written time.Time
	final   bool // ends a message: in LMTP, answered once per recipient
	replies int  // LMTP: replies still due, once the first came
}

type hookTransaction struct {
	start time.Time
	size  int64
}

// hookLineMax is the longest command line kept: enough for a verb and
// BDAT's size.
const hookLineMax = 64

func (h *hookConn) Write(p []byte) (int, error) {
	if !h.off {
		h.wrote(p)
	}
	return h.Conn.Write(p)
}

func (h *hookConn) Read(p []byte) (int, error) {
	n, err := h.Conn.Read(p)
	if !h.off {
		h.read(p[:n])
	}
	return n, err
}

// hookHandOver stops following the dialogue when the connection is handed
// over to a Server for the reversed session of ATRN (RFC 2645 section
// 5.3): what crosses it then is no longer this client's.
func (c *Client) hookHandOver() {
	if c.watch != nil && c.watch.wire != nil {
		c.watch.wire.off = true
	}
}

// wrote follows what the client writes: command lines, SASL responses,
// BDAT chunks and DATA bodies.
func (h *hookConn) wrote(p []byte) {
	for len(p) > 0 {
		switch {
		case h.chunkLeft > 0:
			n := min(int64(len(p)), h.chunkLeft)
			h.chunkLeft -= n
			h.addSize(n)
			p = p[n:]
		case h.inBody:
			p = h.bodyBytes(p)
		default:
			p = h.commandBytes(p)
		}
	}
}

// bodyBytes consumes DATA body octets up to and including the final
// CRLF "." CRLF, and returns the rest.
func (h *hookConn) bodyBytes(p []byte) []byte {
	// bodyState: 0 mid-line, 1 after CR, 2 at a line start, 3 after ".",
	// 4 after "." CR. The body starts at a line start.
	for i, b := range p {
		switch {
		case b == '\r' && h.bodyState != 3:
			h.bodyState = 1
		case b == '\n' && h.bodyState == 1:
			h.bodyState = 2
		case b == '.' && h.bodyState == 2:
			h.bodyState = 3
		case b == '\r' && h.bodyState == 3:
			h.bodyState = 4
		case b == '\n' && h.bodyState == 4:
			h.addSize(int64(i+1) - int64(len(".\r\n"))) // the final line is not the body's
			h.inBody = false
			h.pending = append(h.pending, hookCommand{verb: "DATA", written: time.Now(), final: true})
			return p[i+1:]
		default:
			h.bodyState = 0
		}
	}
	h.addSize(int64(len(p)))
	return nil
}

// commandBytes consumes octets of a command line and, at its LF, queues
// the command; it returns the rest.
func (h *hookConn) commandBytes(p []byte) []byte {
	i := 0
	for i < len(p) && p[i] != '\n' {
		i++
	}
	if room := hookLineMax - len(h.line); room > 0 {
		h.line = append(h.line, p[:min(i, room)]...)
	}
	if i == len(p) {
		return nil
	}
	h.command(h.line)
	h.line = h.line[:0]
	return p[i+1:]
}

// command queues the command whose line (cut at hookLineMax) was written.
func (h *hookConn) command(line []byte) {
	now := time.Now()
	if h.saslNext {
		h.saslNext = false
		h.pending = append(h.pending, hookCommand{verb: "AUTH", written: now})
		return
	}
	verb, arg := line, []byte(nil)
	for i, b := range line {
		if b == ' ' || b == '\r' {
			verb, arg = line[:i], line[i:]
			break
		}
	}
	name := hookVerb(verb)
	switch name {
	case "MAIL":
		if len(h.txns) == hookMaxTransactions {
			h.txns = popFront(h.txns)
		}
		h.txns = append(h.txns, hookTransaction{start: now})
	case "BDAT":
		h.chunkLeft = bdatSize(arg)
		h.pending = append(h.pending, hookCommand{verb: name, written: now, final: bdatLast(arg)})
		return
	}
	h.pending = append(h.pending, hookCommand{verb: name, written: now})
}

// hookVerbs are the verbs reported as they are, without allocating.
var hookVerbs = []string{"EHLO", "HELO", "LHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "QUIT",
	"NOOP", "VRFY", "EXPN", "HELP", "AUTH", "STARTTLS", "ETRN", "ATRN", "XCLIENT"}

// hookVerb names a verb in upper case.
func hookVerb(verb []byte) string {
	for _, v := range hookVerbs {
		if ascii.EqualFold(string(verb), v) {
			return v
		}
	}
	return ascii.ToUpper(string(verb))
}

// bdatSize reads the chunk size of " size [LAST]\r" (RFC 3030 section 2).
func bdatSize(arg []byte) int64 {
	s := string(arg)
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	end := 0
	for end < len(s) && '0' <= s[end] && s[end] <= '9' {
		end++
	}
	n, err := strconv.ParseInt(s[:end], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// bdatLast tells whether a BDAT argument ends with LAST.
func bdatLast(arg []byte) bool {
	s := string(arg)
	for len(s) > 0 && (s[len(s)-1] == '\r' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return len(s) >= 4 && ascii.EqualFold(s[len(s)-4:], "LAST")
}

// addSize counts body octets towards the newest transaction.
func (h *hookConn) addSize(n int64) {
	if len(h.txns) > 0 {
		h.txns[len(h.txns)-1].size += n
	}
}

// popTransaction returns the oldest transaction not yet reported.
func (h *hookConn) popTransaction() (hookTransaction, bool) {
	if len(h.txns) == 0 {
		return hookTransaction{}, false
	}
	t := h.txns[0]
	h.txns = popFront(h.txns)
	return t, true
}

// popFront drops the first element, moving the others down so that the
// slice keeps its capacity and appends do not allocate again.
func popFront[T any](s []T) []T {
	n := copy(s, s[1:])
	return s[:n]
}

// read follows the replies: each last line (a space or the end after the
// code, RFC 5321 section 4.2.1) answers the oldest pending command.
func (h *hookConn) read(p []byte) {
	for len(p) > 0 {
		i := 0
		for i < len(p) && p[i] != '\n' {
			i++
		}
		if len(h.reply) < 4 {
			h.reply = append(h.reply, p[:min(i, 4-len(h.reply))]...)
		}
		if i == len(p) {
			return
		}
		p = p[i+1:]
		last := len(h.reply) < 4 || h.reply[3] != '-'
		code := replyCode(h.reply)
		h.reply = h.reply[:0]
		if last {
			h.replied(code)
		}
	}
}

// replyCode reads the three digits of a reply line; 0 when they are not.
func replyCode(b []byte) int {
	if len(b) < 3 {
		return 0
	}
	n := 0
	for _, d := range b[:3] {
		if d < '0' || d > '9' {
			return 0
		}
		n = n*10 + int(d-'0')
	}
	return n
}

// replied pairs a complete reply with the oldest pending command (none for
// the greeting) and reports it. In LMTP the command ending a message
// takes one reply per recipient accepted (RFC 2033 section 4.2), counted
// from the RCPT replies, which all come before.
func (h *hookConn) replied(code int) {
	if len(h.pending) == 0 {
		return
	}
	cmd := &h.pending[0]
	verb, written := cmd.verb, cmd.written
	switch {
	case verb == "MAIL":
		h.rcptOK = 0
	case verb == "RCPT" && code/100 == 2:
		h.rcptOK++
	case verb == "DATA" && code == 354:
		h.inBody, h.bodyState = true, 2
	case verb == "AUTH" && code == 334:
		h.saslNext = true
	}
	if cmd.final && h.client.opts.LMTP {
		if cmd.replies == 0 {
			cmd.replies = max(1, h.rcptOK)
		}
		cmd.replies--
	}
	if cmd.replies == 0 {
		h.pending = popFront(h.pending)
	}
	if hook := h.client.opts.Hooks.Command; hook != nil {
		hook(h.client, verb, code, time.Since(written))
	}
}
