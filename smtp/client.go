package smtp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/postwire/postwire/dotstuff"
	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/textproto"
)

// Default timeouts of a client, from RFC 5321 section 4.5.3.2.
const (
	DefaultGreetingTimeout  = 5 * time.Minute  // 4.5.3.2.1, initial 220 message
	DefaultCommandTimeout   = 5 * time.Minute  // 4.5.3.2.2 and .3, MAIL and RCPT (and every other command)
	DefaultDataInitTimeout  = 2 * time.Minute  // 4.5.3.2.4, the 354 reply to DATA
	DefaultDataBlockTimeout = 3 * time.Minute  // 4.5.3.2.5, each block of the body
	DefaultDataTermTimeout  = 10 * time.Minute // 4.5.3.2.6, the reply to the final dot
)

// DialOptions are the settings of a Client. The zero value (or nil) is
// usable: EHLO localhost, the timeouts of RFC 5321 section 4.5.3.2,
// pipelining when the server offers it, DATA rather than BDAT.
type DialOptions struct {
	// LocalName is the name sent with EHLO, HELO or LHLO: a domain or an
	// address literal such as "[192.0.2.1]" (RFC 5321 section 4.1.1.1).
	// Default "localhost".
	LocalName string
	// TLSConfig is used by DialTLS, DialStartTLS and by StartTLS when it is
	// given nil. When its ServerName is empty the host of the dialled
	// address is used.
	TLSConfig *tls.Config
	// LMTP speaks LMTP (RFC 2033): LHLO instead of EHLO, and one reply per
	// accepted recipient after the body.
	LMTP bool
	// DisablePipelining sends every command in lock-step even when the
	// server offers PIPELINING (RFC 2920).
	DisablePipelining bool
	// Chunking sends bodies with BDAT (RFC 3030) when the server offers
	// CHUNKING. BDAT is always used for BODY=BINARYMIME, which requires it.
	Chunking bool
	// ChunkSize is the largest BDAT chunk; 0 means 64 KiB.
	ChunkSize int
	// AllowInsecureAuth lets Auth send a password or bearer token (PLAIN,
	// LOGIN, XOAUTH2, OAUTHBEARER and unknown mechanisms) over a
	// connection that is neither TLS nor to a loopback address.
	AllowInsecureAuth bool

	// Timeouts; 0 means the RFC 5321 default above, a negative value none.
	// The context given to each call may end it sooner.
	GreetingTimeout  time.Duration
	CommandTimeout   time.Duration
	DataInitTimeout  time.Duration
	DataBlockTimeout time.Duration
	DataTermTimeout  time.Duration

	// MaxReplyLineLength and MaxReplyLines cap one server reply; 0 means
	// the textproto.ReplyReader defaults. A longer reply is a protocol
	// error and the connection is closed.
	MaxReplyLineLength int
	MaxReplyLines      int

	// Trace, when set, receives the whole dialogue as it crosses the wire,
	// after TLS: "C: " before each line the client writes, "S: " before
	// each line the server writes. SASL exchanges are masked.
	Trace io.Writer

	// Dialer dials the TCP connection for Dial, DialTLS and DialStartTLS;
	// nil means a net.Dialer with default settings.
	Dialer *net.Dialer
}

// Client is a connection to an SMTP or LMTP server (RFC 5321, RFC 2033).
// Its methods must not be called concurrently. After any error that leaves
// the connection out of step with the server (a network error, a protocol
// error, a cancelled context) the connection is closed and every later call
// returns that error.
type Client struct {
	opts       DialOptions
	serverName string // host part of the dialled address, for TLS

	netConn net.Conn // the transport, for deadlines and Close
	conn    net.Conn // what bufio uses: the TLS connection when there is one, maybe traced
	trace   *clientTraceConn
	br      *bufio.Reader
	bw      *bufio.Writer
	rr      *textproto.ReplyReader
	isTLS   bool

	greeting   string
	didHello   bool
	ehlo       bool // the server understood EHLO
	ext        extensions.Set
	needReset  bool     // a failed transaction may be open on the server
	lmtpRcpts  []string // lock-step LMTP: recipients accepted so far
	mailOpened bool     // lock-step: MAIL was accepted
	mailUTF8   bool     // lock-step: MAIL carried SMTPUTF8
	lineEnds   []int    // Send: where each command line ends in line
	crlf       clientCRLF

	err         error // sticky: the connection is unusable
	interrupted atomic.Bool
	stop        func() bool // stops the context watcher of the call in progress
	interruptFn func()

	line  []byte // scratch for building command lines
	hdr   []byte // scratch for BDAT headers
	buf   []byte // copy and chunk buffer, allocated on first use
	dot   dotstuff.Writer
	quitd bool
}

