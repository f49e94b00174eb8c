package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"runtime/debug"
	"time"

	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/textproto"
)

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
	if addrInPrefixes(c.remote, s.XCLIENTTrusted, false) {
		c.xclient = &xclientState{}
	}
	if tc, ok := c.nc.(*tls.Conn); ok {
		if !c.handshake(tc) {
			return
		}
	}
	if !c.openSession("") {
		c.flush()
		return
	}
	s.logger().Debug("smtp: connection opened", "remote", c.remote)
	defer s.logger().Debug("smtp: connection closed", "remote", c.remote)
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

// openSession asks the Backend for the connection's session. When it
// refuses, the client gets the Backend's *Error as it is, or 421 4.3.0 for
// any other error (which is logged, never sent: it may hold internals);
// the connection is then to close and openSession returns false. after
// says when, for the log: "" at connect, " after STARTTLS", ...
func (c *Conn) openSession(after string) bool {
	session, err := c.srv.Backend.NewSession(c)
	if err != nil {
		var se *Error
		if errors.As(err, &se) {
			c.replyError(err)
		} else {
			c.srv.logger().Error("smtp: Backend.NewSession failed"+after, "remote", c.remote, "err", err)
			c.reply(421, EnhancedCode{4, 3, 0}, c.srv.hostname+" Service not available, closing connection")
		}
		c.closing = true
		return false
	}
	c.session = session
	return true
}

// startOver takes the connection back to where it was after the greeting,
// as STARTTLS (RFC 3207 section 4.2) and XCLIENT require: the session is
// logged out, the transaction, HELO name, extensions and login forgotten
// (but for a login XCLIENT announced), and a new session opened. It
// reports whether the Backend gave one (see openSession). update, when
// not nil, runs under c.mu before the new session is asked for, so that
// the Backend sees what it changes (XCLIENT's addresses).
func (c *Conn) startOver(after string, update func()) bool {
	c.resetTransaction()
	if err := c.session.Logout(); err != nil {
		c.srv.logger().Warn("smtp: Session.Logout failed", "err", err)
	}
	c.session = nil
	c.state = stateConnected
	c.exts = extensions.Set{}
	c.authFailures = 0
	c.mu.Lock()
	c.helo, c.esmtp = "", false
	if update != nil {
		update()
	}
	c.identity, c.authMech = xclientLogin(c.xclient)
	c.mu.Unlock()
	c.setLimits()
	return c.openSession(after)
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
		c.handleQuit(cmd.Args)
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
