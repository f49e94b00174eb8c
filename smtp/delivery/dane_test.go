package delivery

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tlsaFor makes the TLSA record of cert for usage, selector and matching.
func tlsaFor(cert *x509.Certificate, u TLSAUsage, s TLSASelector, m TLSAMatchingType) TLSA {
	data := cert.Raw
	if s == SelectorSPKI {
		data = cert.RawSubjectPublicKeyInfo
	}
	switch m {
	case MatchSHA256:
		sum := sha256.Sum256(data)
		data = sum[:]
	case MatchSHA512:
		sum := sha512.Sum512(data)
		data = sum[:]
	}
	return TLSA{Usage: u, Selector: s, MatchingType: m, Data: append([]byte(nil), data...)}
}

func chainOf(c tls.Certificate) []*x509.Certificate {
	var chain []*x509.Certificate
	for _, der := range c.Certificate {
		cert, _ := x509.ParseCertificate(der)
		chain = append(chain, cert)
	}
	return chain
}

func TestTLSAUsable(t *testing.T) {
	h := make([]byte, 32)
	for _, tc := range []struct {
		rec  TLSA
		want bool
	}{
		{TLSA{3, 1, 1, h}, true},
		{TLSA{2, 0, 1, h}, true},
		{TLSA{3, 0, 2, make([]byte, 64)}, true},
		{TLSA{3, 0, 0, []byte{1}}, true},
		{TLSA{0, 1, 1, h}, false}, // PKIX-TA, RFC 7672 section 3.1.3
		{TLSA{1, 1, 1, h}, false}, // PKIX-EE
		{TLSA{4, 1, 1, h}, false},
		{TLSA{3, 2, 1, h}, false},
		{TLSA{3, 1, 3, h}, false},
		{TLSA{3, 1, 1, h[:31]}, false},
		{TLSA{3, 1, 2, h}, false},
		{TLSA{3, 1, 0, nil}, false},
	} {
		assert.Equal(t, tc.want, tc.rec.Usable(), tc.rec.String())
	}
}

func TestVerifyDANE(t *testing.T) {
	ca := newTestCA(t, "DANE CA")
	now := time.Now()
	good := ca.valid(t, "mx.example.test")
	expired := ca.leaf(t, now.Add(-48*time.Hour), now.Add(-24*time.Hour), "mx.example.test")
	otherName := ca.valid(t, "other.test")
	leaf := chainOf(good)[0]
	caCert := ca.cert
	wrong := TLSA{3, 1, 1, make([]byte, 32)}

	for _, tc := range []struct {
		name  string
		chain tls.Certificate
		recs  []TLSA
		want  ResultType // "" for success
	}{
		{"EE cert full", good, []TLSA{tlsaFor(leaf, 3, 0, 0)}, ""},
		{"EE cert sha256", good, []TLSA{tlsaFor(leaf, 3, 0, 1)}, ""},
		{"EE cert sha512", good, []TLSA{tlsaFor(leaf, 3, 0, 2)}, ""},
		{"EE spki full", good, []TLSA{tlsaFor(leaf, 3, 1, 0)}, ""},
		{"EE spki sha256", good, []TLSA{tlsaFor(leaf, 3, 1, 1)}, ""},
		{"EE spki sha512", good, []TLSA{tlsaFor(leaf, 3, 1, 2)}, ""},
		{"EE ignores names", otherName, []TLSA{tlsaFor(chainOf(otherName)[0], 3, 1, 1)}, ""},
		{"EE ignores expiry", expired, []TLSA{tlsaFor(chainOf(expired)[0], 3, 1, 1)}, ""},
		{"EE mismatch", good, []TLSA{wrong}, ResultTLSAInvalid},
		{"one of several matches", good, []TLSA{wrong, tlsaFor(leaf, 3, 1, 1)}, ""},
		{"TA cert full", good, []TLSA{tlsaFor(caCert, 2, 0, 0)}, ""},
		{"TA cert sha256", good, []TLSA{tlsaFor(caCert, 2, 0, 1)}, ""},
		{"TA spki sha256", good, []TLSA{tlsaFor(caCert, 2, 1, 1)}, ""},
		{"TA spki sha512", good, []TLSA{tlsaFor(caCert, 2, 1, 2)}, ""},
		{"TA name mismatch", otherName, []TLSA{tlsaFor(caCert, 2, 0, 1)}, ResultCertificateHostMismatch},
		{"TA expired leaf", expired, []TLSA{tlsaFor(caCert, 2, 0, 1)}, ResultCertificateExpired},
		{"TA record for another CA", good, []TLSA{tlsaFor(newTestCA(t, "Other").cert, 2, 0, 1)}, ResultTLSAInvalid},
		{"TA record matching the leaf only", good, []TLSA{tlsaFor(leaf, 2, 0, 1)}, ResultTLSAInvalid},
		{"PKIX-EE is not used", good, []TLSA{tlsaFor(leaf, 1, 0, 1)}, ResultTLSAInvalid},
		{"PKIX-TA is not used", good, []TLSA{tlsaFor(caCert, 0, 0, 1)}, ResultTLSAInvalid},
	} {
		err := VerifyDANE(chainOf(tc.chain), tc.recs, []string{"mx.example.test"}, now)
		if tc.want == "" {
			assert.NoError(t, err, tc.name)
			continue
		}
		var f *TLSFailure
		if assert.ErrorAs(t, err, &f, tc.name) {
			assert.Equal(t, tc.want, f.Result, "%s: %v", tc.name, err)
		}
	}
}

