package smtp

// This file judges one attempt of the pool: sent, to be tried on another
// connection, of unknown outcome, or failed; and keeps the body so that it
// can be sent again.

import (
	"errors"
	"io"
)

// UnknownOutcomeError reports a message whose final dot (or BDAT LAST)
// was written and whose reply never came: the connection broke, timed out
// or the context ended. The server may have delivered it (RFC 1047, RFC
// 5321 section 4.1.1.4), so the pool does not try it again; sending it
// again risks a duplicate, not sending it a loss. errors.Is(err,
// ErrMaybeDelivered) is true; errors.As does not find the 451 of the
// lost connection, so that a queue that retries temporary failures does
// not take this one for one by mistake.
type UnknownOutcomeError struct {
	Addr  string // the host the message went to
	Cause error  // what ended the wait for the reply
}

// Error says that the outcome is unknown and why.
func (e *UnknownOutcomeError) Error() string {
	return "smtp: outcome unknown, the message may have been delivered (RFC 1047) by " + e.Addr + ": " + e.Cause.Error()
}

// Is reports whether target is ErrMaybeDelivered.
func (e *UnknownOutcomeError) Is(target error) bool { return target == ErrMaybeDelivered }

type poolKind int

const (
	poolSent    poolKind = iota // accepted for at least one recipient
	poolRetry                   // nothing accepted, the connection is gone: try another
	poolUnknown                 // the final dot left, no reply came
	poolFailed                  // refused, or an error the pool does not retry
)

// poolOutcome is the verdict on one attempt.
type poolOutcome struct {
	kind    poolKind
	keep    bool // the connection may carry another message
	lost    bool // the connection broke or timed out
	closing bool // a 421 reply: the server is closing the connection
	addr    string
}

// poolJudge judges an attempt on c: res and err from Client.Send, body
// what it read of the message.
func poolJudge(c *Client, res *SendResult, err error, body *poolBody) poolOutcome {
	o := poolOutcome{lost: c.err != nil, closing: poolClosing(res, err)}
	o.keep = !o.lost && !o.closing
	switch {
	case err == nil:
		o.kind = poolSent
	case acceptedBySome(err):
		// The server took it for some recipients: sent, and the
		// others' refusals go back to the caller, never retried.
		o.kind = poolSent
	case body.err != nil:
		o.kind = poolFailed // the caller's reader failed: no other connection will do better
	case o.lost && body.eof:
		o.kind = poolUnknown
	case body.eof:
		// The body went and the server answered: a 421 to the final dot
		// is its verdict, for the caller to act on like any 4xx.
		o.kind = poolFailed
	case o.lost || o.closing:
		o.kind = poolRetry
	default:
		o.kind = poolFailed
	}
	return o
}

// acceptedBySome reports whether err is a *RecipientsError of a message
// that some recipient took.
func acceptedBySome(err error) bool {
	var partial *RecipientsError
	return errors.As(err, &partial) && partial.Accepted > 0
}

// poolClosing reports a 421 reply (RFC 5321 section 3.8) to the message or
// to one of its recipients.
func poolClosing(res *SendResult, err error) bool {
	var e *Error
	if errors.As(err, &e) && e.Code == 421 && !poolLost(err) {
		return true
	}
	if res == nil {
		return false
	}
	for _, r := range res.Recipients {
		if errors.As(r.Err, &e) && e.Code == 421 && !poolLost(r.Err) {
			return true
		}
	}
	return false
}

// poolLost reports an error that is the client's lost connection, not a
// reply.
func poolLost(err error) bool {
	var lost *clientLostError
	return errors.As(err, &lost)
}

// poolRefusal reports an error that is a reply of the server rather than
// a lost connection or an ended context.
func poolRefusal(err error) bool {
	var e *Error
	return errors.As(err, &e) && !poolLost(err)
}

// result returns what Pool.Send returns for the last attempt.
func (o poolOutcome) result(res *SendResult, err error) (*SendResult, error) {
	if o.kind != poolUnknown {
		return res, err
	}
	ue := &UnknownOutcomeError{Addr: o.addr, Cause: err}
	if res != nil {
		res.Err = ue
		for i := range res.Recipients {
			if r := &res.Recipients[i]; r.Err != nil && !poolRefusal(r.Err) {
				r.Err = ue
			}
		}
	}
	return res, ue
}

// poolBody reads the message for one attempt and remembers whether the
// client read it to the end (after which the final dot may have left)
// and how to go back to its start.
type poolBody struct {
	r      io.Reader
	seeker io.Seeker // nil when r cannot go back
	start  int64
	n      int64 // octets read in this attempt
	eof    bool
	err    error // an error of r other than io.EOF
}

func newPoolBody(r io.Reader) (*poolBody, error) {
	if r == nil {
		return nil, errors.New("smtp: Pool.Send needs a body")
	}
	b := &poolBody{r: r}
	if s, ok := r.(io.Seeker); ok {
		if start, err := s.Seek(0, io.SeekCurrent); err == nil {
			b.seeker, b.start = s, start
		}
	}
	return b, nil
}

// begin starts an attempt.
func (b *poolBody) begin() {
	b.n, b.eof, b.err = 0, false, nil
}

func (b *poolBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil:
		b.err = err
	}
	return n, err
}

// rewind goes back to the start of the body for another attempt: nothing
// to do when nothing was read, an error when something was and r is no
// io.Seeker.
func (b *poolBody) rewind() error {
	if b.n == 0 && !b.eof {
		return nil
	}
	if b.seeker == nil {
		return errors.New("smtp: the body was partly read and cannot be sent again")
	}
	_, err := b.seeker.Seek(b.start, io.SeekStart)
	return err
}
