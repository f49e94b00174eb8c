package delivery

import (
	"context"
	"errors"
	"fmt"

	"github.com/postwire/postwire/smtp"
)

// ErrRequireTLS is the failure of a REQUIRETLS message that no MX host
// could take with the TLS it demands (RFC 8689 section 4.2.1, the 5.7.30
// code of section 6.2).
var ErrRequireTLS = &smtp.Error{Code: 550, Enhanced: smtp.EnhancedCode{5, 7, 30}, Message: "REQUIRETLS support required"}

// domainDelivery is the delivery of one message to the recipients of one
// domain.
type domainDelivery struct {
	d       *Deliverer
	msg     *Message
	domain  string
	results []Result
	pending []int // indexes into results not yet decided

	requireTLS bool // REQUIRETLS, RFC 8689
	relaxed    bool // TLS-Required: No, RFC 8689 section 5

	attempts  []Attempt
	made      int   // connections made
	lastErr   error // why the last host failed
	tlsRefuse int   // hosts refused for REQUIRETLS
	otherFail bool  // a host failed for another reason
}

// deliverDomain delivers msg to the recipients of g, under Timeout.
func (d *Deliverer) deliverDomain(ctx context.Context, msg *Message, g *domainGroup, results []Result) []Attempt {
	ctx, cancel := context.WithTimeout(ctx, positive(d.Timeout, DefaultTimeout))
	defer cancel()

	requireTLS := msg.MailOptions != nil && msg.MailOptions.RequireTLS
	dd := &domainDelivery{
		d: d, msg: msg, domain: g.domain, results: results,
		pending:    append([]int(nil), g.idx...),
		requireTLS: requireTLS,
		relaxed:    msg.TLSRequiredNo && !requireTLS,
	}
	dd.run(ctx)
	dd.finish()
	return dd.attempts
}

// run tries the domain's hosts in order until every recipient is decided.
func (dd *domainDelivery) run(ctx context.Context) {
	if dd.domain[0] == '[' {
		dd.runLiteral(ctx)
		return
	}

	hosts, mxInfo, err := ResolveMX(ctx, dd.d.resolver, dd.domain)
	if errors.Is(err, ErrNullMX) {
		dd.decideAll(PermanentFailure, ErrNullMX)
		return
	}
	if err != nil {
		dd.lastErr = dnsFailure("MX lookup", err)
		return
	}

	sts := dd.d.stsPolicy(ctx, dd.domain)
	for _, host := range hosts {
		if len(dd.pending) == 0 || dd.made >= positive(dd.d.MaxAttempts, DefaultMaxAttempts) || ctx.Err() != nil {
			return
		}
		dd.tryHost(ctx, host, mxInfo, sts)
	}
}

// runLiteral delivers to an address literal: no MX, no policy.
func (dd *domainDelivery) runLiteral(ctx context.Context) {
	ip, _ := parseAddressLiteral(dd.domain)
	if dd.requireTLS {
		dd.tlsRefuse++
		dd.lastErr = ErrRequireTLS
		return
	}
	hp := hostPolicy{outcome: TLSOutcome{Policy: PolicyNotFound}}
	if dd.attempt(ctx, MXHost{Name: dd.domain}, ip, hp, false) {
		dd.attempt(ctx, MXHost{Name: dd.domain}, ip, hp, true)
	}
}

