package delivery

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
)

// DNSInfo tells how a DNS answer was obtained, beside its records.
type DNSInfo struct {
	// Authentic reports that the answer (records, or their absence) was
	// validated with DNSSEC: the resolver set the AD bit (RFC 4035 section
	// 3.2.3). DANE (RFC 7672 section 2.1) needs it for the MX RRset, the
	// MX host's addresses and the TLSA RRset.
	Authentic bool
	// Canonical is the name the answer's CNAME chain ends at, when the
	// queried name is an alias (RFC 7672 section 2.2.2); "" otherwise.
	Canonical string
}

// Resolver answers the DNS questions of delivery: the MX records of a
// domain (RFC 5321 section 5.1), the addresses of a host and the TXT
// records of a name (RFC 8461 section 3.1), each with whether the answer
// was DNSSEC-authenticated.
//
// A name that does not exist, or has no record of the type, is reported as
// a *net.DNSError with IsNotFound set (the DNSInfo still says whether that
// denial was authenticated); a failure that may pass, such as SERVFAIL or
// a timeout, as a *net.DNSError with IsTemporary set, or any other error.
type Resolver interface {
	LookupMX(ctx context.Context, domain string) ([]*net.MX, DNSInfo, error)
	// LookupIP returns the addresses of host for network "ip4" (A
	// records) or "ip6" (AAAA records).
	LookupIP(ctx context.Context, network, host string) ([]netip.Addr, DNSInfo, error)
	LookupTXT(ctx context.Context, name string) ([]string, DNSInfo, error)
}

// TLSAResolver is a Resolver that can also look up TLSA records (RFC 6698
// section 2), as DANE needs. A Deliverer uses DANE only when its Resolver
// is one.
type TLSAResolver interface {
	Resolver
	// LookupTLSA returns the TLSA records at name, such as
	// "_25._tcp.mx.example.org" (RFC 7672 section 2.2.3).
	LookupTLSA(ctx context.Context, name string) ([]TLSA, DNSInfo, error)
}

// NetResolver is a Resolver over a *net.Resolver (nil means
// net.DefaultResolver). The standard library does not report the AD bit,
// so no answer is authentic and DANE never applies: delivery uses MTA-STS
// or opportunistic TLS (RFC 7672 section 2.2).
type NetResolver struct {
	Resolver *net.Resolver
}

func (r NetResolver) net() *net.Resolver {
	if r.Resolver == nil {
		return net.DefaultResolver
	}
	return r.Resolver
}

// LookupMX looks up the MX records of domain (RFC 1035 section 3.3.9)
// with net.Resolver.LookupMX.
func (r NetResolver) LookupMX(ctx context.Context, domain string) ([]*net.MX, DNSInfo, error) {
	mx, err := r.net().LookupMX(ctx, domain)
	if err != nil && len(mx) == 0 {
		return nil, DNSInfo{}, err
	}
	return mx, DNSInfo{}, nil
}

// LookupIP looks up the A ("ip4", RFC 1035 section 3.4.1) or AAAA
// ("ip6", RFC 3596 section 2) records of host.
func (r NetResolver) LookupIP(ctx context.Context, network, host string) ([]netip.Addr, DNSInfo, error) {
	addrs, err := r.net().LookupNetIP(ctx, network, host)
	if err != nil {
		return nil, DNSInfo{}, err
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	return addrs, DNSInfo{}, nil
}

// LookupTXT looks up the TXT records of name (RFC 1035 section 3.3.14).
func (r NetResolver) LookupTXT(ctx context.Context, name string) ([]string, DNSInfo, error) {
	txt, err := r.net().LookupTXT(ctx, name)
	if err != nil {
		return nil, DNSInfo{}, err
	}
	return txt, DNSInfo{}, nil
}

// isNotFound reports whether err says that the name or the record type
// does not exist (NXDOMAIN or an empty answer).
func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// normalizeName lowercases a DNS name and drops its trailing dot.
func normalizeName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}