// daneCase is one row of the DANE decision table.
type daneCase struct {
	name string
	// setup adds the MX host's TLSA records and DNS quirks; cert is the
	// host's certificate, ca its issuer.
	setup    func(n *testNet, cert tls.Certificate)
	certName string // the MX certificate's name; "" means no STARTTLS
	want     Status
	policy   PolicyType
	failure  ResultType
	verified bool
	stored   bool
}

func TestDANEDecisions(t *testing.T) {
	const mx = "mx.example.test"
	tlsaAt := func(n *testNet) string { return tlsaName(n.port, mx) }
	ee := func(n *testNet, c tls.Certificate) { n.dns.TLSA(tlsaAt(n), tlsaFor(c.Leaf, 3, 1, 1)) }
	ta := func(n *testNet, c tls.Certificate) { n.dns.TLSA(tlsaAt(n), tlsaFor(n.ca.cert, 2, 0, 1)) }
	requireDANE := false
	wrongEE := func(n *testNet, c tls.Certificate) { n.dns.TLSA(tlsaAt(n), TLSA{3, 1, 1, make([]byte, 32)}) }
	for _, tc := range []daneCase{
		{name: "DANE-EE match", setup: ee, certName: "anything.test", want: Delivered, policy: PolicyTLSA, verified: true, stored: true},
		{name: "DANE-EE mismatch", setup: wrongEE, certName: mx, want: TemporaryFailure, policy: PolicyTLSA, failure: ResultTLSAInvalid},
		{name: "DANE-TA match", setup: ta, certName: mx, want: Delivered, policy: PolicyTLSA, verified: true, stored: true},
		{name: "DANE-TA name mismatch", setup: ta, certName: "other.test", want: TemporaryFailure, policy: PolicyTLSA, failure: ResultCertificateHostMismatch},
		{name: "DANE without STARTTLS", setup: ee, certName: "", want: TemporaryFailure, policy: PolicyTLSA, failure: ResultSTARTTLSNotSupported},
		{name: "no TLSA", setup: func(*testNet, tls.Certificate) {}, certName: "other.test", want: Delivered, policy: PolicyNotFound, stored: true},
		{name: "insecure TLSA", setup: func(n *testNet, c tls.Certificate) {
			wrongEE(n, c)
			n.dns.Insecure(tlsaAt(n))
		}, certName: mx, want: Delivered, policy: PolicyNotFound, stored: true},
		{name: "insecure MX RRset", setup: func(n *testNet, c tls.Certificate) {
			wrongEE(n, c)
			n.dns.Insecure("example.test")
		}, certName: mx, want: Delivered, policy: PolicyNotFound, stored: true},
		{name: "insecure MX host address", setup: func(n *testNet, c tls.Certificate) {
			wrongEE(n, c)
			n.dns.Insecure(mx)
		}, certName: mx, want: Delivered, policy: PolicyNotFound, stored: true},
		{name: "bogus TLSA", setup: func(n *testNet, c tls.Certificate) {
			n.dns.ServFail(tlsaAt(n))
		}, certName: mx, want: TemporaryFailure, policy: PolicyTLSA, failure: ResultDNSSECInvalid},
		{name: "only PKIX usages, TLS offered", setup: func(n *testNet, c tls.Certificate) {
			n.dns.TLSA(tlsaAt(n), tlsaFor(c.Leaf, 1, 1, 1))
			n.dns.TLSA(tlsaAt(n), tlsaFor(n.ca.cert, 0, 1, 1))
		}, certName: "other.test", want: Delivered, policy: PolicyNotFound, stored: true},
		{name: "only PKIX usages, no STARTTLS", setup: func(n *testNet, c tls.Certificate) {
			n.dns.TLSA(tlsaAt(n), TLSA{1, 1, 1, make([]byte, 32)})
		}, certName: "", want: TemporaryFailure, policy: PolicyNotFound, failure: ResultSTARTTLSNotSupported},
		{name: "RequireDANE, no TLSA", setup: func(n *testNet, c tls.Certificate) {
			requireDANE = true
		}, certName: mx, want: TemporaryFailure, policy: PolicyTLSA, failure: ResultDANERequired},
		{name: "RequireDANE, DANE-EE match", setup: func(n *testNet, c tls.Certificate) {
			requireDANE = true
			ee(n, c)
		}, certName: mx, want: Delivered, policy: PolicyTLSA, verified: true, stored: true},
		{name: "DANE wins over MTA-STS", setup: func(n *testNet, c tls.Certificate) {
			ee(n, c)
			n.dns.TXT("_mta-sts.example.test", "v=STSv1; id=1")
			n.https.set("example.test", testPolicy{body: "version: STSv1\nmode: enforce\nmx: elsewhere.test\nmax_age: 600\n"})
		}, certName: "not.the.mx.test", want: Delivered, policy: PolicyTLSA, verified: true, stored: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newTestNet(t)
			name := tc.certName
			if name == "" {
				name = mx
			}
			cert := n.ca.valid(t, name)
			var o mxOpts
			if tc.certName != "" {
				o.cert = &cert
			}
			m := n.addMX(mx, o)
			n.dns.MX("example.test", 10, mx)
			requireDANE = false
			tc.setup(n, cert)
			d := n.deliverer()
			d.RequireDANE = requireDANE

			rep := deliver(t, d, message("x@example.test"))

			r := rep.Results[0]
			assert.Equal(t, tc.want, r.Status, "%v", r.Err)
			assert.Equal(t, tc.policy, r.TLS.Policy)
			assert.Equal(t, tc.failure, r.TLS.Failure, r.TLS.Detail)
			assert.Equal(t, tc.verified, r.TLS.Verified)
			assert.Equal(t, tc.stored, len(m.messages()) == 1)
			if tc.want == TemporaryFailure {
				assert.True(t, smtpError(t, r.Err).Temporary())
			}
		})
	}
}

