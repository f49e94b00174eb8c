package smtp

import (
	"bufio"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postwire/postwire/dotstuff"
	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/sasl"
)

// Conn is one client connection as the Session sees it. Its methods may
// be called from the Session's methods, and from other goroutines while
// the connection lives.
type Conn struct {
	srv *Server
	id  string   // for the log: unique among the Server's connections
	nc  net.Conn // the connection; a *tls.Conn after STARTTLS or with implicit TLS
	raw net.Conn // the accepted connection, for other goroutines to close or wake

	mu          sync.Mutex // guards the fields read by the exported methods, idle and interrupted
	idle        bool       // waiting for a command outside a transaction: Shutdown may wake it
	interrupted bool       // Shutdown moved the read deadline
	remote      net.Addr   // the client, as the PROXY protocol or XCLIENT may tell it
	local       net.Addr
	helo        string
	tlsState    *tls.ConnectionState
	identity    *sasl.Identity
	authMech    string
	xclient     *xclientState // nil unless the client is in Server.XCLIENTTrusted
	perIP       netip.Addr    // the address counted for MaxConnectionsPerIP; invalid when not counted
	reversed    bool          // the reversed session of ATRN, on a connection this side dialled

	session Session
	ctx     context.Context
	cancel  context.CancelFunc

	state        state
	esmtp        bool           // greeted with EHLO or LHLO; written under mu
	exts         extensions.Set // what the last EHLO/LHLO advertised; empty after HELO
	mailLimit    int            // longest MAIL line, CRLF included
	rcptLimit    int            // longest RCPT line
	cmdLimit     int            // longest other command line
	lastCode     int            // of the last reply respond wrote, for Hooks.Command
	msg          messageWatch
	opened       time.Time
	errors       int
	junk         int // junk commands since the last accepted message
	authFailures int
	closing      bool // the reply in progress is the last one
	closed       atomic.Bool
	readDL       time.Time // the read deadline last set
	writeDL      time.Time // the write deadline last set

	r     *bufio.Reader // nil while idle; from srv.readerPool
	w     *bufio.Writer // nil when nothing is buffered; from srv.writerPool
	in    connReader
	small [128]byte // the first bytes of a command, read while idle

	inBody          bool      // a body is being read: DataTimeout applies
	commandBegun    bool      // a command line is awaited: its first read sets commandDeadline
	commandDeadline time.Time // ReadTimeout after the first read of the command line
	dataDeadline    time.Time // end of the body, DataFinalTimeout after it began; zero for none

	mailOpts  MailOptions
	rcptOpts  RcptOptions
	notifyBuf [4]DSNNotify
	rcpts     []string
	dot       dotstuff.Reader
	body      limitReader
	bdat      bdatReader
	status    statusCollector
	etrn      *etrnState // nil until the first ETRN
}

func newConn(s *Server, nc net.Conn, base context.Context) *Conn {
	c := &Conn{srv: s, id: s.newConnID(), nc: nc, raw: nc, remote: nc.RemoteAddr(), local: nc.LocalAddr()}
	c.in.c = c
	c.ctx, c.cancel = context.WithCancel(base)
	c.dot.AllowBareLineEndings = s.AllowBareLineEndings
	c.dot.MaxLineLength = s.MaxBodyLineLength
	c.body.c = c
	c.bdat.c = c
	c.status.c = c
	c.setLimits()
	return c
}

// ID returns the connection's identifier, which every log line of the
// server about it carries as "conn": unique among the connections of one
// Server (a random prefix per Server and a counter), so that a Backend can
// put it in its own log lines and Received fields.
func (c *Conn) ID() string { return c.id }

// log writes a line of the connection's log at level: msg, the
// connection's id and the client's address, then args.
func (c *Conn) log(level slog.Level, msg string, args ...any) {
	l := c.srv.logger()
	if !l.Enabled(context.Background(), level) {
		return
	}
	remote := ""
	if c.remote != nil {
		remote = c.remote.String()
	}
	l.Log(context.Background(), level, msg, append([]any{"conn", c.id, "remote", remote}, args...)...)
}

// RemoteAddr returns the client's address: the peer of the TCP connection,
// or the address a trusted proxy reported (PROXY protocol, XCLIENT).
func (c *Conn) RemoteAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remote
}

// LocalAddr returns the server's address of the connection.
func (c *Conn) LocalAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.local
}

// Hostname returns the name the client gave with HELO, EHLO or LHLO (RFC
// 5321 section 4.1.1.1): valid from that greeting on, and so in every
// Session method from Mail on; "" before it (and after STARTTLS or
// XCLIENT, until the client greets again, unless XCLIENT gave a HELO
// name).
func (c *Conn) Hostname() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.helo
}

// ESMTP reports whether the client greeted with EHLO or LHLO (RFC 5321
// section 4.1.1.1, RFC 2033) rather than HELO; false before it greeted
// (and after STARTTLS or XCLIENT, until it greets again). A Received
// field names the protocol after it (RFC 5321 section 4.4: "SMTP" or
// "ESMTP", RFC 3848).
func (c *Conn) ESMTP() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.esmtp
}

// TLSConnectionState returns the state of the connection's TLS layer and
// whether there is one (implicit TLS, RFC 8314, or after STARTTLS, RFC
// 3207). Client.TLSConnectionState is its counterpart on the sending side.
func (c *Conn) TLSConnectionState() (tls.ConnectionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tlsState == nil {
		return tls.ConnectionState{}, false
	}
	return *c.tlsState, true
}

// AuthIdentity returns who authenticated with AUTH (RFC 4954) and with
// which mechanism; ok is false before a successful AUTH. The identity is
// empty when the mechanism's sasl.Server does not implement
// sasl.IdentityServer.
func (c *Conn) AuthIdentity() (id sasl.Identity, mechanism string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.identity == nil {
		return sasl.Identity{}, "", false
	}
	return *c.identity, c.authMech, true
}

// Server returns the Server that accepted the connection.
func (c *Conn) Server() *Server { return c.srv }

// NetConn returns the underlying connection (a *tls.Conn when TLS is in
// force). Writing to it or reading from it breaks the session.
func (c *Conn) NetConn() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nc
}

// setLimits sets the command line limits for the extensions in force.
func (c *Conn) setLimits() {
	if n := c.srv.MaxLineLength; n > 0 {
		c.mailLimit, c.rcptLimit, c.cmdLimit = n, n, n
		return
	}
	c.cmdLimit = commandLineBase
	c.mailLimit, c.rcptLimit = c.exts.CommandLineLimits()
	c.mailLimit = max(c.mailLimit, commandLineBase)
	c.rcptLimit = max(c.rcptLimit, commandLineBase)
}
