package delivery

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/postwire/postwire/smtp"
)

func TestHasTLSRequiredNo(t *testing.T) {
	for msg, want := range map[string]bool{
		"From: a@b\r\nTLS-Required: No\r\n\r\nbody":     true,
		"tls-required:no\n\nbody":                       true,
		"Subject: x\r\nTLS-Required:\r\n  No\r\n\r\n":   true,
		"From: a@b\r\nTLS-Required: Yes\r\n\r\n":        false,
		"From: a@b\r\n\r\nTLS-Required: No\r\n":         false,
		"X-TLS-Required: No\r\n\r\n":                    false,
		"Subject: TLS-Required: No\r\n\r\n":             false,
		"From: a@b\r\nTLS-Required: No, please\r\n\r\n": false,
		"": false,
	} {
		assert.Equal(t, want, HasTLSRequiredNo([]byte(msg)), "%q", msg)
	}
}

func requireTLSMessage(to ...string) *Message {
	m := message(to...)
	m.MailOptions = &smtp.MailOptions{RequireTLS: true}
	return m
}

func TestRequireTLSDelivered(t *testing.T) {
	n := newTestNet(t)
	cert := n.ca.valid(t, "mx.example.test")
	m := n.addMX("mx.example.test", mxOpts{cert: &cert, requireTLS: true})
	n.dns.MX("example.test", 10, "mx.example.test")
	n.dns.TLSA(tlsaName(n.port, "mx.example.test"), tlsaFor(cert.Leaf, 3, 1, 1))

	rep := deliver(t, n.deliverer(), requireTLSMessage("x@example.test"))

	assert.Equal(t, Delivered, rep.Results[0].Status, "%v", rep.Results[0].Err)
	if assert.Len(t, m.messages(), 1) {
		assert.True(t, m.messages()[0].requireTLS, "MAIL FROM carried REQUIRETLS")
		assert.True(t, m.messages()[0].tls)
	}
}

func TestRequireTLSWithMTASTSTesting(t *testing.T) {
	n := newTestNet(t)
	cert := n.ca.valid(t, "mx.example.test")
	m := n.addMX("mx.example.test", mxOpts{cert: &cert, requireTLS: true})
	n.dns.MX("example.test", 10, "mx.example.test")
	n.dns.TXT("_mta-sts.example.test", "v=STSv1; id=1")
	n.https.set("example.test", testPolicy{body: "version: STSv1\nmode: testing\nmx: mx.example.test\nmax_age: 600\n"})
	d := n.deliverer()
	d.Resolver = netResolverFor(n.dns.Addr)

	rep := deliver(t, d, requireTLSMessage("x@example.test"))

	r := rep.Results[0]
	assert.Equal(t, Delivered, r.Status, "%v", r.Err)
	assert.True(t, r.TLS.Enforced, "a REQUIRETLS message treats testing as enforce")
	assert.True(t, r.TLS.Verified)
	assert.Len(t, m.messages(), 1)
}

func TestRequireTLSRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(n *testNet) *testMX
		// connected: whether the MX host saw a connection
		connected bool
	}{
		{"no policy", func(n *testNet) *testMX {
			cert := n.ca.valid(t, "mx.example.test")
			return n.addMX("mx.example.test", mxOpts{cert: &cert, requireTLS: true})
		}, false},
		{"verified but REQUIRETLS not offered", func(n *testNet) *testMX {
			cert := n.ca.valid(t, "mx.example.test")
			m := n.addMX("mx.example.test", mxOpts{cert: &cert})
			n.dns.TLSA(tlsaName(n.port, "mx.example.test"), tlsaFor(cert.Leaf, 3, 1, 1))
			return m
		}, true},
		{"MX RRset insecure", func(n *testNet) *testMX {
			cert := n.ca.valid(t, "mx.example.test")
			m := n.addMX("mx.example.test", mxOpts{cert: &cert, requireTLS: true})
			n.dns.TLSA(tlsaName(n.port, "mx.example.test"), tlsaFor(cert.Leaf, 3, 1, 1))
			n.dns.Insecure("example.test")
			return m
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newTestNet(t)
			m := tc.setup(n)
			n.dns.MX("example.test", 10, "mx.example.test")
			msg := requireTLSMessage("x@example.test", "y@example.test")
			msg.TLSRequiredNo = true // REQUIRETLS wins over it

			rep := deliver(t, n.deliverer(), msg)

			for _, r := range rep.Results {
				assert.Equal(t, PermanentFailure, r.Status, "%v", r.Err)
				assert.Equal(t, smtp.EnhancedCode{5, 7, 30}, smtpError(t, r.Err).Enhanced)
			}
			assert.Empty(t, m.messages(), "the body never left")
			assert.Equal(t, tc.connected, m.connections() > 0)
		})
	}
}

func TestTLSRequiredNoOverridesMTASTS(t *testing.T) {
	n := newTestNet(t)
	cert := n.ca.valid(t, "wrong.test")
	m := n.addMX("mx.example.test", mxOpts{cert: &cert})
	n.dns.MX("example.test", 10, "mx.example.test")
	n.dns.TXT("_mta-sts.example.test", "v=STSv1; id=1")
	n.https.set("example.test", testPolicy{body: "version: STSv1\nmode: enforce\nmx: other.test\nmax_age: 600\n"})
	d := n.deliverer()
	d.Resolver = netResolverFor(n.dns.Addr)
	msg := message("x@example.test")
	msg.TLSRequiredNo = true

	rep := deliver(t, d, msg)

	r := rep.Results[0]
	assert.Equal(t, Delivered, r.Status, "%v", r.Err)
	assert.False(t, r.TLS.Enforced)
	assert.NotEmpty(t, r.TLS.Failure, "the failure is still reported")
	assert.Len(t, m.messages(), 1)
}
