package delivery

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"

	"github.com/postwire/postwire/smtp"
)

// attempt makes one connection to ip for host and sends the message to
// the pending recipients, under AttemptTimeout. It reports whether the
// attempt should be made again without STARTTLS: an opportunistic TLS
// handshake failed (RFC 7435 section 4.1). With plaintext set, STARTTLS is
// not tried.
func (dd *domainDelivery) attempt(ctx context.Context, host MXHost, ip netip.Addr, hp hostPolicy, plaintext bool) (retryPlain bool) {
	d := dd.d
	dd.made++
	ctx, cancel := context.WithTimeout(ctx, positive(d.AttemptTimeout, DefaultAttemptTimeout))
	defer cancel()
	out := hp.outcome
	a := Attempt{Domain: dd.domain, MX: host.Name, IP: ip}
	fail := func(err error) {
		a.TLS = out
		dd.hostFailed(a, err)
	}

	c, err := d.connect(ctx, ip)
	if err != nil {
		fail(err)
		return false
	}
	defer c.Close()

	if !plaintext && c.Extensions().Has("STARTTLS") {
		if err := c.StartTLS(ctx, d.tlsConfig(host, hp, &out)); err != nil {
			var f *TLSFailure
			if !errors.As(err, &f) {
				out.fail(ResultValidationFailure, "TLS handshake: "+err.Error())
			}
			fail(fmt.Errorf("%w: STARTTLS with %s: %v", errTLSPolicy, host.Name, err))
			return !hp.requireTLS && f == nil
		}
		cs, _ := c.TLSConnectionState()
		out.TLS, out.Version, out.CipherSuite = true, cs.Version, cs.CipherSuite
	} else if !plaintext {
		if hp.verify != verifyNone || hp.requireTLS {
			out.fail(ResultSTARTTLSNotSupported, host.Name+" does not offer STARTTLS")
		}
		if hp.requireTLS {
			fail(fmt.Errorf("%w: %s does not offer STARTTLS", errTLSPolicy, host.Name))
			return false
		}
	}

	if dd.requireTLS {
		switch {
		case !out.Verified:
			a.TLS = out
			dd.refuseRequireTLS(a, "the TLS of "+host.Name+" is not authenticated")
			c.Quit(ctx)
			return false
		case !c.Extensions().Has("REQUIRETLS"):
			a.TLS = out
			dd.refuseRequireTLS(a, host.Name+" does not offer REQUIRETLS")
			c.Quit(ctx)
			return false
		}
	}

	dd.send(ctx, c, a, out)
	return false
}

// connect dials ip on the port, reads the greeting and says EHLO.
func (d *Deliverer) connect(ctx context.Context, ip netip.Addr) (*smtp.Client, error) {
	addr := netip.AddrPortFrom(ip, uint16(d.port())).String()
	var dialer net.Dialer
	if d.DialOptions != nil && d.DialOptions.Dialer != nil {
		dialer = *d.DialOptions.Dialer
	}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, withCause(tempError(4, 4, 1, "cannot connect"), err)
	}

	var opts smtp.DialOptions
	if d.DialOptions != nil {
		opts = *d.DialOptions
	}
	opts.LocalName, opts.TLSConfig = d.hostname, nil
	// NewClient reads the greeting without a context: closing the
	// connection when ctx ends bounds the wait.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	c, err := smtp.NewClient(conn, &opts)
	if !stop() && err == nil {
		c.Close()
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("greeting of %s: %w", addr, asReply(err))
	}
	if err := c.Hello(ctx, ""); err != nil {
		c.Close()
		return nil, fmt.Errorf("EHLO to %s: %w", addr, asReply(err))
	}
	return c, nil
}

// tlsConfig returns the STARTTLS configuration for host: the certificate
// is checked by VerifyConnection as hp says, recording the result in out,
// and refused only when hp enforces it.
func (d *Deliverer) tlsConfig(host MXHost, hp hostPolicy, out *TLSOutcome) *tls.Config {
	sni := host.Name
	if hp.sni != "" {
		sni = hp.sni
	}
	return &tls.Config{
		ServerName:         sni,
		InsecureSkipVerify: true, // checked below, by the host's policy
		VerifyConnection: func(cs tls.ConnectionState) error {
			var err error
			switch hp.verify {
			case verifyDANE:
				err = VerifyDANE(cs.PeerCertificates, hp.tlsa, hp.names, d.now())
			case verifyPKIX:
				err = VerifyPKIX(cs.PeerCertificates, d.RootCAs, host.Name, d.now())
			default:
				return nil
			}
			if err == nil {
				out.Verified = true
				return nil
			}
			var f *TLSFailure
			if errors.As(err, &f) {
				out.fail(f.Result, f.Detail)
			}
			if hp.enforce {
				return err
			}
			return nil
		},
	}
}

