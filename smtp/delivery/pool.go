package delivery

import (
	"context"
	"net"
	"strconv"
)

// PoolHosts returns a function for smtp.Pool's Resolve: the MX hosts of
// domain in order of preference (RFC 5321 section 5.1, shuffled among
// equal preferences; the domain itself when it has no MX), each as
// "host:port", resolved through r (NetResolver{} when nil). The pool dials
// the host names, so that TLS verifies the MX host's name; it sets a host
// aside when it fails and tries the next, as section 5.1 asks of a
// client. A null MX (RFC 7505) is ErrNullMX.
func PoolHosts(r Resolver, domain string, port int) func(context.Context) ([]string, error) {
	if r == nil {
		r = NetResolver{}
	}
	p := strconv.Itoa(port)
	return func(ctx context.Context) ([]string, error) {
		hosts, _, err := ResolveMX(ctx, r, domain)
		if err != nil {
			return nil, err
		}
		addrs := make([]string, len(hosts))
		for i, h := range hosts {
			addrs[i] = net.JoinHostPort(h.Name, p)
		}
		return addrs, nil
	}
}
