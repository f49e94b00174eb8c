package smtp

import (
	"bytes"
	"errors"
	"io"
	"net"

	"github.com/postwire/postwire/dotstuff"
)

// The body rules the body reader enforces, whatever the session does.
var (
	// errTooBig: the message passes Server.MaxMessageBytes.
	errTooBig = errors.New("smtp: message exceeds the size limit")
	// errNUL: a NUL octet in a body that is not BINARYMIME.
	errNUL = errors.New("smtp: NUL octet in message body")
)

// limitReader is the body as the session reads it. It counts the body
// and fails with errTooBig past Server.MaxMessageBytes, and with errNUL at
// a NUL octet unless the body is BINARYMIME or Server.AllowNUL is set,
// never giving out an octet beyond either.
type limitReader struct {
	c       *Conn
	r       io.Reader
	remain  int64 // octets still allowed; < 0 means no limit
	noNUL   bool
	read    int64 // octets given out, for Hooks.Message
	err     error
	ruleErr error // errTooBig or errNUL once a rule is broken
}

func (l *limitReader) reset(r io.Reader) {
	l.r, l.err, l.ruleErr, l.remain, l.read = r, nil, nil, -1, 0
	if m := l.c.srv.maxMessageBytes(); m > 0 {
		l.remain = m
	}
	l.noNUL = !l.c.srv.AllowNUL && l.c.mailOpts.Body != BodyBinaryMIME
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if l.remain >= 0 && int64(len(p)) > l.remain+1 {
		p = p[:l.remain+1]
	}
	n, err := l.r.Read(p)
	if l.noNUL {
		if i := bytes.IndexByte(p[:n], 0); i >= 0 {
			return l.broken(i, errNUL)
		}
	}
	if l.remain >= 0 {
		if int64(n) > l.remain {
			return l.broken(int(l.remain), errTooBig)
		}
		l.remain -= int64(n)
	}
	l.read += int64(n)
	if err != nil {
		l.err = err
	}
	return n, err
}

// broken ends the body at a broken rule: the n octets before the
// offence go out, then rule is the error of every later read.
func (l *limitReader) broken(n int, rule error) (int, error) {
	l.read += int64(n)
	l.remain, l.err, l.ruleErr = 0, rule, rule
	return n, nil
}

// handleData answers DATA (RFC 5321 section 4.1.1.4): 354, then the body
// through dotstuff.Reader to Session.Data, then one reply, or one per
// recipient in LMTP (RFC 2033 section 4.2). Whatever happens to the body,
// it is read to its terminating CRLF.CRLF, so that none of it is ever
// taken for commands.
func (c *Conn) handleData(args []byte) outcome {
	if len(args) > 0 {
		return answer(501, EnhancedCode{5, 5, 4}, "Syntax: DATA takes no argument")
	}
	if c.sendNow(354, EnhancedCode{}, "Start mail input; end with <CRLF>.<CRLF>") != nil {
		return hangUp
	}
	c.watchMessage(false)

	c.beginBody()
	c.dot.Reset(c.r)
	c.body.reset(&c.dot)
	err := c.deliver()
	bodyErr := c.dot.Drain()
	c.endBody()
	if bodyErr == nil {
		bodyErr = c.body.ruleErr
	}
	return c.finishMessage(err, bodyErr)
}

// deliver hands the body to the session, LMTPData when it has it in LMTP
// mode.
func (c *Conn) deliver() error {
	if c.srv.LMTP {
		c.status.reset()
		if ls, ok := c.session.(LMTPSession); ok {
			c.status.active = true
			return ls.LMTPData(c.ctx, &c.body, &c.status)
		}
	}
	return c.session.Data(c.ctx, &c.body)
}

