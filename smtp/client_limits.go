package smtp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/postwire/postwire/internal/ascii"
)

// This file is Send: one message over as many transactions as the server's
// limits ask for. LIMITS (RFC 9422 section 4) caps the recipients of a
// transaction (RCPTMAX), their domains (RCPTDOMAINMAX) and the
// transactions of a session (MAILMAX); a 452 "too many recipients" reply
// asks for the rest in a further transaction (RFC 5321 section
// 4.5.3.1.10).

// ErrMailMax is wrapped by the error of a recipient Send could not offer
// because the connection has carried as many transactions as the server's
// LIMITS MAILMAX allows (RFC 9422 section 4.2): send the rest over a new
// connection. MailMaxReached tells beforehand.
var ErrMailMax = errors.New("smtp: the server's LIMITS MAILMAX is reached on this connection; reconnect to send more")

// MailMaxReached reports whether the connection has carried as many
// transactions as the server's LIMITS MAILMAX allows (RFC 9422 section
// 4.2); Send then sends nothing and the caller should dial again.
func (c *Client) MailMaxReached() bool {
	l, _ := c.ext.Limits()
	return l.MailMax > 0 && c.mails >= l.MailMax
}

// Send sends one message: MAIL FROM, a RCPT TO for each recipient, then
// the body read from body, with DATA or, unless DialOptions.DisableChunking
// is set, or when the body is BINARYMIME, with BDAT chunks (RFC 3030).
//
// When the server offers PIPELINING (RFC 2920) and it is not disabled,
// MAIL, every RCPT and DATA (or the first BDAT chunk) leave in one write
// and the replies are read afterwards; otherwise each command waits for
// its reply. When every recipient is refused no body is sent (after a
// pipelined DATA that the server answered 354 anyway, an empty body ends
// the command, as RFC 2920 section 3.1 asks).
//
// Everything is checked before anything is written. A domain in U-labels
// goes as A-labels when the local part is ASCII (RFC 6531 section 3.2),
// so that only a non-ASCII local part needs SMTPUTF8. A body known in
// advance (a *bytes.Reader, *strings.Reader or *bytes.Buffer) is scanned:
// 8-bit octets add BODY=8BITMIME when the server offers it and are refused
// (ErrBodyNotAllowed) when it does not (RFC 6152 section 3), NUL octets
// need BODY=BINARYMIME, and its size goes as SIZE= when the server offers
// SIZE, refused when over the server's limit (RFC 1870 section 6). A
// streamed body is held to MailOptions.Body ("" means 7-bit): an octet it
// forbids, found while sending, abandons the transaction by closing the
// connection, so that the server never accepts it.
//
// The server's LIMITS (RFC 9422) are honoured: the recipients are split
// over transactions of the same message of at most RCPTMAX recipients
// and RCPTDOMAINMAX domains, and recipients refused with 452 4.5.3 (too
// many recipients) go again in a further transaction while the previous
// one was accepted for someone (RFC 5321 section 4.5.3.1.10). A further
// transaction reads the body again: body must then be an io.Seeker or a
// *bytes.Buffer, else the recipients left get an error wrapping
// ErrNotSent. Once MAILMAX transactions were sent, the recipients left get
// an error wrapping ErrMailMax: send them over a new connection.
//
// The error is nil only when the message was accepted for every recipient
// (in LMTP mode: delivered to each). When it was accepted for some only,
// the error is a *RecipientsError listing the others, and Accepted counts
// those who have the message: never send it to them again. When it was
// accepted for nobody, the error is the MAIL refusal, the joined
// refusals of the recipients, or the refusal of the body, each wrapping
// an *Error. SendResult.Recipients holds every recipient's outcome in all
// these cases. A malformed recipient makes Send send nothing: the error
// joins the malformed ones (ErrBadAddress), and the result gives each
// recipient its error (the others ErrNotSent). A nil result means nothing
// was sent because the rest of the envelope cannot be: the reverse-path,
// an option the server did not advertise, the body. A connection lost on
// the way yields an error that errors.As turns into a 451 *Error (RFC
// 5321 section 3.8): the message was not sent to the recipients without a
// nil Err and may be tried again for them.
//
// Send costs two round trips with DATA (the body may only follow the 354)
// and one with BDAT; SendMany pipelines across messages for bulk sending.
//
// The body is streamed: memory use does not grow with its size. Unless
// the body is BINARYMIME it is dot-stuffed for DATA and, for both DATA and
// BDAT, bare CR and LF become CRLF.
func (c *Client) Send(ctx context.Context, env *Envelope, body io.Reader) (*SendResult, error) {
	if env == nil || len(env.To) == 0 {
		return nil, errors.New("smtp: Send needs at least one recipient")
	}
	if env.RcptOptions != nil && len(env.RcptOptions) != len(env.To) {
		return nil, errors.New("smtp: Envelope.RcptOptions must be nil or match To")
	}
	if err := c.hello(ctx); err != nil {
		return nil, err
	}
	if res, err := c.checkRecipients(env); err != nil {
		return res, err
	}
	if c.MailMaxReached() {
		return nil, ErrMailMax
	}
	return c.sendSplit(ctx, env, body)
}

