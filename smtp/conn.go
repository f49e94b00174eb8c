package smtp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/postwire/postwire/dotstuff"
	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/textproto"
)

// Conn is one client connection as the Session sees it. Its methods may
// be called from the Session's methods, and from other goroutines while
// the connection lives.
type Conn struct {
	srv *Server
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

	session Session
	ctx     context.Context
	cancel  context.CancelFunc

	state        state
	esmtp        bool           // greeted with EHLO or LHLO
	exts         extensions.Set // what the last EHLO/LHLO advertised; empty after HELO
	mailLimit    int            // longest MAIL line, CRLF included
	rcptLimit    int            // longest RCPT line
	cmdLimit     int            // longest other command line
	errors       int
	authFailures int
	closing      bool // the reply in progress is the last one
	closed       atomic.Bool
	readDL       time.Time // the read deadline last set
	writeDL      time.Time // the write deadline last set

	r     *bufio.Reader // nil while idle; from srv.readerPool
	w     *bufio.Writer // nil when nothing is buffered; from srv.writerPool
	in    connReader
	small [128]byte // the first bytes of a command, read while idle

	deadline     time.Duration // the per-read timeout in force
	dataDeadline time.Time     // end of the body, DataFinalTimeout after it began

	mailOpts  MailOptions
	rcptOpts  RcptOptions
	notifyBuf [4]DSNNotify
	rcpts     []string
	dot       dotstuff.Reader
	body      limitReader
	bdat      bdatReader
	status    statusCollector
	pending   []byte // a command read between BDAT chunks, to run next
}

func newConn(s *Server, nc net.Conn) *Conn {
	c := &Conn{srv: s, nc: nc, raw: nc, remote: nc.RemoteAddr(), local: nc.LocalAddr()}
	c.in.c = c
	c.ctx, c.cancel = context.WithCancel(s.baseCtx)
	c.dot.AllowBareLineEndings = s.AllowBareLineEndings
	c.dot.MaxLineLength = s.MaxBodyLineLength
	c.body.c = c
	c.bdat.c = c
	c.status.c = c
	c.setLimits()
	return c
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
// 5321 section 4.1.1.1), "" before it did (and after STARTTLS, until it
// greets again).
func (c *Conn) Hostname() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.helo
}

// TLS returns the state of the connection's TLS layer and whether there is
// one (implicit TLS or after STARTTLS).
func (c *Conn) TLS() (tls.ConnectionState, bool) {
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

// serve runs the connection from greeting to close.
func (c *Conn) serve() {
	s := c.srv
	defer s.forget(c)
	defer c.finish()
	defer func() {
		if v := recover(); v != nil {
			s.logger().Error("smtp: panic serving connection", "remote", c.remote, "panic", v, "stack", string(debug.Stack()))
			c.closing = true
			c.reply(421, EnhancedCode{4, 3, 0}, s.hostname+" Internal error, closing connection")
			c.flush()
		}
	}()

	if s.ProxyProtocol {
		if err := c.readProxyHeader(); err != nil {
			s.logger().Warn("smtp: PROXY protocol header refused", "remote", c.remote, "err", err)
			return
		}
	}
	if tc, ok := c.nc.(*tls.Conn); ok {
		if !c.handshake(tc) {
			return
		}
	}
	session, err := s.Backend.NewSession(c)
	if err != nil {
		var se *Error
		if errors.As(err, &se) {
			c.replyError(err)
		} else {
			s.logger().Error("smtp: Backend.NewSession failed", "remote", c.remote, "err", err)
			c.reply(421, EnhancedCode{4, 3, 0}, s.hostname+" Service not available, closing connection")
		}
		c.flush()
		return
	}
	c.session = session
	c.greet()
	for !c.closing {
		line, err := c.readCommand()
		if err != nil {
			c.readFailed(err)
			return
		}
		if line == nil {
			continue // a line refused as too long or malformed, already answered
		}
		c.execute(line)
	}
	c.flush()
}

func (c *Conn) greet() {
	kind := " ESMTP Service ready"
	if c.srv.LMTP {
		kind = " LMTP Service ready"
	}
	c.reply(220, EnhancedCode{}, c.srv.hostname+kind)
}

// finish releases everything the connection holds.
func (c *Conn) finish() {
	if c.session != nil {
		func() {
			defer func() {
				if v := recover(); v != nil {
					c.srv.logger().Error("smtp: panic in Session.Logout", "panic", v)
				}
			}()
			if err := c.session.Logout(); err != nil {
				c.srv.logger().Warn("smtp: Session.Logout failed", "err", err)
			}
		}()
	}
	c.cancel()
	c.closeNow()
	if c.r != nil {
		c.r.Reset(nil)
		c.srv.readerPool.Put(c.r)
		c.r = nil
	}
	if c.w != nil {
		c.w.Reset(nil)
		c.srv.writerPool.Put(c.w)
		c.w = nil
	}
}

func (c *Conn) closeNow() {
	if c.closed.CompareAndSwap(false, true) {
		c.raw.Close()
	}
}

// interruptIfIdle is Shutdown's hook: a connection waiting for a command
// outside any transaction is woken so that it says 421 4.3.2 and closes.
func (c *Conn) interruptIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle {
		c.interrupted = true
		c.raw.SetReadDeadline(time.Unix(1, 0))
	}
}

