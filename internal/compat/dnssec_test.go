package compat

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

// TestDNSSECChain proves the chain with raw queries to Unbound: what comes
// from the signed zone is validated (AD, RFC 4035 section 3.2.3), what comes
// from the unsigned delegation or from outside the trust anchor is not
// (insecure, AD clear), and what was altered after signing or carries
// expired signatures is bogus, which a validating resolver answers with
// SERVFAIL (RFC 4035 section 5.5) while NSD still serves the records.
func TestDNSSECChain(t *testing.T) {
	t.Parallel()
	c := startDNSSEC(t, dnssecOptions{Port53: true})
	t.Logf("chain started in %v", c.Started)
	tlsaName := func(domain string) string { return fmt.Sprintf("_%d._tcp.mx.%s", c.MXPort, domain) }

	cases := []struct {
		name   string
		qname  string
		qtype  dnsmessage.Type
		rcode  dnsmessage.RCode
		ad     bool
		answer func(dnsAnswer) []string // nil: no answer to compare
		want   []string
	}{
		{"signed-mx", domainDANEEE, dnsmessage.TypeMX, dnsmessage.RCodeSuccess, true,
			dnsAnswer.MX, []string{"10 mx." + domainDANEEE + "."}},
		{"signed-a", "mx." + domainDANEEE, dnsmessage.TypeA, dnsmessage.RCodeSuccess, true,
			dnsAnswer.A, []string{"127.0.0.1"}},
		{"signed-tlsa-dane-ee", tlsaName(domainDANEEE), typeTLSA, dnsmessage.RCodeSuccess, true,
			dnsAnswer.TLSA, []string{"3 1 1 " + c.Certs.spkiSHA256()}},
		{"signed-tlsa-dane-ta", tlsaName(domainDANETA), typeTLSA, dnsmessage.RCodeSuccess, true,
			dnsAnswer.TLSA, []string{"2 0 1 " + c.Certs.caCertSHA256()}},
		{"signed-tlsa-mismatch", tlsaName(domainMismatch), typeTLSA, dnsmessage.RCodeSuccess, true,
			dnsAnswer.TLSA, []string{"3 1 1 " + c.Certs.otherSPKISHA256()}},
		// No TLSA name: a validated denial of existence (NSEC).
		{"signed-no-tlsa", tlsaName(domainNoTLSA), typeTLSA, dnsmessage.RCodeNameError, true,
			dnsAnswer.TLSA, nil},
		{"signed-null-mx", domainNullMX, dnsmessage.TypeMX, dnsmessage.RCodeSuccess, true,
			dnsAnswer.MX, []string{"0 ."}},
		{"insecure-mx", domainInsecure, dnsmessage.TypeMX, dnsmessage.RCodeSuccess, false,
			dnsAnswer.MX, []string{"10 mx." + domainInsecure + "."}},
		{"insecure-tlsa", tlsaName(domainInsecure), typeTLSA, dnsmessage.RCodeSuccess, false,
			dnsAnswer.TLSA, []string{"3 1 1 " + c.Certs.spkiSHA256()}},
		{"bogus-mx", domainBogusMX, dnsmessage.TypeMX, dnsmessage.RCodeServerFailure, false, nil, nil},
		{"bogus-mx-host-still-valid", "mx." + domainBogusMX, dnsmessage.TypeA, dnsmessage.RCodeSuccess, true,
			dnsAnswer.A, []string{"127.0.0.1"}},
		{"bogus-tlsa", tlsaName(domainBogusTLSA), typeTLSA, dnsmessage.RCodeServerFailure, false, nil, nil},
		{"bogus-tlsa-mx-still-valid", domainBogusTLSA, dnsmessage.TypeMX, dnsmessage.RCodeSuccess, true,
			dnsAnswer.MX, []string{"10 mx." + domainBogusTLSA + "."}},
		{"expired-mx", domainExpired, dnsmessage.TypeMX, dnsmessage.RCodeServerFailure, false, nil, nil},
		{"expired-tlsa", tlsaName(domainExpired), typeTLSA, dnsmessage.RCodeServerFailure, false, nil, nil},
		{"outside-anchor-mx", domainSTS, dnsmessage.TypeMX, dnsmessage.RCodeSuccess, false,
			dnsAnswer.MX, []string{"10 mx." + domainSTS + "."}},
		{"outside-anchor-mta-sts", "_mta-sts." + domainSTS, dnsmessage.TypeTXT, dnsmessage.RCodeSuccess, false,
			dnsAnswer.TXT, []string{"v=STSv1; id=" + stsPolicyID + ";"}},
		{"outside-anchor-policy-host", "mta-sts." + domainSTS, dnsmessage.TypeA, dnsmessage.RCodeSuccess, false,
			dnsAnswer.A, []string{c.PolicyIP()}},
		{"outside-anchor-mta-sts-badmx", "_mta-sts." + domainSTSBadMX, dnsmessage.TypeTXT, dnsmessage.RCodeSuccess, false,
			dnsAnswer.TXT, []string{"v=STSv1; id=" + stsPolicyID + ";"}},
		// A name outside the chain's zones: the resolver may ask nothing
		// off this machine, so it fails.
		{"outside-chain", "postwire.example", dnsmessage.TypeMX, dnsmessage.RCodeServerFailure, false, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := dnsQuery(c.Resolver, tc.qname, tc.qtype)
			require.NoError(t, err)
			assert.Equal(t, tc.rcode, a.RCode, "rcode of %s %v\n%s", tc.qname, tc.qtype, c.UnboundLog())
			assert.Equal(t, tc.ad, a.AD, "AD of %s %v\n%s", tc.qname, tc.qtype, c.UnboundLog())
			if tc.answer != nil {
				assert.Equal(t, tc.want, tc.answer(a), "%s %v", tc.qname, tc.qtype)
			}
		})
	}

	// The bogus answers are the resolver's verdict: NSD, which does not
	// validate, serves the altered records and the expired zone alike.
	t.Run("authority-serves-what-resolver-refuses", func(t *testing.T) {
		for _, q := range []struct {
			name  string
			qtype dnsmessage.Type
		}{{domainBogusMX, dnsmessage.TypeMX}, {tlsaName(domainBogusTLSA), typeTLSA}, {domainExpired, dnsmessage.TypeMX}} {
			a, err := dnsQuery(c.Authority, q.name, q.qtype)
			require.NoError(t, err)
			assert.Equal(t, dnsmessage.RCodeSuccess, a.RCode, "%s at NSD", q.name)
			assert.True(t, a.Authoritative, "%s at NSD", q.name)
			assert.Len(t, a.Answers, 2, "%s at NSD: the record and its RRSIG", q.name)
		}
	})

	// Our server as the MX host of every domain: what a client that
	// follows the validated MX, A and TLSA answers finds at the MX port
	// is the certificate the TLSA records describe (or, for the mismatch,
	// do not describe), and a message sent there is stored.
	t.Run("go-mx-host", func(t *testing.T) {
		mx := startPostwire(t, c.mxConfig())
		for i, tc := range []struct {
			domain string
			match  func(tlsa, host string, chain []*x509.Certificate) bool
			want   bool
		}{
			{domainDANEEE, matchDANEEE, true},
			{domainDANETA, matchDANETA, true},
			{domainMismatch, matchDANEEE, false},
		} {
			host := "mx." + tc.domain
			mxa := requireSecure(t, c, tc.domain, dnsmessage.TypeMX)
			require.Equal(t, []string{"10 " + host + "."}, mxa.MX())
			require.Equal(t, []string{"127.0.0.1"}, requireSecure(t, c, host, dnsmessage.TypeA).A())
			tlsa := requireSecure(t, c, tlsaName(tc.domain), typeTLSA).TLSA()
			require.Len(t, tlsa, 1)

			var peer []*x509.Certificate
			opts := smtp.DialOptions{LocalName: "client.test.example", TLSConfig: &tls.Config{
				ServerName:         host,
				InsecureSkipVerify: true, // DANE decides, below
				VerifyConnection: func(cs tls.ConnectionState) error {
					peer = cs.PeerCertificates
					return nil
				},
			}}
			res, _, err := clientSend(t, fmt.Sprintf("127.0.0.1:%d", c.MXPort), sendSpec{opts: opts, startTLS: true,
				env: smtp.Envelope{From: "alice@client.test.example", To: []string{"bob@" + tc.domain}}},
				testMessage("go mx "+tc.domain, false))
			require.NoError(t, err)
			require.NoError(t, res.Recipients[0].Err)
			assert.Equal(t, tc.want, tc.match(tlsa[0], host, peer), "%s: %s", tc.domain, tlsa[0])
			assert.Equal(t, []string{"bob@" + tc.domain}, mx.rec.wait(t, i+1, 5*time.Second)[i].To)
		}
	})

	// domainSTS's policy host serves its policy over HTTPS with a
	// certificate that verifies for the host's name against the chain's
	// CA, and only against it (RFC 8461 section 3.3).
	t.Run("mta-sts-policy", func(t *testing.T) {
		sts := c.startSTSPolicy(t, "enforce")
		resp, err := sts.Client.Get("https://" + stsPolicyHost + "/.well-known/mta-sts.txt")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
		assert.Equal(t, "version: STSv1\r\nmode: enforce\r\nmx: mx.sts.test\r\nmax_age: 86400\r\n", string(body))
		require.NotNil(t, resp.TLS)
		assert.NoError(t, resp.TLS.PeerCertificates[0].VerifyHostname(stsPolicyHost))

		// The other domain's policy lists another MX host.
		resp2, err := sts.Client.Get("https://mta-sts." + domainSTSBadMX + "/.well-known/mta-sts.txt")
		require.NoError(t, err)
		body2, _ := io.ReadAll(resp2.Body)
		resp2.Body.Close()
		assert.Contains(t, string(body2), "\r\nmx: mx.elsewhere.test\r\n")

		// Port 443 of the policy hosts' address in the DNS serves the same.
		if sts.Addr443 != "" {
			direct := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: c.Certs.CAPool},
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, network, net.JoinHostPort(c.PolicyIP(), "443"))
				},
			}}
			resp3, err := direct.Get("https://" + stsPolicyHost + "/.well-known/mta-sts.txt")
			require.NoError(t, err)
			body3, _ := io.ReadAll(resp3.Body)
			resp3.Body.Close()
			assert.Equal(t, string(body), string(body3))
		}

		untrusting := &http.Client{Transport: sts.Client.Transport.(*http.Transport).Clone()}
		untrusting.Transport.(*http.Transport).TLSClientConfig = &tls.Config{}
		_, err = untrusting.Get("https://" + stsPolicyHost + "/.well-known/mta-sts.txt")
		var unknown x509.UnknownAuthorityError
		assert.ErrorAs(t, err, &unknown, "a client without the chain's CA")
	})

	// Port 53 of the chain's own loopback address is the same resolver.
	t.Run("port-53", func(t *testing.T) {
		if c.Resolver53 == "" {
			t.Skip("port 53 cannot be bound here")
		}
		a, err := dnsQuery(c.Resolver53, domainDANEEE, dnsmessage.TypeMX)
		require.NoError(t, err)
		assert.Equal(t, dnsmessage.RCodeSuccess, a.RCode)
		assert.True(t, a.AD)
		assert.Equal(t, []string{"10 mx." + domainDANEEE + "."}, a.MX())
	})
}