// send sends the message to the pending recipients over c and decides
// each: delivered, refused for good by a 5xx, or left pending for the next
// host after a 4xx or a broken connection (RFC 5321 section 4.2.1).
// Recipients refused with 452 for too many recipients go again in a new
// transaction on the same connection, while each transaction delivers to
// someone (RFC 5321 section 4.5.3.1.10).
func (dd *domainDelivery) send(ctx context.Context, c *smtp.Client, a Attempt, out TLSOutcome) {
	a.TLS = out
	batch := dd.pending
	var left []int
	for len(batch) > 0 {
		t := dd.transaction(ctx, c, a, batch)
		if t.err != nil {
			a.Err = t.err
		}
		left = append(left, t.other...)
		if t.broken || t.delivered == 0 {
			left = append(left, t.tooMany...)
			break
		}
		batch = t.tooMany
	}
	c.Quit(ctx)

	dd.pending = left
	dd.attempts = append(dd.attempts, a)
	if len(left) > 0 {
		dd.lastErr = a.Err
		dd.otherFail = true
	}
}

// transactionResult is what one transaction did to its recipients.
type transactionResult struct {
	delivered int
	tooMany   []int // refused with 452: may go in another transaction
	other     []int // refused with another 4xx, or cut off: for the next host
	err       error // the last failure
	broken    bool  // the connection cannot carry another transaction
}

// transaction sends one MAIL, the RCPTs of batch and the body, and
// decides the recipients delivered or refused for good.
func (dd *domainDelivery) transaction(ctx context.Context, c *smtp.Client, a Attempt, batch []int) transactionResult {
	env := smtp.Envelope{From: dd.msg.From, MailOptions: dd.msg.MailOptions, To: make([]string, len(batch))}
	for k, i := range batch {
		env.To[k] = dd.msg.To[i]
	}
	if dd.msg.RcptOptions != nil {
		env.RcptOptions = make([]*smtp.RcptOptions, len(batch))
		for k, i := range batch {
			env.RcptOptions[k] = dd.msg.RcptOptions[i]
		}
	}

	res, err := c.Send(ctx, &env, bytes.NewReader(dd.msg.Body))
	if res == nil {
		// Refused before anything was written: the message asks for
		// something the server does not offer (an extension's
		// parameter, RFC 5321 section 4.1.4).
		e := localReply(554, smtp.EnhancedCode{5, 3, 3}, "the MX host cannot take the message as sent", err)
		for _, i := range batch {
			r := &dd.results[i]
			r.MX, r.IP, r.TLS = a.MX, a.IP, a.TLS
			dd.decide(i, PermanentFailure, e)
		}
		return transactionResult{err: e, broken: true}
	}

	var t transactionResult
	for k, rr := range res.Recipients {
		i := batch[k]
		r := &dd.results[i]
		r.MX, r.IP, r.TLS = a.MX, a.IP, a.TLS
		e := rr.Err
		var partial *smtp.RecipientsError
		if e == nil && err != nil && !errors.As(err, &partial) {
			e = asReply(err) // a lost connection or an ended context
		}
		if e == nil {
			dd.decide(i, Delivered, nil)
			t.delivered++
			continue
		}
		t.err = e
		se := serverReply(e)
		switch {
		case se != nil && !se.Temporary():
			dd.decide(i, PermanentFailure, e)
		case se != nil && se.Code == 452 && rr.Err != nil:
			r.Err, r.Reply = e, se
			t.tooMany = append(t.tooMany, i)
		default:
			r.Err, r.Reply = e, se
			t.other = append(t.other, i)
		}
	}
	t.broken = err != nil && serverReply(err) == nil
	return t
}

// replyError is a reply this package made up for a failure it decided
// itself, with its cause (nil when none). errors.As finds the *smtp.Error
// in it, but Result.Reply never holds one: it is no server's.
type replyError struct {
	reply *smtp.Error
	cause error
}

func (e *replyError) Error() string {
	if e.cause == nil {
		return e.reply.Error()
	}
	return e.reply.Error() + ": " + e.cause.Error()
}

func (e *replyError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.reply}
	}
	return []error{e.reply, e.cause}
}

// localReply makes a replyError.
func localReply(code int, enhanced smtp.EnhancedCode, msg string, cause error) error {
	return &replyError{reply: &smtp.Error{Code: code, Enhanced: enhanced, Message: msg}, cause: cause}
}

// serverReply returns the *smtp.Error in err when it is a reply an MX
// host sent, and nil for one this package or the Client made up (a lost
// connection is a 451 of the Client's, RFC 5321 section 3.8).
func serverReply(err error) *smtp.Error {
	var se *smtp.Error
	var local *replyError
	var ne net.Error
	switch {
	case err == nil || !errors.As(err, &se),
		errors.As(err, &local), errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, ErrNullMX), errors.Is(err, ErrRequireTLS),
		errors.Is(err, errTLSPolicy), errors.Is(err, errTLSPolicyDNS):
		return nil
	}
	return se
}

// tempError returns a 451 with the enhanced code c.s.d, for a failure
// this package decides itself.
func tempError(c, s, d int, msg string) *smtp.Error {
	return &smtp.Error{Code: 451, Enhanced: smtp.EnhancedCode{c, s, d}, Message: msg}
}

// withCause wraps cause under the reply.
func withCause(reply *smtp.Error, cause error) error { return &replyError{reply: reply, cause: cause} }

// asReply returns err as it is when it holds an *smtp.Error, else wrapped
// under a 451 4.4.2 (connection broken, RFC 3463).
func asReply(err error) error {
	var se *smtp.Error
	if errors.As(err, &se) {
		return err
	}
	return withCause(tempError(4, 4, 2, "connection failed"), err)
}