// readFailed ends the connection after a failed read: a timeout (or a
// shutdown) is answered with 421, anything else just closes.
func (c *Conn) readFailed(err error) {
	var ne net.Error
	switch {
	case c.srv.closing.Load() && !c.state.inTransaction():
		c.reply(421, EnhancedCode{4, 3, 2}, c.srv.hostname+" Service shutting down, closing connection")
	case errors.As(err, &ne) && ne.Timeout():
		c.reply(421, EnhancedCode{4, 4, 2}, c.srv.hostname+" Timeout exceeded, closing connection")
	case errors.Is(err, errTooManyErrors):
		// already answered
	default:
		return
	}
	c.closing = true
	c.writeDL = time.Now().Add(10 * time.Second)
	c.nc.SetWriteDeadline(c.writeDL)
	c.flush()
}

// handshake runs the TLS handshake of implicit TLS or STARTTLS, bounded by
// the command timeout. A failure closes the connection (RFC 3207 section
// 4.1 leaves no way to go on).
func (c *Conn) handshake(tc *tls.Conn) bool {
	ctx, cancel := context.WithTimeout(c.ctx, orDefault(c.srv.ReadTimeout, DefaultReadTimeout))
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		c.srv.logger().Info("smtp: TLS handshake failed", "remote", c.remote, "err", err)
		return false
	}
	st := tc.ConnectionState()
	c.mu.Lock()
	c.nc, c.tlsState = tc, &st
	c.mu.Unlock()
	return true
}

// execute runs one command line (CRLF removed).
func (c *Conn) execute(line []byte) {
	cmd, err := textproto.ParseCommand(line)
	if err != nil {
		c.replyParseError(err)
		return
	}
	verb := cmd.Verb
	switch verb {
	case textproto.VerbHELO, textproto.VerbEHLO:
		if c.srv.LMTP {
			verb = textproto.VerbUnknown // RFC 2033 section 4.1: LHLO only
		}
	case textproto.VerbLHLO:
		if !c.srv.LMTP {
			verb = textproto.VerbUnknown
		}
	}
	if verb == textproto.VerbUnknown {
		c.reply(500, EnhancedCode{5, 5, 2}, "Command unrecognized")
		return
	}
	if len(line)+2 > c.lineLimit(verb) {
		c.reply(500, EnhancedCode{5, 5, 6}, "Line too long")
		return
	}
	if !allowed[c.state][verb] {
		c.refuse(verb, cmd.Args)
		return
	}
	switch verb {
	case textproto.VerbHELO, textproto.VerbEHLO, textproto.VerbLHLO:
		c.handleHello(verb, cmd.Args)
	case textproto.VerbMAIL:
		c.handleMail(cmd.Args)
	case textproto.VerbRCPT:
		c.handleRcpt(cmd.Args)
	case textproto.VerbDATA:
		c.handleData(cmd.Args)
	case textproto.VerbBDAT:
		c.handleBDAT(cmd.Args)
	case textproto.VerbRSET:
		c.handleRset(cmd.Args)
	case textproto.VerbNOOP:
		c.reply(250, EnhancedCode{2, 0, 0}, "OK")
	case textproto.VerbQUIT:
		c.handleQuit()
	case textproto.VerbHELP:
		c.handleHelp()
	case textproto.VerbVRFY:
		c.handleVrfy(cmd.Args)
	case textproto.VerbEXPN:
		c.handleExpn(cmd.Args)
	case textproto.VerbSTARTTLS:
		c.handleStartTLS(cmd.Args)
	case textproto.VerbAUTH:
		c.handleAuth(cmd.Args)
	case textproto.VerbXCLIENT:
		c.handleXCLIENT(cmd.Args)
	default: // ETRN TURN ATRN SEND SOML SAML
		c.handleNotImplemented(verb)
	}
}

func (c *Conn) lineLimit(v textproto.Verb) int {
	switch v {
	case textproto.VerbMAIL:
		return c.mailLimit
	case textproto.VerbRCPT:
		return c.rcptLimit
	}
	return c.cmdLimit
}

// refuse answers a command the state table does not allow. A refused BDAT
// still carries its chunk: it is read and discarded so that it is never
// taken for commands.
func (c *Conn) refuse(v textproto.Verb, args []byte) {
	if v == textproto.VerbBDAT {
		if !c.skipChunk(args) {
			return
		}
	}
	if c.srv.LMTP && v == textproto.VerbDATA && c.state == stateMail {
		c.reply(554, EnhancedCode{5, 5, 1}, "No valid recipients") // RFC 2033 section 4.2
		return
	}
	c.reply(503, EnhancedCode{5, 5, 1}, refusal(c.state, v))
}

// resetTransaction ends any open transaction, telling the session.
func (c *Conn) resetTransaction() {
	if c.state.inTransaction() {
		c.session.Reset()
	}
	if c.state > stateGreeted {
		c.state = stateGreeted
	}
	clear(c.rcpts)
	c.rcpts = c.rcpts[:0]
}

// backendError answers a Session method's error, logging any that is not
// an *Error (its text is not sent).
func (c *Conn) backendError(op string, err error) {
	var se *Error
	if !errors.As(err, &se) {
		c.srv.logger().Warn("smtp: backend error", "op", op, "remote", c.remote, "err", err)
	}
	c.replyError(err)
}
