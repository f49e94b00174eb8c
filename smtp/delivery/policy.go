package delivery

import (
	"context"
	"errors"
	"fmt"
)

// verifyKind is how a host's certificate is checked.
type verifyKind int

const (
	verifyNone verifyKind = iota // opportunistic: not checked
	verifyDANE                   // against the TLSA records
	verifyPKIX                   // Web PKI for the MX host name (MTA-STS)
)

// hostPolicy is the TLS policy decided for one MX host.
type hostPolicy struct {
	verify verifyKind
	tlsa   []TLSA   // the usable records, for verifyDANE
	names  []string // reference identifiers for DANE-TA
	// sni is the server name to send, when not the MX host name: the
	// TLSA base domain (RFC 7672 section 8.1).
	sni string
	// requireTLS makes STARTTLS mandatory: without it, or after a failed
	// handshake, nothing is sent.
	requireTLS bool
	// enforce makes a verification failure end the attempt.
	enforce bool
	// outcome is the start of the attempt's TLS outcome.
	outcome TLSOutcome
}

// stsResult is the MTA-STS policy found for a domain.
type stsResult struct {
	policy  *STSPolicy  // nil when none applies
	failure *TLSFailure // why none was found, when that is a failure
}

// stsPolicy finds the MTA-STS policy of domain (RFC 8461 section 5.1):
// the TXT record's id is compared with the cached policy's; a new id, or
// no unexpired cached policy, means a fetch. When the TXT record is
// missing or the fetch fails, an unexpired cached policy still applies.
func (d *Deliverer) stsPolicy(ctx context.Context, domain string) stsResult {
	if d.DisableMTASTS {
		return stsResult{}
	}
	cached, haveCached := d.cache.Get(ctx, domain)
	if haveCached && cached.Expired(d.now()) {
		cached, haveCached = nil, false
	}

	txts, _, err := d.resolver.LookupTXT(ctx, "_mta-sts."+domain)
	var id string
	if err == nil {
		id, err = selectSTSRecord(txts)
	}
	if err != nil {
		if haveCached {
			return stsResult{policy: cached.Policy}
		}
		if isNotFound(err) || errors.Is(err, errNoSTSRecord) {
			return stsResult{}
		}
		return stsResult{failure: &TLSFailure{Result: ResultSTSPolicyInvalid, Detail: err.Error()}}
	}
	if haveCached && cached.ID == id {
		return stsResult{policy: cached.Policy}
	}

	p, err := d.fetcher.Fetch(ctx, domain)
	if err != nil {
		if haveCached {
			return stsResult{policy: cached.Policy}
		}
		var f *TLSFailure
		if !errors.As(err, &f) {
			f = &TLSFailure{Result: ResultSTSPolicyFetchError, Detail: err.Error()}
		}
		return stsResult{failure: f}
	}
	d.cache.Put(ctx, domain, &CachedSTSPolicy{Policy: p, ID: id, Fetched: d.now()})
	return stsResult{policy: p}
}