// sendSplit sends env in as many transactions as the server's limits and
// its 452 replies ask for.
func (c *Client) sendSplit(ctx context.Context, env *Envelope, body io.Reader) (*SendResult, error) {
	var res *SendResult
	rewind, body := clientRewinder(body)
	var last error
	runs := 0
	var pending []int
	if c.needsSplit(env.To) {
		pending = make([]int, len(env.To))
		for i := range pending {
			pending[i] = i
		}
	} else {
		// The common case: one transaction for every recipient, and
		// another only for those refused with 452.
		sr, err := c.sendOne(ctx, env, body)
		if sr == nil {
			return nil, err
		}
		res, last, runs = sr, err, 1
		if err == nil && c.err == nil && sr.Accepted() > 0 {
			for i, rr := range sr.Recipients {
				if clientTooMany(rr.Err) {
					pending = append(pending, i)
				}
			}
		}
	}
	for len(pending) > 0 {
		batch, rest := c.nextBatch(env.To, pending)
		if runs > 0 {
			if c.MailMaxReached() {
				res.notSent(pending, fmt.Errorf("%w: %w", ErrNotSent, ErrMailMax))
				break
			}
			if !rewind.ok {
				res.notSent(pending, fmt.Errorf("%w: the server's limits need a further transaction and the body cannot be read again (not an io.Seeker)", ErrNotSent))
				break
			}
			if err := rewind.rewind(); err != nil {
				res.notSent(pending, fmt.Errorf("%w: reading the body again: %w", ErrNotSent, err))
				break
			}
		}
		sub := env
		if len(batch) < len(env.To) {
			sub = clientSubEnvelope(env, batch)
		}
		sr, err := c.sendOne(ctx, sub, body)
		if sr == nil {
			if runs == 0 {
				return nil, err // nothing was written
			}
			res.notSent(pending, err)
			break
		}
		runs++
		if err != nil {
			last = err
		}
		if res == nil && len(batch) == len(env.To) {
			res = sr // the common case: one transaction for all
		} else if res == nil {
			res = &SendResult{}
			res.setRecipients(env.To)
		}
		var again []int
		accepted := sr.Accepted() > 0 && err == nil
		for k, i := range batch {
			res.Recipients[i].Err = sr.Recipients[k].Err
			if accepted && clientTooMany(sr.Recipients[k].Err) {
				again = append(again, i)
			}
		}
		if res != sr && res.Reply == "" {
			res.Reply = sr.Reply
		}
		res.partial = res.partial || sr.partial
		if c.err != nil {
			res.notSent(rest, c.err)
			break
		}
		pending = append(again, rest...)
		slices.Sort(pending)
	}
	return res, res.finish(last, runs)
}

// finish decides the error Send returns for res, whose last transaction
// failed with last (nil when it was accepted for someone), after runs
// transactions, and records it.
func (r *SendResult) finish(last error, runs int) error {
	accepted := r.Accepted()
	var err error
	switch {
	case accepted == len(r.Recipients):
		err = nil
	case last != nil && (accepted == 0 && runs == 1 || r.partial):
		err = last
	default:
		err = clientRefusedError(r)
	}
	r.Err = err
	return err
}

