package smtp

import (
	"bufio"
	"errors"
	"log/slog"

	"github.com/postwire/postwire/textproto"
)

// errTooManyErrors ends a connection that reached Server.MaxErrors.
var errTooManyErrors = errors.New("smtp: too many errors")

// An outcome is what a command handler decided: the reply to send and
// whether the connection ends after it. Handlers return one and never
// write replies themselves; respond writes it, counts it towards the error
// limits and ends the connection when it must. The zero outcome sends
// nothing.
//
// The reply is, in this order of precedence: err (an *Error or a
// *textproto.ParseError as it is, any other error as 451 4.3.0), lines (a
// multi-line reply through the textproto encoder), or code, enh and text
// (one line whose text is a trusted constant or the server's host name,
// written without allocating).
type outcome struct {
	code  int
	enh   EnhancedCode
	text  string
	lines []string
	err   error
	// op names the Session method whose error err is, for the log; ""
	// for errors of the server's own.
	op string

	// close ends the connection once the reply is out.
	close bool
	// uncounted keeps an error reply that is no fault of the client's
	// (a limit of the server's, such as too many recipients) out of the
	// count of Server.MaxErrors.
	uncounted bool
	// authFailed counts the reply towards Server.MaxAuthFailures.
	authFailed bool
}

// isZero reports whether o is the zero outcome: nothing to send, nothing
// to end.
func (o outcome) isZero() bool {
	return o.code == 0 && o.err == nil && o.lines == nil && !o.close
}

// answer is the outcome of a one-line reply with trusted text.
func answer(code int, enh EnhancedCode, text string) outcome {
	return outcome{code: code, enh: enh, text: text}
}

// failure is the outcome of answering err (see outcome).
func failure(err error) outcome { return outcome{err: err} }

// backendFailure is the outcome of a Session method's error: sent as it
// is when it is an *Error, otherwise logged (at Warn, with op) and
// answered 451 4.3.0 without its text.
func backendFailure(op string, err error) outcome { return outcome{err: err, op: op} }

// closeAfter returns o with the connection to end after its reply.
func (o outcome) closeAfter() outcome {
	o.close = true
	return o
}

// hangUp is the outcome of ending the connection without a reply.
var hangUp = outcome{close: true}

// respond writes o's reply, counts it towards Server.MaxErrors and
// Server.MaxAuthFailures (sending 421 4.7.0 and closing once either is
// reached), and marks the connection to close when o says so. It is the
// one place that writes a command's final reply.
func (c *Conn) respond(o outcome) {
	code := c.writeOutcome(o)
	if code != 0 {
		c.lastCode = code
	}
	c.countError(code, o.uncounted)
	if o.authFailed {
		c.countAuthFailure()
	}
	if o.close {
		c.closing = true
	}
}

// writeOutcome writes o's reply, if any, and returns its code.
func (c *Conn) writeOutcome(o outcome) int {
	switch {
	case o.err != nil:
		return c.writeError(o.op, o.err)
	case o.lines != nil:
		return c.writeReply(textproto.Reply{Code: o.code, Enhanced: o.enh, Lines: o.lines})
	case o.code != 0:
		c.writeLine(o.code, o.enh, o.text)
	}
	return o.code
}

// writeLine writes a one-line reply whose text is a trusted constant (or
// the server's own host name): code, enhanced code unless switched off,
// text. It does not allocate.
func (c *Conn) writeLine(code int, enh EnhancedCode, text string) {
	if c.srv.DisableEnhancedStatusCodes {
		enh = EnhancedCode{}
	}
	w := c.writer()
	w.Write(textproto.AppendReplyLine(w.AvailableBuffer(), code, enh, text))
}

// writeReply writes r through the textproto encoder, which makes any text
// safe for the wire (a backend's, a peer's), and returns its code.
func (c *Conn) writeReply(r textproto.Reply) int {
	if c.srv.DisableEnhancedStatusCodes {
		r.Enhanced = EnhancedCode{}
	}
	w := c.writer()
	w.Write(textproto.AppendReply(w.AvailableBuffer(), &r))
	return r.Code
}

// writeError answers with err: an *Error or *textproto.ParseError as it
// is, anything else as 451 4.3.0 without its text (RFC 3463: 4.3.0 "other
// or undefined mail system status"), logged with op when op is set.
func (c *Conn) writeError(op string, err error) int {
	var se *Error
	var pe *textproto.ParseError
	switch {
	case errors.As(err, &se):
		return c.writeReply(se.Reply())
	case errors.As(err, &pe):
		return c.writeReply(pe.Reply())
	}
	if op != "" {
		c.log(slog.LevelWarn, "smtp: backend error not sent to the client", "op", op, "err", err)
	}
	c.writeLine(451, EnhancedCode{4, 3, 0}, "Requested action aborted: local error in processing")
	return 451
}

// countError counts an error reply, and ends the connection with 421 4.7.0
// once Server.MaxErrors is reached. A 421 is the server's own farewell and
// is not counted.
func (c *Conn) countError(code int, uncounted bool) {
	if code < 400 || code == 421 || uncounted {
		return
	}
	c.errors++
	limit := setting(c.srv.MaxErrors, DefaultMaxErrors)
	if limit > 0 && c.errors >= limit && !c.closing {
		c.log(slog.LevelInfo, "smtp: too many errors, closing connection", "errors", c.errors)
		c.writeLine(421, EnhancedCode{4, 7, 0}, c.srv.hostname+" Too many errors, closing connection")
		c.closing = true
	}
}

// countAuthFailure counts a failed AUTH exchange (RFC 4954 section 6) and
// ends the connection with 421 4.7.0 once Server.MaxAuthFailures is
// reached.
func (c *Conn) countAuthFailure() {
	c.authFailures++
	limit := setting(c.srv.MaxAuthFailures, DefaultMaxAuthFailures)
	if limit > 0 && c.authFailures >= limit && !c.closing {
		c.log(slog.LevelInfo, "smtp: too many AUTH failures, closing connection", "failures", c.authFailures)
		c.writeLine(421, EnhancedCode{4, 7, 0}, c.srv.hostname+" Too many authentication failures, closing connection")
		c.closing = true
	}
}

// sendNow writes an intermediate reply that the client waits for before it
// goes on (354 before a body, 334 in AUTH, 220 before a TLS handshake) and
// flushes it with every reply buffered before it.
func (c *Conn) sendNow(code int, enh EnhancedCode, text string) error {
	c.writeLine(code, enh, text)
	c.lastCode = code
	return c.flush()
}

// writer returns the connection's write buffer, taking one from the pool
// when none is held. Replies accumulate there until flush: RFC 2920
// section 3.2 has the server send the replies to a group of pipelined
// commands together.
func (c *Conn) writer() *bufio.Writer {
	if c.w == nil {
		c.w = c.srv.writerPool.Get().(*bufio.Writer)
		c.w.Reset(c.nc)
	}
	return c.w
}

// flush sends the buffered replies and gives the buffer back to the pool,
// so that a connection waiting for its client holds none. A failed write
// ends the connection.
func (c *Conn) flush() error {
	w := c.w
	if w == nil {
		return nil
	}
	var err error
	if w.Buffered() > 0 {
		c.setWriteDeadline()
		err = w.Flush()
	}
	w.Reset(nil)
	c.srv.writerPool.Put(w)
	c.w = nil
	if err != nil {
		c.closing = true
	}
	return err
}
