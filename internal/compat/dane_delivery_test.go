package compat

import (
	"context"
	"testing"
	"time"

	"github.com/postwire/postwire/smtp"
	"github.com/postwire/postwire/smtp/delivery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDeliveryDANE runs the cells of TestPostfixDANE and TestPostfixMTASTS
// through smtp/delivery: the chain's Unbound as the validating resolver,
// our server as every MX host (127.0.0.1 at the chain's MX port, STARTTLS
// with the leaf and the CA), the expected outcomes from RFC 7672, RFC 7505
// and RFC 8461. Postfix decides the same in each case (dane_postfix_test.go).
func TestDeliveryDANE(t *testing.T) {
	t.Parallel()
	chain := startDNSSEC(t, dnssecOptions{})
	mx := startPostwire(t, chain.mxConfig())
	sts := chain.startSTSPolicy(t, "enforce")
	d := &delivery.Deliverer{
		Hostname:       "client.test.example",
		DNSSECResolver: chain.Resolver,
		Port:           chain.MXPort,
		AddressFamily:  delivery.IPv4Only,
		STSFetcher:     &delivery.STSFetcher{Client: sts.Client},
		RootCAs:        chain.Certs.CAPool,
		AttemptTimeout: 10 * time.Second,
		Timeout:        20 * time.Second,
	}

	cases := []struct {
		domain   string
		status   delivery.Status
		policy   delivery.PolicyType // of the attempt; "" when not checked
		verified bool
	}{
		{domainDANEEE, delivery.Delivered, delivery.PolicyTLSA, true},
		{domainDANETA, delivery.Delivered, delivery.PolicyTLSA, true},
		{domainMismatch, delivery.TemporaryFailure, delivery.PolicyTLSA, false},
		{domainNoTLSA, delivery.Delivered, delivery.PolicyNotFound, false},
		{domainNullMX, delivery.PermanentFailure, "", false},
		{domainBogusMX, delivery.TemporaryFailure, "", false},
		{domainBogusTLSA, delivery.TemporaryFailure, "", false},
		{domainExpired, delivery.TemporaryFailure, "", false},
		{domainInsecure, delivery.Delivered, delivery.PolicyNotFound, false},
		{domainSTS, delivery.Delivered, delivery.PolicySTS, true},
		{domainSTSBadMX, delivery.TemporaryFailure, delivery.PolicySTS, false},
	}
	var delivered []string
	for _, tc := range cases {
		t.Run(tc.domain, func(t *testing.T) {
			msg := &delivery.Message{
				Envelope: smtp.Envelope{From: "alice@client.test.example", To: []string{"bob@" + tc.domain}},
				Body:     toCRLF(testMessage("delivery "+tc.domain, false)),
			}
			rep, err := d.Deliver(context.Background(), msg)
			require.NoError(t, err)
			res := rep.Results[0]
			t.Logf("%v %v tls=%+v", res.Status, res.Err, res.TLS)
			require.Equal(t, tc.status, res.Status, "%v\n%s", res.Err, chain.UnboundLog())
			if tc.policy != "" {
				assert.Equal(t, tc.policy, res.TLS.Policy)
			}
			if tc.status == delivery.Delivered {
				delivered = append(delivered, "bob@"+tc.domain)
				assert.True(t, res.TLS.TLS, "not over TLS")
				assert.Equal(t, tc.verified, res.TLS.Verified, "authenticated")
			}
		})
	}

	var stored []string
	for _, m := range mx.rec.wait(t, len(delivered), 10*time.Second) {
		stored = append(stored, m.To...)
	}
	assert.ElementsMatch(t, delivered, stored)
}
