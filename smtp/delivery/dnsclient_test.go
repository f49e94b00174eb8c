package delivery

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDNSClientRecords(t *testing.T) {
	z := newTestDNS(t)
	z.MX("example.test", 10, "mx1.example.test")
	z.MX("example.test", 20, "mx2.example.test")
	z.A("mx1.example.test", "192.0.2.1")
	z.A("mx1.example.test", "2001:db8::1")
	z.TXT("_mta-sts.example.test", "v=STSv1; ", "id=abc")
	z.TLSA("_25._tcp.mx1.example.test", TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: make([]byte, 32)})
	c := &DNSClient{Addr: z.Addr}
	ctx := context.Background()

	mx, info, err := c.LookupMX(ctx, "Example.TEST")
	require.NoError(t, err)
	assert.True(t, info.Authentic)
	require.Len(t, mx, 2)
	assert.Equal(t, net.MX{Host: "mx1.example.test.", Pref: 10}, *mx[0])

	v4, _, err := c.LookupIP(ctx, "ip4", "mx1.example.test")
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.1")}, v4)
	v6, _, err := c.LookupIP(ctx, "ip6", "mx1.example.test")
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("2001:db8::1")}, v6)

	txt, _, err := c.LookupTXT(ctx, "_mta-sts.example.test")
	require.NoError(t, err)
	assert.Equal(t, []string{"v=STSv1; id=abc"}, txt, "the strings of one record are joined")

	tlsa, info, err := c.LookupTLSA(ctx, "_25._tcp.mx1.example.test")
	require.NoError(t, err)
	assert.True(t, info.Authentic)
	assert.Equal(t, []TLSA{{Usage: 3, Selector: 1, MatchingType: 1, Data: make([]byte, 32)}}, tlsa)
}

func TestDNSClientFailures(t *testing.T) {
	z := newTestDNS(t)
	z.A("host.test", "192.0.2.1")
	z.ServFail("bogus.test")
	z.A("insecure.test", "192.0.2.2")
	z.Insecure("insecure.test")
	c := &DNSClient{Addr: z.Addr}
	ctx := context.Background()
	var de *net.DNSError

	_, info, err := c.LookupIP(ctx, "ip4", "nowhere.test")
	require.True(t, errors.As(err, &de))
	assert.True(t, de.IsNotFound, "NXDOMAIN")
	assert.True(t, info.Authentic, "an authenticated denial")

	_, _, err = c.LookupMX(ctx, "host.test")
	require.True(t, errors.As(err, &de))
	assert.True(t, de.IsNotFound, "NODATA: the name exists without MX")

	_, info, err = c.LookupTLSA(ctx, "bogus.test")
	require.True(t, errors.As(err, &de))
	assert.True(t, de.IsTemporary, "SERVFAIL")
	assert.False(t, de.IsNotFound)
	assert.False(t, info.Authentic)

	addrs, info, err := c.LookupIP(ctx, "ip4", "insecure.test")
	require.NoError(t, err)
	assert.Len(t, addrs, 1)
	assert.False(t, info.Authentic, "no AD bit")

	_, _, err = (&DNSClient{Addr: "127.0.0.1:1"}).LookupMX(ctx, "host.test")
	require.True(t, errors.As(err, &de))
	assert.True(t, de.IsTemporary, "no server")
}

func TestDNSClientCNAME(t *testing.T) {
	z := newTestDNS(t)
	z.CNAME("alias.test", "real.test")
	z.A("real.test", "192.0.2.7")
	c := &DNSClient{Addr: z.Addr}

	addrs, info, err := c.LookupIP(context.Background(), "ip4", "alias.test")
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.7")}, addrs)
	assert.Equal(t, "real.test", info.Canonical)
	assert.True(t, info.Authentic)

	z.Insecure("real.test")
	_, info, err = c.LookupIP(context.Background(), "ip4", "alias.test")
	require.NoError(t, err)
	assert.False(t, info.Authentic, "an insecure name on the chain makes the answer insecure")
}

func TestDNSClientTruncatedRetriesOverTCP(t *testing.T) {
	z := newTestDNS(t)
	z.TXT("big.test", "v=STSv1; id=big")
	z.Truncate("big.test")
	c := &DNSClient{Addr: z.Addr}

	txt, _, err := c.LookupTXT(context.Background(), "big.test")
	require.NoError(t, err)
	assert.Equal(t, []string{"v=STSv1; id=big"}, txt)
	assert.Equal(t, int64(1), z.udpQueries.Load())
	assert.Equal(t, int64(1), z.tcpQueries.Load())
}