// finishMessage answers the end of a DATA body or the last BDAT chunk and
// ends the transaction. err is the Session's; bodyErr is what broke the
// body, if anything: a rule of the server's, which decides the reply
// whatever the session said, or a network failure, which ends the
// connection.
//
// The rules: over the size limit 552 5.3.4 (RFC 1870 section 6.3); a NUL
// octet 550 5.6.0 (RFC 2045 section 2.8 and RFC 6152 allow none in 7bit
// and 8bit data); a bare CR or LF 550 5.5.2 (as Postfix answers it); a
// line over
// Server.MaxBodyLineLength 500 5.5.6 (RFC 5321 section 4.5.3.1.6, "line
// too long").
func (c *Conn) finishMessage(err, bodyErr error) outcome {
	switch {
	case bodyErr == nil:
	case errors.Is(bodyErr, errTooBig):
		err = &Error{552, EnhancedCode{5, 3, 4}, "Message size exceeds fixed maximum message size"}
	case errors.Is(bodyErr, errNUL):
		err = &Error{550, EnhancedCode{5, 6, 0}, "NUL octet in message body; send it as BINARYMIME"}
	case errors.Is(bodyErr, dotstuff.ErrBareLineEnding):
		err = &Error{550, EnhancedCode{5, 5, 2}, "Bare CR or LF in message body"}
	case errors.Is(bodyErr, dotstuff.ErrLineTooLong):
		err = &Error{500, EnhancedCode{5, 5, 6}, "Message line too long"}
	default:
		c.endTransaction()
		return c.readFailure(asTimeout(bodyErr))
	}

	if c.srv.LMTP {
		return c.replyPerRecipient(err, bodyErr != nil)
	}
	if accepted, ok := acceptedWith(err); ok && bodyErr == nil {
		c.messageAccepted()
		return failure(accepted)
	}
	if err != nil {
		c.endTransaction()
		if bodyErr != nil {
			return failure(err)
		}
		return backendFailure("DATA", err)
	}
	c.messageAccepted()
	return answer(250, EnhancedCode{2, 0, 0}, "OK: message accepted")
}

// acceptedWith reports whether err is a Session's acceptance with a reply
// of its own: an *Error whose code is 250 (RFC 5321 section 4.3.2, the
// reply to the end of DATA), such as the reply a before-queue proxy got
// from its upstream.
func acceptedWith(err error) (*Error, bool) {
	if err == nil {
		return nil, false // before se, whose address escapes: no allocation on success
	}
	var se *Error
	if errors.As(err, &se) && se.Code == 250 {
		return se, true
	}
	return nil, false
}

// asTimeout keeps a timeout recognisable after the body reader wrapped it.
func asTimeout(err error) error {
	var ne net.Error
	if errors.As(err, &ne) {
		return ne
	}
	return err
}

// replyPerRecipient answers an LMTP body with one reply per accepted
// recipient, in the order accepted (RFC 2033 section 4.2), and ends the
// transaction. A broken body fails them all.
func (c *Conn) replyPerRecipient(err error, bodyBroken bool) outcome {
	accepted := false
	for i := range c.rcpts {
		e := err
		if !bodyBroken && c.status.active && c.status.set[i] {
			e = c.status.errs[i]
		}
		if a, ok := acceptedWith(e); ok {
			accepted = true
			c.respond(failure(a))
		} else if e == nil {
			accepted = true
			c.respond(answer(250, EnhancedCode{2, 0, 0}, "OK: message delivered"))
		} else {
			c.respond(backendFailure("LMTP DATA", e))
		}
	}
	if accepted {
		c.messageAccepted()
	} else {
		c.endTransaction()
	}
	return outcome{}
}

// statusCollector keeps LMTPData's status per recipient, by index into
// Conn.rcpts.
type statusCollector struct {
	c      *Conn
	active bool
	set    []bool
	errs   []error
}

func (s *statusCollector) reset() {
	n := len(s.c.rcpts)
	s.active = false
	s.set = append(s.set[:0], make([]bool, n)...)
	clear(s.errs)
	s.errs = append(s.errs[:0], make([]error, n)...)
}

// SetStatus implements StatusCollector: it records err for the first
// accepted recipient equal to rcptTo that has no status yet.
func (s *statusCollector) SetStatus(rcptTo string, err error) {
	for i, r := range s.c.rcpts {
		if r == rcptTo && i < len(s.set) && !s.set[i] {
			s.set[i], s.errs[i] = true, err
			return
		}
	}
}
