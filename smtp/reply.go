package smtp

import (
	"bufio"
	"errors"

	"github.com/postwire/postwire/textproto"
)

// errTooManyErrors ends a connection that reached Server.MaxErrors.
var errTooManyErrors = errors.New("smtp: too many errors")

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
// so that a connection waiting for its client holds none.
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

// reply writes a one-line reply whose text is a trusted constant (or the
// server's own host name): code, enhanced code unless switched off, text.
// It does not allocate. Error replies count towards Server.MaxErrors.
func (c *Conn) reply(code int, enh EnhancedCode, text string) {
	w := c.writer()
	b := w.AvailableBuffer()
	b = appendCode(b, code)
	b = append(b, ' ')
	if enh != (EnhancedCode{}) && !c.srv.DisableEnhancedStatusCodes {
		b = appendEnhanced(b, enh)
		b = append(b, ' ')
	}
	b = append(b, text...)
	b = append(b, '\r', '\n')
	w.Write(b)
	c.countError(code)
}

// writeReply writes r through the textproto encoder, which makes any text
// safe for the wire (a backend's, a peer's).
func (c *Conn) writeReply(r textproto.Reply) {
	if c.srv.DisableEnhancedStatusCodes {
		r.Enhanced = EnhancedCode{}
	}
	w := c.writer()
	w.Write(textproto.AppendReply(w.AvailableBuffer(), &r))
	c.countError(r.Code)
}

// replyError answers with err: an *Error or *textproto.ParseError as it
// is, anything else as 451 4.3.0 without its text (RFC 3463: 4.3.0 "other
// or undefined mail system status").
func (c *Conn) replyError(err error) {
	var se *Error
	var pe *textproto.ParseError
	switch {
	case errors.As(err, &se):
		c.writeReply(se.Reply())
	case errors.As(err, &pe):
		c.writeReply(pe.Reply())
	default:
		c.reply(451, EnhancedCode{4, 3, 0}, "Requested action aborted: local error in processing")
	}
}

// replyParseError answers a syntax error found by textproto.
func (c *Conn) replyParseError(err error) { c.replyError(err) }

// countError counts an error reply, and ends the connection with 421 4.7.0
// once Server.MaxErrors is reached.
func (c *Conn) countError(code int) {
	if code < 400 || code == 421 {
		return
	}
	c.errors++
	limit := orDefault(c.srv.MaxErrors, DefaultMaxErrors)
	if limit > 0 && c.errors >= limit && !c.closing {
		c.closing = true
		c.reply(421, EnhancedCode{4, 7, 0}, c.srv.hostname+" Too many errors, closing connection")
	}
}

// appendCode appends a three-digit reply code.
func appendCode(b []byte, code int) []byte {
	return append(b, byte('0'+code/100%10), byte('0'+code/10%10), byte('0'+code%10))
}

// appendEnhanced appends class.subject.detail (RFC 3463 section 2).
func appendEnhanced(b []byte, e EnhancedCode) []byte {
	b = appendSmall(b, e[0])
	b = append(b, '.')
	b = appendSmall(b, e[1])
	b = append(b, '.')
	return appendSmall(b, e[2])
}

// appendSmall appends a non-negative number of at most three digits, as
// the parts of an enhanced code are.
func appendSmall(b []byte, n int) []byte {
	switch {
	case n < 0:
		return append(b, '0')
	case n < 10:
		return append(b, byte('0'+n))
	case n < 100:
		return append(b, byte('0'+n/10), byte('0'+n%10))
	}
	return append(b, byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10))
}