func TestDANECNAMEExpansion(t *testing.T) {
	n := newTestNet(t)
	cert := n.ca.valid(t, "real.example.test")
	m := n.addMX("real.example.test", mxOpts{cert: &cert})
	n.dns.CNAME("mx.example.test", "real.example.test")
	n.dns.MX("example.test", 10, "mx.example.test")
	n.dns.TLSA(tlsaName(n.port, "real.example.test"), tlsaFor(n.ca.cert, 2, 0, 1))

	rep := deliver(t, n.deliverer(), message("x@example.test"))

	r := rep.Results[0]
	assert.Equal(t, Delivered, r.Status, "%v", r.Err)
	assert.Equal(t, PolicyTLSA, r.TLS.Policy)
	assert.True(t, r.TLS.Verified, "DANE-TA accepts the TLSA base domain after CNAME expansion")
	require.Len(t, m.messages(), 1)
	assert.Equal(t, "real.example.test", m.messages()[0].sni, "the SNI is the TLSA base domain")
}

func TestDANEFollowsPortSetting(t *testing.T) {
	n := newTestNet(t)
	cert := n.ca.valid(t, "mx.example.test")
	n.addMX("mx.example.test", mxOpts{cert: &cert})
	n.dns.MX("example.test", 10, "mx.example.test")
	n.dns.TLSA("_25._tcp.mx.example.test", TLSA{3, 1, 1, make([]byte, 32)})
	require.NotEqual(t, 25, n.port)
	n.dns.TLSA("_"+strconv.Itoa(n.port)+"._tcp.mx.example.test", tlsaFor(cert.Leaf, 3, 1, 1))

	rep := deliver(t, n.deliverer(), message("x@example.test"))
	assert.Equal(t, Delivered, rep.Results[0].Status, "%v", rep.Results[0].Err)
	assert.True(t, rep.Results[0].TLS.Verified)
}

func TestDANETLSRequiredNo(t *testing.T) {
	n := newTestNet(t)
	cert := n.ca.valid(t, "mx.example.test")
	m := n.addMX("mx.example.test", mxOpts{cert: &cert})
	n.dns.MX("example.test", 10, "mx.example.test")
	n.dns.TLSA(tlsaName(n.port, "mx.example.test"), TLSA{3, 1, 1, make([]byte, 32)})
	msg := message("x@example.test")
	msg.TLSRequiredNo = true

	rep := deliver(t, n.deliverer(), msg)

	r := rep.Results[0]
	assert.Equal(t, Delivered, r.Status, "%v", r.Err)
	assert.Equal(t, ResultTLSAInvalid, r.TLS.Failure, "the failure is still reported")
	assert.False(t, r.TLS.Enforced)
	assert.True(t, r.TLS.TLS)
	assert.Len(t, m.messages(), 1)
}
