package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"runtime/debug"
	"time"

	"github.com/postwire/postwire/textproto"
)

// serve runs the connection from greeting to close: open, then one
// command after another until an outcome or a failed read ends it. Its
// own frame stays small, since an idle connection is parked below it.
func (c *Conn) serve() {
	defer c.srv.forget(c)
	defer c.finish()
	defer c.recoverPanic()

	if !c.open() {
		return
	}
	for !c.closing {
		c.serveCommand()
	}
	c.flush()
}

// open takes the connection to its first command, in named steps: the
// PROXY header when one is expected, the per-address limit, the TLS
// handshake of implicit TLS, a session from the Backend, the pregreet
// check, the greeting. It reports false when the connection is to end
// instead, its last reply (if any) sent.
func (c *Conn) open() bool {
	s := c.srv
	if s.ProxyProtocol {
		if err := c.readProxyHeader(); err != nil {
			c.log(slog.LevelWarn, "smtp: PROXY protocol header refused", "err", err)
			return false
		}
	}
	if !s.admitFrom(c) {
		c.log(slog.LevelInfo, "smtp: too many connections from one address")
		return c.refuseOpening(answer(421, EnhancedCode{4, 7, 0}, s.hostname+" Too many connections from your address, try again later"))
	}
	if addrInPrefixes(c.remote, s.XCLIENTTrusted, false) {
		c.xclient = &xclientState{}
	}
	if s.Hooks.ConnOpened != nil || s.Hooks.ConnClosed != nil {
		c.opened = time.Now() // finish tells ConnClosed
	}
	if hook := s.Hooks.ConnOpened; hook != nil {
		hook(c)
	}

	if tc, ok := c.nc.(*tls.Conn); ok {
		if !c.handshake(tc) {
			return false
		}
	}
	if refused := c.openSession(""); refused.close {
		return c.refuseOpening(refused)
	}
	c.log(slog.LevelDebug, "smtp: connection opened")
	if c.spokeFirst() {
		return c.refuseOpening(c.foreign("octets before the greeting"))
	}
	c.respond(c.greeting())
	return true
}

// refuseOpening sends the reply that turns the connection away before
// its greeting, and reports false.
func (c *Conn) refuseOpening(o outcome) bool {
	c.respond(o.closeAfter())
	c.flush()
	return false
}

// serveCommand reads the next command line, runs it and answers it.
func (c *Conn) serveCommand() {
	line, refused, err := c.readCommand()
	switch {
	case err != nil:
		c.respond(c.readFailure(err))
	case line == nil:
		c.respond(refused) // too long or malformed: refused as read
	case c.srv.Hooks.Command != nil:
		c.serveObserved(line)
	default:
		c.respond(c.execute(line))
		c.reportMessage()
	}
}

// serveObserved runs and answers line as serveCommand does, and tells
// Hooks.Command.
func (c *Conn) serveObserved(line []byte) {
	start := time.Now()
	cmd, _ := textproto.ParseCommand(line) // before execute: line lives until the next read
	c.lastCode = 0
	c.respond(c.execute(line))
	c.reportMessage()
	c.srv.Hooks.Command(c, cmd.Verb.String(), c.lastCode, time.Since(start))
}

// recoverPanic turns a panic in a handler or the Session into 421 4.3.0
// and a log line, so that it never reaches the Server's goroutine.
func (c *Conn) recoverPanic() {
	v := recover()
	if v == nil {
		return
	}
	c.log(slog.LevelError, "smtp: panic serving connection", "panic", v, "stack", string(debug.Stack()))
	c.respond(answer(421, EnhancedCode{4, 3, 0}, c.srv.hostname+" Internal error, closing connection").closeAfter())
	c.flush()
}

// openSession asks the Backend for the connection's session. When it
// refuses, the outcome is the Backend's *Error as it is, or 421 4.3.0 for
// any other error (which is logged, never sent: it may hold internals),
// and the connection is to close; otherwise it is the zero outcome. after
// says when, for the log: "" at connect, " after STARTTLS", ...
func (c *Conn) openSession(after string) outcome {
	session, err := c.srv.Backend.NewSession(c)
	if err == nil {
		c.session = session
		return outcome{}
	}
	var se *Error
	if errors.As(err, &se) {
		return failure(err).closeAfter()
	}
	c.log(slog.LevelError, "smtp: Backend.NewSession failed"+after, "err", err)
	return answer(421, EnhancedCode{4, 3, 0}, c.srv.hostname+" Service not available, closing connection").closeAfter()
}

// greeting is the 220 that opens the session (RFC 5321 section 4.2,
// RFC 2033 section 4 for LMTP), with Server.GreetingBanner when set.
func (c *Conn) greeting() outcome {
	kind := " ESMTP Service ready"
	switch {
	case c.srv.banner != "":
		kind = " " + c.srv.banner
	case c.srv.LMTP:
		kind = " LMTP Service ready"
	}
	return answer(220, EnhancedCode{}, c.srv.hostname+kind)
}

// finish releases everything the connection holds, and tells
// Hooks.ConnClosed.
func (c *Conn) finish() {
	if hook := c.srv.Hooks.ConnClosed; hook != nil && !c.opened.IsZero() {
		defer func() { hook(c, time.Since(c.opened)) }()
	}
	if c.session != nil {
		defer c.log(slog.LevelDebug, "smtp: connection closed")
	}
	if c.session != nil {
		func() {
			defer func() {
				if v := recover(); v != nil {
					c.log(slog.LevelError, "smtp: panic in Session.Logout", "panic", v)
				}
			}()
			if err := c.session.Logout(); err != nil {
				c.log(slog.LevelWarn, "smtp: Session.Logout failed", "err", err)
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

// shutdownDeadline is the read deadline, long past, with which Shutdown
// wakes an idle connection.
var shutdownDeadline = time.Unix(1, 0)

// interruptIfIdle is Shutdown's hook: a connection waiting for a command
// outside any transaction is woken so that it says 421 4.3.2 and closes.
func (c *Conn) interruptIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle {
		c.interrupted = true
		c.raw.SetReadDeadline(shutdownDeadline)
	}
}

// readFailure is the outcome of a failed read: a timeout (or a shutdown)
// is answered with 421, anything else just closes.
func (c *Conn) readFailure(err error) outcome {
	var ne net.Error
	var farewell outcome
	switch {
	case c.srv.closing.Load() && !c.state.inTransaction():
		farewell = answer(421, EnhancedCode{4, 3, 2}, c.srv.hostname+" Service shutting down, closing connection")
	case errors.As(err, &ne) && ne.Timeout():
		farewell = answer(421, EnhancedCode{4, 4, 2}, c.srv.hostname+" Timeout exceeded, closing connection")
	default:
		return hangUp
	}
	return farewell.closeAfter()
}

// handshake runs the TLS handshake of implicit TLS or STARTTLS, bounded by
// the command timeout. A failure closes the connection (RFC 3207 section
// 4.1 leaves no way to go on).
func (c *Conn) handshake(tc *tls.Conn) bool {
	ctx := c.ctx
	if timeout := setting(c.srv.ReadTimeout, DefaultReadTimeout); timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		c.log(slog.LevelInfo, "smtp: TLS handshake failed", "err", err)
		if hook := c.srv.Hooks.TLSHandshake; hook != nil {
			hook(c, nil, err)
		}
		return false
	}
	st := tc.ConnectionState()
	c.mu.Lock()
	c.nc, c.tlsState = tc, &st
	c.mu.Unlock()
	if hook := c.srv.Hooks.TLSHandshake; hook != nil {
		hook(c, &st, nil)
	}
	return true
}
