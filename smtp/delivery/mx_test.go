package delivery

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func hostNames(hosts []MXHost) []string {
	var names []string
	for _, h := range hosts {
		names = append(names, h.Name)
	}
	return names
}

func TestResolveMXPreferenceOrder(t *testing.T) {
	z := newTestDNS(t)
	z.MX("example.test", 30, "c.example.test")
	z.MX("example.test", 10, "A.example.test.")
	z.MX("example.test", 20, "b.example.test")
	hosts, info, err := ResolveMX(context.Background(), &DNSClient{Addr: z.Addr}, "example.test")
	require.NoError(t, err)
	assert.True(t, info.Authentic)
	assert.Equal(t, []string{"a.example.test", "b.example.test", "c.example.test"}, hostNames(hosts))
}

func TestResolveMXShufflesEqualPreferences(t *testing.T) {
	z := newTestDNS(t)
	z.MX("example.test", 10, "a.example.test")
	z.MX("example.test", 10, "b.example.test")
	z.MX("example.test", 5, "first.example.test")
	r := &DNSClient{Addr: z.Addr}
	seen := map[string]bool{}
	// Each order has probability 1/2; 100 tries all alike has odds 2^-99.
	for i := 0; i < 100 && len(seen) < 2; i++ {
		hosts, _, err := ResolveMX(context.Background(), r, "example.test")
		require.NoError(t, err)
		names := hostNames(hosts)
		require.Equal(t, "first.example.test", names[0], "the lowest preference stays first")
		seen[names[1]] = true
	}
	assert.Len(t, seen, 2, "both orders of the equal preferences occur")
}

func TestResolveMXImplicit(t *testing.T) {
	z := newTestDNS(t)
	z.A("example.test", "192.0.2.1")
	hosts, _, err := ResolveMX(context.Background(), &DNSClient{Addr: z.Addr}, "example.test")
	require.NoError(t, err)
	assert.Equal(t, []MXHost{{Name: "example.test", Implicit: true}}, hosts)
}

func TestResolveMXNull(t *testing.T) {
	z := newTestDNS(t)
	z.MX("null.test", 0, ".")
	z.MX("mixed.test", 0, ".")
	z.MX("mixed.test", 10, "mx.mixed.test")
	r := &DNSClient{Addr: z.Addr}

	_, _, err := ResolveMX(context.Background(), r, "null.test")
	assert.ErrorIs(t, err, ErrNullMX)

	hosts, _, err := ResolveMX(context.Background(), r, "mixed.test")
	require.NoError(t, err)
	assert.Equal(t, []string{"mx.mixed.test"}, hostNames(hosts), "a null MX beside others is dropped")
}

func TestResolveMXServFail(t *testing.T) {
	z := newTestDNS(t)
	z.ServFail("broken.test")
	_, _, err := ResolveMX(context.Background(), &DNSClient{Addr: z.Addr}, "broken.test")
	require.Error(t, err)
	assert.True(t, dnsTemporary(err))
}

func TestLookupAddrsFamilies(t *testing.T) {
	z := newTestDNS(t)
	z.A("h.test", "192.0.2.1")
	z.A("h.test", "2001:db8::1")
	z.A("v4.test", "192.0.2.2")
	r := &DNSClient{Addr: z.Addr}
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	for _, tc := range []struct {
		family AddressFamily
		want   []netip.Addr
	}{
		{IPv6First, []netip.Addr{v6, v4}},
		{IPv4First, []netip.Addr{v4, v6}},
		{IPv4Only, []netip.Addr{v4}},
		{IPv6Only, []netip.Addr{v6}},
	} {
		got, info, err := LookupAddrs(context.Background(), r, "h.test", tc.family)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got, "family %d", tc.family)
		assert.True(t, info.Authentic)
	}

	got, _, err := LookupAddrs(context.Background(), r, "v4.test", IPv6First)
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.2")}, got, "no AAAA is no error")

	_, _, err = LookupAddrs(context.Background(), r, "v4.test", IPv6Only)
	assert.True(t, isNotFound(err))
}
