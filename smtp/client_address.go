package smtp

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/idna"
)

// This file readies the envelope's addresses for the wire: a domain
// written with U-labels goes as A-labels when the local part is ASCII, so
// that such an address needs no SMTPUTF8 (RFC 6531 section 3.2 allows the
// conversion; RFC 5890 section 2.3.2.1 defines both forms), and every
// recipient is checked before anything is written.

// ErrBadAddress is wrapped by the error of an address that cannot be sent:
// a control byte, a syntax error (RFC 5321 section 4.1.2), a domain that
// IDNA refuses (RFC 5891).
var ErrBadAddress = errors.New("smtp: bad address")

// ErrNotSent is wrapped by the error of a recipient that was never offered
// to the server because of something else: another recipient of the
// envelope is malformed, LIMITS MAILMAX is reached (ErrMailMax), or the
// body cannot be read again for a further transaction.
var ErrNotSent = errors.New("smtp: not sent")

// clientWireAddress returns addr as it goes on the wire: its domain in
// A-labels when the local part is ASCII and the domain is not. Other
// addresses are returned as they are.
func clientWireAddress(addr string) (string, error) {
	if !clientNeedsUTF8(addr) {
		return addr, nil
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 || clientNeedsUTF8(addr[:at]) {
		return addr, nil
	}
	domain, err := idna.Lookup.ToASCII(addr[at+1:])
	if err != nil {
		return addr, fmt.Errorf("%w %q: its domain is not a valid IDNA domain: %v", ErrBadAddress, addr, err)
	}
	return addr[:at+1] + domain, nil
}

// wireEnvelope returns env with its addresses as they go on the wire (env
// itself when none changes). The first address that cannot go is the
// error.
func clientWireEnvelope(env *Envelope) (*Envelope, error) {
	from, err := clientWireAddress(env.From)
	if err != nil {
		return nil, err
	}
	w := env
	if from != env.From {
		cp := *env
		cp.From, w = from, &cp
	}
	for i, to := range env.To {
		wt, err := clientWireAddress(to)
		if err != nil {
			return nil, err
		}
		if wt == to {
			continue
		}
		if w == env {
			cp := *env
			w = &cp
		}
		if &w.To[0] == &env.To[0] {
			w.To = append([]string(nil), env.To...)
		}
		w.To[i] = wt
	}
	return w, nil
}

// checkRecipients checks every recipient of env as it would go on the
// wire, before anything is written. When one or more cannot go it returns
// a result in which each malformed one has its error and every other one
// ErrNotSent, and the joined errors of the malformed ones.
func (c *Client) checkRecipients(env *Envelope) (*SendResult, error) {
	var bad, errs []error
	for i, to := range env.To {
		wt, err := clientWireAddress(to)
		if err == nil {
			err = clientCheckAddress(wt, true, true) // SMTPUTF8 itself is checked with the envelope
		}
		if err != nil {
			if errs == nil {
				errs = make([]error, len(env.To))
			}
			errs[i] = err
			bad = append(bad, err)
		}
	}
	if bad == nil {
		return nil, nil
	}
	res := &SendResult{}
	res.setRecipients(env.To)
	notSent := fmt.Errorf("%w: another recipient of the envelope is malformed", ErrNotSent)
	for i := range res.Recipients {
		res.Recipients[i].Err = errs[i]
		if errs[i] == nil {
			res.Recipients[i].Err = notSent
		}
	}
	res.Err = errors.Join(bad...)
	return res, res.Err
}
