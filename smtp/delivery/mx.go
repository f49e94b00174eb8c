package delivery

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"

	"github.com/postwire/postwire/smtp"
)

// AddressFamily says which of a host's addresses are tried, in which order
// (RFC 5321 section 5.2 leaves the choice between IPv4 and IPv6 to the
// client).
type AddressFamily int

// Address families.
const (
	IPv6First AddressFamily = iota // AAAA then A (the default)
	IPv4First                      // A then AAAA
	IPv4Only                       // A only
	IPv6Only                       // AAAA only
)

// MXHost is one host to try for a domain (RFC 5321 section 5.1).
type MXHost struct {
	Name string // lower case, without the trailing dot
	Pref uint16
	// Implicit is set when the domain has no MX records and its own name
	// is the host (RFC 5321 section 5.1, the "implicit MX").
	Implicit bool
}

// ErrNullMX is the failure for a domain that publishes a null MX, "0 ."
// (RFC 7505 section 3): it accepts no mail. The recipients fail with 556
// 5.1.10 (RFC 7505 section 4.1).
var ErrNullMX = &smtp.Error{Code: 556, Enhanced: smtp.EnhancedCode{5, 1, 10}, Message: "the recipient domain accepts no mail (null MX)"}

// ResolveMX returns the hosts to try for domain (RFC 5321 section 5.1):
// its MX hosts by preference, shuffled among equal preferences; the domain
// itself when it has no MX record; ErrNullMX for a null MX. A null MX
// beside other records is dropped and the others are used. info tells
// whether the MX answer (or its absence) was DNSSEC-authenticated.
func ResolveMX(ctx context.Context, r Resolver, domain string) (hosts []MXHost, info DNSInfo, err error) {
	mx, info, err := r.LookupMX(ctx, domain)
	if isNotFound(err) {
		return []MXHost{{Name: normalizeName(domain), Implicit: true}}, info, nil
	}
	if err != nil {
		return nil, info, err
	}

	if len(mx) == 1 && (mx[0].Host == "." || mx[0].Host == "") {
		return nil, info, ErrNullMX
	}
	for _, m := range mx {
		if m.Host == "." || m.Host == "" {
			continue
		}
		hosts = append(hosts, MXHost{Name: normalizeName(m.Host), Pref: m.Pref})
	}
	if len(hosts) == 0 {
		return nil, info, ErrNullMX
	}

	rand.Shuffle(len(hosts), func(i, j int) { hosts[i], hosts[j] = hosts[j], hosts[i] })
	slices.SortStableFunc(hosts, func(a, b MXHost) int { return int(a.Pref) - int(b.Pref) })
	return hosts, info, nil
}

// LookupAddrs returns the addresses of host in the order family asks for,
// and whether every answer that was used was DNSSEC-authenticated (RFC
// 7672 section 2.2.2). A lookup that fails for one family is not an error
// when the other gives addresses. info.Canonical is the end of a CNAME
// chain, when host is an alias.
func LookupAddrs(ctx context.Context, r Resolver, host string, family AddressFamily) ([]netip.Addr, DNSInfo, error) {
	var networks []string
	switch family {
	case IPv4First:
		networks = []string{"ip4", "ip6"}
	case IPv4Only:
		networks = []string{"ip4"}
	case IPv6Only:
		networks = []string{"ip6"}
	default:
		networks = []string{"ip6", "ip4"}
	}

	var addrs []netip.Addr
	info := DNSInfo{Authentic: true}
	var firstErr error
	for _, n := range networks {
		a, ai, err := r.LookupIP(ctx, n, host)
		if err != nil && !isNotFound(err) {
			if firstErr == nil {
				firstErr = err
			}
			info.Authentic = false
			continue
		}
		info.Authentic = info.Authentic && ai.Authentic
		if ai.Canonical != "" {
			info.Canonical = ai.Canonical
		}
		addrs = append(addrs, a...)
	}
	if len(addrs) == 0 {
		if firstErr != nil {
			return nil, DNSInfo{}, firstErr
		}
		return nil, info, &net.DNSError{Err: "no address", Name: host, IsNotFound: true}
	}
	return addrs, info, nil
}

// dnsTemporary reports whether a DNS failure may pass (SERVFAIL, a
// timeout), as opposed to a final one (NXDOMAIN, no record).
func dnsTemporary(err error) bool {
	var de *net.DNSError
	if errors.As(err, &de) {
		return !de.IsNotFound
	}
	return true
}