// notSent gives each recipient of idx the error err.
func (r *SendResult) notSent(idx []int, err error) {
	for _, i := range idx {
		r.Recipients[i].Err = err
	}
}

// needsSplit reports whether to needs more than one transaction under the
// server's LIMITS.
func (c *Client) needsSplit(to []string) bool {
	l, ok := c.ext.Limits()
	if !ok {
		return false
	}
	if l.RcptMax > 0 && len(to) > l.RcptMax {
		return true
	}
	if l.RcptDomainMax > 0 && len(to) > l.RcptDomainMax {
		return clientDomainCount(to) > l.RcptDomainMax
	}
	return false
}

// nextBatch takes, in order, the recipients of pending that fit one
// transaction under RCPTMAX and RCPTDOMAINMAX, and returns the rest.
func (c *Client) nextBatch(to []string, pending []int) (batch, rest []int) {
	l, _ := c.ext.Limits()
	var domains []string
	for _, i := range pending {
		d := clientDomain(to[i])
		fits := l.RcptMax == 0 || len(batch) < l.RcptMax
		if fits && l.RcptDomainMax > 0 && !slices.Contains(domains, d) {
			fits = len(domains) < l.RcptDomainMax
			if fits {
				domains = append(domains, d)
			}
		}
		if fits {
			batch = append(batch, i)
		} else {
			rest = append(rest, i)
		}
	}
	return batch, rest
}

// clientDomain returns the domain of addr as it goes on the wire, lower
// case, for counting RCPTDOMAINMAX.
func clientDomain(addr string) string {
	if w, err := clientWireAddress(addr); err == nil {
		addr = w
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return ascii.ToLower(addr[at+1:])
}

func clientDomainCount(to []string) int {
	var domains []string
	for _, a := range to {
		if d := clientDomain(a); !slices.Contains(domains, d) {
			domains = append(domains, d)
		}
	}
	return len(domains)
}

// clientSubEnvelope returns the envelope of env for the recipients idx.
func clientSubEnvelope(env *Envelope, idx []int) *Envelope {
	sub := &Envelope{From: env.From, MailOptions: env.MailOptions, To: make([]string, len(idx))}
	if env.RcptOptions != nil {
		sub.RcptOptions = make([]*RcptOptions, len(idx))
	}
	for k, i := range idx {
		sub.To[k] = env.To[i]
		if env.RcptOptions != nil {
			sub.RcptOptions[k] = env.RcptOptions[i]
		}
	}
	return sub
}

// clientTooMany reports whether err is a 452 refusal of a recipient for
// too many recipients (RFC 5321 section 4.5.3.1.10; 4.5.3 in RFC 3463),
// or a 452 without an enhanced code.
func clientTooMany(err error) bool {
	if err == nil {
		return false // before se, whose address escapes: no allocation on success
	}
	var se *Error
	if !errors.As(err, &se) || se.Code != 452 {
		return false
	}
	return se.Enhanced == EnhancedCode{4, 5, 3} || se.Enhanced == EnhancedCode{}
}

// clientRewind remembers where a body starts, so that a further
// transaction can read it again; ok is false when it cannot be. A value,
// not a closure, so that the common single transaction allocates nothing
// for it.
type clientRewind struct {
	seeker io.Seeker
	start  int64
	ok     bool
}

// rewind makes the body read from its start again.
func (r clientRewind) rewind() error {
	_, err := r.seeker.Seek(r.start, io.SeekStart)
	return err
}

// clientRewinder returns how to read body again from where it starts now,
// and the reader to use.
func clientRewinder(body io.Reader) (clientRewind, io.Reader) {
	switch b := body.(type) {
	case *bytes.Buffer:
		r := bytes.NewReader(b.Bytes())
		b.Next(b.Len()) // read, as any reader would be
		return clientRewind{seeker: r, ok: true}, r
	case io.Seeker:
		start, err := b.Seek(0, io.SeekCurrent)
		if err != nil {
			return clientRewind{}, body
		}
		return clientRewind{seeker: b, start: start, ok: true}, body
	}
	return clientRewind{}, body
}
