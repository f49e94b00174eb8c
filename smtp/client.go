package smtp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/postwire/postwire/dotstuff"
	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/textproto"
)

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
	// tlsCallback: the TLS configuration of the handshake carried the
	// caller's own check of the peer (VerifyConnection or
	// VerifyPeerCertificate).
	tlsCallback bool

	greeting   string
	didHello   bool
	ehlo       bool // the server understood EHLO
	ext        extensions.Set
	needReset  bool     // a failed transaction may be open on the server
	lmtpRcpts  []string // lock-step LMTP: recipients accepted so far
	mailOpened bool     // lock-step: MAIL was accepted
	mailUTF8   bool     // lock-step: MAIL carried SMTPUTF8
	lineEnds   []int    // Send: where each command line ends in line
	mails      int      // MAIL commands sent on this connection (LIMITS MAILMAX)
	crlf       clientCRLF

	err         error // sticky: the connection is unusable
	interrupted atomic.Bool
	stop        func() bool // stops the context watcher of the call in progress
	interruptFn func()

	line []byte // scratch for building command lines
	hdr  []byte // scratch for BDAT headers
	buf  []byte // copy and chunk buffer, allocated on first use
	// autoOpts is the transaction's MailOptions when the client adds to
	// the caller's (BODY=8BITMIME, SIZE= from a known body).
	autoOpts MailOptions
	dot      dotstuff.Writer
	quitd    bool
	watch    *clientWatch // for DialOptions.Hooks, nil without (client_hooks.go)
}

// Dial connects to the SMTP server at addr ("host:port") without TLS and
// reads its greeting, all under ctx. Call StartTLS, or use DialStartTLS,
// to secure the connection.
func Dial(ctx context.Context, addr string, opts *DialOptions) (*Client, error) {
	conn, err := clientDialer(opts).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smtp: dial %s: %w", addr, err)
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
		return nil, fmt.Errorf("smtp: dial %s with TLS: %w", addr, err)
	}
	c, err := clientStart(ctx, conn, addr, true, opts)
	if err != nil {
		return nil, err
	}
	c.tlsCallback = clientTLSCallback(d.Config)
	return c, nil
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

func clientStart(ctx context.Context, conn net.Conn, addr string, isTLS bool, opts *DialOptions) (*Client, error) {
	c := &Client{netConn: conn, isTLS: isTLS}
	if opts != nil {
		c.opts = *opts
	}
	if err := c.opts.check(); err != nil {
		conn.Close()
		return nil, err
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
		return nil, fmt.Errorf("smtp: greeting: %w", err)
	}
	c.hookOpened()
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
	c.conn = c.hookConn(c.conn)
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
		return fmt.Errorf("smtp: %s: %w", strings.TrimSpace(verb), clientReplyError(r))
	}
	r, err = c.cmd(ctx, c.opts.CommandTimeout, DefaultCommandTimeout, "HELO ", localName)
	if err != nil {
		return err
	}
	if r.Code != 250 {
		return fmt.Errorf("smtp: HELO: %w", clientReplyError(r))
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
// (or LHLO) reply: empty before Hello and after a HELO fallback.
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
	// Set before the command: a QUIT that breaks the connection loses
	// no transaction, so its error is not the 451 of a lost one.
	c.quitd = true
	r, err := c.cmd(ctx, c.opts.CommandTimeout, DefaultCommandTimeout, "QUIT", "")
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
	c.hookClosed()
	if c.err == nil {
		c.err = net.ErrClosed
	}
	err := c.netConn.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
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