// Dial connects to the SMTP server at addr ("host:port") without TLS and
// reads its greeting, all under ctx. Call StartTLS, or use DialStartTLS,
// to secure the connection.
func Dial(ctx context.Context, addr string, opts *DialOptions) (*Client, error) {
	conn, err := clientDialer(opts).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return clientStart(ctx, conn, addr, false, opts)
}

// DialTLS connects to addr with implicit TLS (RFC 8314 section 3, the
// submissions port 465) and reads the greeting, all under ctx.
func DialTLS(ctx context.Context, addr string, opts *DialOptions) (*Client, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var cfg *tls.Config
	if opts != nil {
		cfg = opts.TLSConfig
	}
	d := tls.Dialer{NetDialer: clientDialer(opts), Config: clientTLSConfig(cfg, host)}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return clientStart(ctx, conn, addr, true, opts)
}

// DialStartTLS connects to addr, says EHLO and upgrades the connection with
// STARTTLS (RFC 3207). A server that does not offer STARTTLS is an error:
// nothing is sent in clear beyond EHLO.
func DialStartTLS(ctx context.Context, addr string, opts *DialOptions) (*Client, error) {
	c, err := Dial(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	if err := c.StartTLS(ctx, nil); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// NewClient returns a Client over an established connection and reads the
// server's greeting within opts.GreetingTimeout. A greeting other than 220
// is returned as an *Error (RFC 5321 section 3.1) and conn is closed. If
// conn is a *tls.Conn the client counts as secured.
func NewClient(conn net.Conn, opts *DialOptions) (*Client, error) {
	_, isTLS := conn.(*tls.Conn)
	return clientStart(context.Background(), conn, "", isTLS, opts)
}

func clientDialer(opts *DialOptions) *net.Dialer {
	if opts != nil && opts.Dialer != nil {
		return opts.Dialer
	}
	return &net.Dialer{}
}

func clientStart(ctx context.Context, conn net.Conn, addr string, isTLS bool, opts *DialOptions) (*Client, error) {
	c := &Client{netConn: conn, isTLS: isTLS}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.LocalName == "" {
		c.opts.LocalName = "localhost"
	}
	if addr != "" {
		if host, _, err := net.SplitHostPort(addr); err == nil {
			c.serverName = host
		}
	}
	c.interruptFn = c.interrupt
	c.setConn(conn)
	if err := c.readGreeting(ctx); err != nil {
		c.netConn.Close()
		return nil, err
	}
	return c, nil
}

// setConn puts conn under the buffered reader and writer, behind the trace
// when there is one.
func (c *Client) setConn(conn net.Conn) {
	c.conn = conn
	if c.opts.Trace != nil {
		c.trace = &clientTraceConn{Conn: conn, w: c.opts.Trace}
		c.conn = c.trace
	}
	if c.br == nil {
		c.br = bufio.NewReaderSize(c.conn, 4096)
		c.bw = bufio.NewWriterSize(c.conn, 8192)
	} else {
		c.br.Reset(c.conn)
		c.bw.Reset(c.conn)
	}
	c.rr = textproto.NewReplyReader(c.br)
	c.rr.MaxLineLength = c.opts.MaxReplyLineLength
	c.rr.MaxLines = c.opts.MaxReplyLines
}

func (c *Client) readGreeting(ctx context.Context) error {
	if err := c.begin(ctx, c.opts.GreetingTimeout, DefaultGreetingTimeout); err != nil {
		return err
	}
	r, err := c.readReply(ctx)
	c.end()
	if err != nil {
		return err
	}
	if r.Code != 220 {
		// RFC 5321 section 3.1: after a 554 greeting the client should
		// still say QUIT; do it briefly and without caring for the reply.
		c.netConn.SetDeadline(time.Now().Add(time.Second))
		c.bw.WriteString("QUIT\r\n")
		c.bw.Flush()
		return clientReplyError(r)
	}
	c.greeting = clientJoin(r.Lines)
	return nil
}

// Greeting returns the text of the server's 220 greeting.
func (c *Client) Greeting() string { return c.greeting }

// Hello says EHLO (LHLO in LMTP mode) with localName, or with
// DialOptions.LocalName when localName is "". Only when the server answers
// EHLO with 500 or 502 (command not recognised or not implemented, RFC 5321
// section 3.2) does it fall back to HELO. Most calls say hello on their own
// when needed; call Hello to choose the name or to see the error early.
func (c *Client) Hello(ctx context.Context, localName string) error {
	if localName == "" {
		localName = c.opts.LocalName
	}
	if err := clientCheckHelloName(localName); err != nil {
		return err
	}
	verb := "EHLO "
	if c.opts.LMTP {
		verb = "LHLO "
	}
	r, err := c.cmd(ctx, c.opts.CommandTimeout, DefaultCommandTimeout, verb, localName)
	if err != nil {
		return err
	}
	if r.Code == 250 {
		set, err := extensions.Parse(r.Lines[1:])
		if err != nil {
			return c.fail(&textproto.ProtocolError{Msg: "malformed EHLO reply: " + err.Error()})
		}
		c.ext, c.ehlo, c.didHello = set, true, true
		return nil
	}
	if c.opts.LMTP || (r.Code != 500 && r.Code != 502) {
		return clientReplyError(r)
	}
	r, err = c.cmd(ctx, c.opts.CommandTimeout, DefaultCommandTimeout, "HELO ", localName)
	if err != nil {
		return err
	}
	if r.Code != 250 {
		return clientReplyError(r)
	}
	c.ext, c.ehlo, c.didHello = extensions.Set{}, false, true
	return nil
}

// hello says hello with the default name unless that was done.
func (c *Client) hello(ctx context.Context) error {
	if c.err != nil {
		return c.err
	}
	if c.didHello {
		return nil
	}
	return c.Hello(ctx, "")
}

// Extensions returns the extensions the server advertised in its last EHLO
// reply (empty after HELO), saying hello first if needed.
func (c *Client) Extensions() extensions.Set {
	return c.ext
}

// Extension reports whether the server advertised ext and its parameters,
// as net/smtp's Client.Extension does.
func (c *Client) Extension(ext string) (bool, string) {
	p, ok := c.ext.Params(ext)
	return ok, p
}

// TLSConnectionState returns the TLS state of the connection, if it is
// secured.
func (c *Client) TLSConnectionState() (tls.ConnectionState, bool) {
	if tc, ok := c.netConnTLS(); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

func (c *Client) netConnTLS() (*tls.Conn, bool) {
	conn := c.conn
	if c.trace != nil {
		conn = c.trace.Conn
	}
	tc, ok := conn.(*tls.Conn)
	return tc, ok
}

// Quit says QUIT (RFC 5321 section 4.1.1.10), waits for the 221 and closes
// the connection.
func (c *Client) Quit(ctx context.Context) error {
	if c.err != nil {
		c.Close()
		return c.err
	}
	r, err := c.cmd(ctx, c.opts.CommandTimeout, DefaultCommandTimeout, "QUIT", "")
	c.quitd = true
	cerr := c.Close()
	if err != nil {
		return err
	}
	if r.Code != 221 {
		return clientReplyError(r)
	}
	return cerr
}

// Close closes the connection without saying QUIT.
func (c *Client) Close() error {
	if c.err == nil {
		c.err = net.ErrClosed
	}
	err := c.netConn.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// cmd writes one command line, verb followed by arg (arg has been checked),
// and reads its reply. A 4xx or 5xx reply is not an error here: callers
// decide.
func (c *Client) cmd(ctx context.Context, timeout, def time.Duration, verb, arg string) (textproto.Reply, error) {
	b := append(c.line[:0], verb...)
	b = append(b, arg...)
	c.line = append(b, '\r', '\n')
	return c.roundTrip(ctx, timeout, def, c.line)
}

// roundTrip writes line (CRLF included) and reads the reply.
func (c *Client) roundTrip(ctx context.Context, timeout, def time.Duration, line []byte) (textproto.Reply, error) {
	if err := c.begin(ctx, timeout, def); err != nil {
		return textproto.Reply{}, err
	}
	defer c.end()
	if err := c.checkNothingPending(); err != nil {
		return textproto.Reply{}, err
	}
	c.bw.Write(line)
	if err := c.flush(ctx); err != nil {
		return textproto.Reply{}, err
	}
	return c.readReply(ctx)
}

// checkNothingPending makes sure the server has sent nothing that no
// command asked for: such bytes would later be read as the reply to the
// next command (RFC 5321 section 4.2; the response-injection class of
// CVE-2011-0411).
func (c *Client) checkNothingPending() error {
	if c.br.Buffered() > 0 {
		return c.fail(&textproto.ProtocolError{Msg: "server sent a reply with no command pending"})
	}
	return nil
}

func (c *Client) flush(ctx context.Context) error {
	if err := c.bw.Flush(); err != nil {
		return c.ioFail(ctx, err)
	}
	return nil
}

// readReply reads one reply; a protocol error or an I/O error closes the
// connection.
func (c *Client) readReply(ctx context.Context) (textproto.Reply, error) {
	r, err := c.rr.ReadReply()
	if err != nil {
		var pe *textproto.ProtocolError
		if errors.As(err, &pe) {
			return r, c.fail(err)
		}
		return r, c.ioFail(ctx, err)
	}
	return r, nil
}

// fail closes the connection and makes err sticky.
func (c *Client) fail(err error) error {
	if c.err == nil || c.err == net.ErrClosed {
		c.err = err
	}
	c.netConn.Close()
	return err
}

// ioFail turns a network error into the error the caller sees: the
// context's error when it ended the call; otherwise, as RFC 5321 section
// 3.8 asks, a temporary failure (*Error 451 4.4.2, errors.As finds it and
// Temporary reports true) that also wraps the network error for errors.Is.
func (c *Client) ioFail(ctx context.Context, err error) error {
	if c.err != nil && c.err != net.ErrClosed {
		return c.err
	}
	if cerr := ctx.Err(); cerr != nil && c.interrupted.Load() {
		return c.fail(fmt.Errorf("smtp: %w", cerr))
	}
	if c.quitd {
		return c.fail(err)
	}
	return c.fail(&clientLostError{
		smtp: &Error{Code: 451, Enhanced: EnhancedCode{4, 4, 2}, Message: "connection lost: " + err.Error()},
		err:  err,
	})
}

// clientLostError is a connection that broke mid-dialogue: both the 451 of
// RFC 5321 section 3.8 and the network error.
type clientLostError struct {
	smtp *Error
	err  error
}

func (e *clientLostError) Error() string   { return "smtp: " + e.smtp.Message }
func (e *clientLostError) Unwrap() []error { return []error{e.smtp, e.err} }

// Temporary is true: a transaction cut by a lost connection may be retried.
func (e *clientLostError) Temporary() bool { return true }

// begin arms the deadline and the context watcher of one call.
func (c *Client) begin(ctx context.Context, timeout, def time.Duration) error {
	if c.err != nil {
		return c.err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	c.interrupted.Store(false)
	c.setDeadline(ctx, timeout, def)
	if ctx.Done() != nil {
		c.stop = context.AfterFunc(ctx, c.interruptFn)
	}
	return nil
}

// end disarms the context watcher.
func (c *Client) end() {
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
}

// setDeadline sets the connection's deadline to timeout from now (def when
// timeout is 0, none when negative) or the context's deadline if sooner.
func (c *Client) setDeadline(ctx context.Context, timeout, def time.Duration) {
	if timeout == 0 {
		timeout = def
	}
	var d time.Time
	if timeout > 0 {
		d = time.Now().Add(timeout)
	}
	if cd, ok := ctx.Deadline(); ok && (d.IsZero() || cd.Before(d)) {
		d = cd
	}
	c.netConn.SetDeadline(d)
	if c.interrupted.Load() {
		c.netConn.SetDeadline(clientLongAgo)
	}
}

// clientLongAgo is a deadline in the past: blocked reads and writes return
// at once.
var clientLongAgo = time.Unix(1, 0)

// interrupt runs when the context of the call in progress ends.
func (c *Client) interrupt() {
	c.interrupted.Store(true)
	c.netConn.SetDeadline(clientLongAgo)
}

// clientReplyError returns the *Error for a reply.
func clientReplyError(r textproto.Reply) *Error {
	return &Error{Code: r.Code, Enhanced: r.Enhanced, Message: clientJoin(r.Lines)}
}

// clientJoin joins reply lines with LF, as Error.Reply splits them.
func clientJoin(lines []string) string {
	switch len(lines) {
	case 0:
		return ""
	case 1:
		return lines[0]
	}
	return strings.Join(lines, "\n")
}

// clientCheckHelloName accepts a domain or an address literal of printable
// ASCII (RFC 5321 section 4.1.1.1); anything that could break the command
// line is refused before it is written.
func clientCheckHelloName(name string) error {
	if name == "" || len(name) > textproto.MaxDomain {
		return errors.New("smtp: bad EHLO name length")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("smtp: EHLO name %q contains a forbidden byte", name)
		}
	}
	if _, err := textproto.ParseMailbox("postmaster@"+name, textproto.ParseOptions{}); err != nil {
		return fmt.Errorf("smtp: bad EHLO name %q: %w", name, err)
	}
	return nil
}