// hostPolicy decides the TLS policy of one MX host (the decision table of
// the package documentation). The error, with the returned outcome, means
// the host must not be used now: a failed TLSA lookup for a secure host
// (RFC 7672 section 2.2), or a host that an enforced MTA-STS policy does
// not list (RFC 8461 section 4.1).
func (d *Deliverer) hostPolicy(ctx context.Context, host MXHost, mxInfo, addrInfo DNSInfo, sts stsResult, requireTLS, relaxed bool) (hostPolicy, error) {
	mandatory := false

	// DANE (RFC 7672 section 2.2): for a host whose MX RRset and address
	// records are secure, with a secure TLSA RRset.
	if tr, ok := d.resolver.(TLSAResolver); ok && mxInfo.Authentic && addrInfo.Authentic {
		hp, found, err := d.danePolicy(ctx, tr, host, addrInfo, relaxed)
		if err != nil || found {
			return hp, err
		}
		mandatory = hp.requireTLS
	}

	if d.RequireDANE && !relaxed {
		out := TLSOutcome{Policy: PolicyTLSA, Enforced: true}
		out.fail(ResultDANERequired, "no usable DNSSEC-validated TLSA records for "+host.Name)
		return hostPolicy{outcome: out}, fmt.Errorf("%w: no usable DANE TLSA records for %s", errTLSPolicy, host.Name)
	}

	// MTA-STS (RFC 8461 section 5): for hosts without DANE.
	if p := sts.policy; p != nil && p.Mode != STSNone {
		// A REQUIRETLS message treats testing as enforce (RFC 8689
		// section 4.2.1); TLS-Required: No enforces nothing (section 5).
		enforce := (p.Mode == STSEnforce || requireTLS) && !relaxed
		hp := hostPolicy{
			verify:     verifyPKIX,
			requireTLS: enforce || mandatory,
			enforce:    enforce,
			outcome:    TLSOutcome{Policy: PolicySTS, STSMode: p.Mode, Enforced: enforce},
		}
		if !p.MatchMX(host.Name) {
			hp.outcome.fail(ResultValidationFailure, "MX host "+host.Name+" is not listed in the MTA-STS policy")
			if enforce {
				return hp, fmt.Errorf("%w: MX host %s is not listed in the MTA-STS policy", errTLSPolicy, host.Name)
			}
		}
		return hp, nil
	}

	hp := hostPolicy{requireTLS: mandatory && !relaxed, outcome: TLSOutcome{Policy: PolicyNotFound}}
	if f := sts.failure; f != nil {
		hp.outcome = TLSOutcome{Policy: PolicySTS, Failure: f.Result, Detail: f.Detail}
	}
	return hp, nil
}

// danePolicy looks up the TLSA records of a secure host: at the CNAME
// target first when the host is an alias, then at the host name (RFC 7672
// section 2.2.2). found reports a usable TLSA RRset; without one,
// hp.requireTLS tells that a secure RRset of unusable records was found,
// which still makes TLS mandatory, as Postfix's "dane" level does.
func (d *Deliverer) danePolicy(ctx context.Context, tr TLSAResolver, host MXHost, addrInfo DNSInfo, relaxed bool) (hp hostPolicy, found bool, err error) {
	bases := []string{host.Name}
	if addrInfo.Canonical != "" && addrInfo.Canonical != host.Name {
		bases = []string{addrInfo.Canonical, host.Name}
	}
	for _, base := range bases {
		recs, info, err := tr.LookupTLSA(ctx, tlsaName(d.port(), base))
		if isNotFound(err) {
			continue
		}
		if err != nil {
			out := TLSOutcome{Policy: PolicyTLSA, Enforced: !relaxed}
			out.fail(ResultDNSSECInvalid, err.Error())
			if relaxed {
				return hostPolicy{outcome: out}, false, nil
			}
			return hostPolicy{outcome: out}, false, fmt.Errorf("%w: TLSA lookup for %s: %v", errTLSPolicyDNS, base, err)
		}
		if !info.Authentic {
			return hostPolicy{}, false, nil
		}
		usable := usableTLSA(recs)
		if len(usable) == 0 {
			return hostPolicy{requireTLS: true}, false, nil
		}
		return hostPolicy{
			verify:     verifyDANE,
			tlsa:       usable,
			names:      bases,
			sni:        base,
			requireTLS: !relaxed,
			enforce:    !relaxed,
			outcome:    TLSOutcome{Policy: PolicyTLSA, Enforced: !relaxed},
		}, true, nil
	}
	return hostPolicy{}, false, nil
}

// errTLSPolicy and errTLSPolicyDNS are the temporary failures of a host
// refused by its TLS policy (RFC 8461 section 5, RFC 7672 section 2.2).
var (
	errTLSPolicy    = tempError(4, 7, 5, "TLS policy not satisfied")
	errTLSPolicyDNS = tempError(4, 4, 3, "TLSA lookup failed")
)