// tryHost looks up the addresses of host, decides its TLS policy and tries
// each address.
func (dd *domainDelivery) tryHost(ctx context.Context, host MXHost, mxInfo DNSInfo, sts stsResult) {
	addrs, addrInfo, err := LookupAddrs(ctx, dd.d.resolver, host.Name, dd.d.AddressFamily)
	if err != nil {
		if host.Implicit && !dnsTemporary(err) {
			// No MX and no address: the domain cannot receive mail.
			dd.decideAll(PermanentFailure, localReply(550, smtp.EnhancedCode{5, 1, 2},
				fmt.Sprintf("the domain %s has no MX record and no address", dd.domain), err))
			return
		}
		dd.hostFailed(Attempt{Domain: dd.domain, MX: host.Name}, dnsFailure("address lookup of "+host.Name, err))
		return
	}

	hp, err := dd.d.hostPolicy(ctx, host, mxInfo, addrInfo, sts, dd.requireTLS, dd.relaxed)
	if err != nil {
		dd.hostFailed(Attempt{Domain: dd.domain, MX: host.Name, TLS: hp.outcome}, err)
		return
	}
	if dd.requireTLS && hp.verify == verifyNone {
		dd.refuseRequireTLS(Attempt{Domain: dd.domain, MX: host.Name, TLS: hp.outcome},
			"no DANE or MTA-STS policy authenticates "+host.Name)
		return
	}

	for _, ip := range addrs {
		if len(dd.pending) == 0 || dd.made >= positive(dd.d.MaxAttempts, DefaultMaxAttempts) || ctx.Err() != nil {
			return
		}
		if dd.attempt(ctx, host, ip, hp, false) && dd.made < positive(dd.d.MaxAttempts, DefaultMaxAttempts) {
			dd.attempt(ctx, host, ip, hp, true)
		}
	}
}

// decideAll gives every pending recipient the final status and error.
func (dd *domainDelivery) decideAll(s Status, err error) {
	for _, i := range dd.pending {
		dd.decide(i, s, err)
	}
	dd.pending = nil
}

// decide sets the final status of recipient i.
func (dd *domainDelivery) decide(i int, s Status, err error) {
	r := &dd.results[i]
	r.Status, r.Err, r.Reply = s, err, serverReply(err)
}

// hostFailed records an attempt that delivered to nobody, for a reason
// other than REQUIRETLS.
func (dd *domainDelivery) hostFailed(a Attempt, err error) {
	a.Err = err
	dd.attempts = append(dd.attempts, a)
	dd.lastErr = err
	dd.otherFail = true
	dd.touchPending(a)
}

// refuseRequireTLS records a host that cannot take a REQUIRETLS message.
func (dd *domainDelivery) refuseRequireTLS(a Attempt, why string) {
	a.Err = fmt.Errorf("%w: %s", ErrRequireTLS, why)
	dd.attempts = append(dd.attempts, a)
	dd.lastErr = a.Err
	dd.tlsRefuse++
	dd.touchPending(a)
}

// touchPending notes the attempt on every pending recipient.
func (dd *domainDelivery) touchPending(a Attempt) {
	for _, i := range dd.pending {
		r := &dd.results[i]
		r.MX, r.IP, r.TLS, r.Err, r.Reply = a.MX, a.IP, a.TLS, a.Err, serverReply(a.Err)
	}
}

// finish decides the recipients still pending: a permanent 5.7.30 when
// only REQUIRETLS stood in the way (RFC 8689 section 4.2.1), else a
// temporary failure with the last error.
func (dd *domainDelivery) finish() {
	if len(dd.pending) == 0 {
		return
	}
	if dd.requireTLS && dd.tlsRefuse > 0 && !dd.otherFail {
		dd.decideAll(PermanentFailure, dd.lastErr)
		return
	}
	for _, i := range dd.pending {
		err := dd.results[i].Err
		if err == nil {
			err = dd.lastErr
		}
		if err == nil {
			err = localReply(451, smtp.EnhancedCode{4, 4, 4}, "no MX host could be tried", nil)
		}
		dd.decide(i, TemporaryFailure, err)
	}
	dd.pending = nil
}

// dnsFailure wraps a DNS error as a temporary 451 4.4.3 (RFC 3463:
// directory server failure).
func dnsFailure(what string, err error) error {
	return localReply(451, smtp.EnhancedCode{4, 4, 3}, "DNS lookup failed: "+what, err)
}
