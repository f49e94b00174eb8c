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

// serve runs the connection from greeting to close, in named steps: the
// PROXY header when one is expected, the TLS handshake of implicit TLS, a
// session from the Backend, the greeting, then one command after another
// until an outcome or a failed read ends the connection.
func (c *Conn) serve() {
	s := c.srv
	defer s.forget(c)
	defer c.finish()
	defer c.recoverPanic()

	if s.ProxyProtocol {
		if err := c.readProxyHeader(); err != nil {
			c.log(slog.LevelWarn, "smtp: PROXY protocol header refused", "err", err)
			return
		}
	}
	if !s.admitFrom(c) {
		c.log(slog.LevelInfo, "smtp: too many connections from one address")
		c.respond(answer(421, EnhancedCode{4, 7, 0}, s.hostname+" Too many connections from your address, try again later").closeAfter())
		c.flush()
		return
	}
	if addrInPrefixes(c.remote, s.XCLIENTTrusted, false) {
		c.xclient = &xclientState{}
	}
	if hook := s.Hooks.ConnOpened; hook != nil {
		c.opened = time.Now()
		hook(c)
		if closed := s.Hooks.ConnClosed; closed != nil {
			defer func() { closed(c, time.Since(c.opened)) }()
		}
	} else if closed := s.Hooks.ConnClosed; closed != nil {
		c.opened = time.Now()
		defer func() { closed(c, time.Since(c.opened)) }()
	}
	if tc, ok := c.nc.(*tls.Conn); ok {
		if !c.handshake(tc) {
			return
		}
	}
	if refused := c.openSession(""); refused.close {
		c.respond(refused)
		c.flush()
		return
	}

	c.log(slog.LevelDebug, "smtp: connection opened")
	defer c.log(slog.LevelDebug, "smtp: connection closed")
	if c.spokeFirst() {
		c.respond(c.foreign("octets before the greeting"))
		c.flush()
		return
	}
	c.respond(c.greeting())
	for !c.closing {
		c.serveCommand()
	}
	c.flush()
}

// serveCommand reads the next command line, runs it and answers it,
// telling Hooks.Command when it is set.
func (c *Conn) serveCommand() {
	line, refused, err := c.readCommand()
	switch {
	case err != nil:
		c.respond(c.readFailure(err))
		return
	case line == nil:
		c.respond(refused) // too long or malformed: refused as read
		return
	}

	hook := c.srv.Hooks.Command
	if hook == nil {
		c.respond(c.execute(line))
		c.reportMessage()
		return
	}
	start := time.Now()
	cmd, _ := textproto.ParseCommand(line) // before execute: line lives until the next read
	c.lastCode = 0
	c.respond(c.execute(line))
	c.reportMessage()
	hook(c, cmd.Verb.String(), c.lastCode, time.Since(start))
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
// RFC 2033 section 4 for LMTP).
func (c *Conn) greeting() outcome {
	kind := " ESMTP Service ready"
	if c.srv.LMTP {
		kind = " LMTP Service ready"
	}
	return answer(220, EnhancedCode{}, c.srv.hostname+kind)
}

// finish releases everything the connection holds.
func (c *Conn) finish() {
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