// requireSecure asks the chain's resolver and requires a validated answer.
func requireSecure(t testing.TB, c *dnssecChain, name string, qtype dnsmessage.Type) dnsAnswer {
	t.Helper()
	a, err := dnsQuery(c.Resolver, name, qtype)
	require.NoError(t, err)
	require.Equal(t, dnsmessage.RCodeSuccess, a.RCode, "%s %v\n%s", name, qtype, c.UnboundLog())
	require.True(t, a.AD, "%s %v not validated", name, qtype)
	return a
}

// matchDANEEE says whether a "3 1 1" record names the leaf's public key
// (RFC 7672 section 3.1.1: the name and dates are not checked).
func matchDANEEE(tlsa, _ string, chain []*x509.Certificate) bool {
	return len(chain) > 0 && tlsa == "3 1 1 "+sha256Hex(chain[0].RawSubjectPublicKeyInfo)
}

// matchDANETA says whether a "2 0 1" record names a certificate of the
// chain after the leaf that issued the leaf, and the leaf's names include
// host, the MX host (RFC 7672 sections 3.1.2 and 3.2.1).
func matchDANETA(tlsa, host string, chain []*x509.Certificate) bool {
	if len(chain) < 2 {
		return false
	}
	for _, ta := range chain[1:] {
		if tlsa != "2 0 1 "+sha256Hex(ta.Raw) {
			continue
		}
		roots := x509.NewCertPool()
		roots.AddCert(ta)
		_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: host})
		return err == nil
	}
	return false
}
