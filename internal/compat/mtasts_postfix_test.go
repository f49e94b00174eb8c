package compat

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPostfixMTASTS has Postfix's smtp client deliver with MTA-STS (RFC
// 8461) as Postfix does it: postfix-mta-sts-resolver's daemon finds each
// domain's "_mta-sts" TXT record through the chain's resolver, fetches the
// policy over HTTPS from the chain's policy host (port 443 of the chain's
// own loopback address, the certificate verified against the chain's CA),
// and answers Postfix's smtp_tls_policy_maps over a socketmap with
// "secure match=<the policy's mx patterns>" for an enforced policy. DANE
// stays on for the domains without a policy. Both run in the same kind of
// mount namespace as TestPostfixDANE's client.
func TestPostfixMTASTS(t *testing.T) {
	needPostfix(t)
	needBinary(t, "sendmail")
	needBinary(t, "mta-sts-daemon")
	needMountNamespace(t)
	t.Parallel()
	chain := startDNSSEC(t, dnssecOptions{Port53: true})
	if chain.Resolver53 == "" {
		t.Skip("the daemon's and Postfix's resolver need Unbound on port 53, which cannot be bound here")
	}
	sts := chain.startSTSPolicy(t, "enforce")
	require.NotEmpty(t, sts.Addr443)

	socketmap := startMTASTSDaemon(t, chain)
	mx := newDANEReceiver(t, chain)
	client := newDANEClient(t, chain, "smtp_tls_policy_maps = socketmap:inet:"+socketmap+":postfix\n"+
		"smtp_tls_CAfile = "+chain.Certs.CAFile+"\n")

	cases := []struct {
		domain string
		status string // sent or deferred
		tls    string // for sent: how Postfix rates the server's certificate
		reason string // for deferred: Postfix's words for the cause
	}{
		// An enforced policy that lists the MX host, whose certificate
		// is valid for its name under the trusted CA: deliver over
		// authenticated TLS (RFC 8461 sections 4.1, 4.2, 5).
		{domainSTS, "sent", "Verified", ""},
		// An enforced policy that does not list the MX host: the client
		// must not deliver to it; with no other MX, the message waits
		// (RFC 8461 sections 4.1, 5.1).
		{domainSTSBadMX, "deferred", "", "Server certificate not verified"},
		// No MTA-STS policy (no "_mta-sts" record): DANE applies as before
		// (RFC 8461 section 2 leaves DANE to the client's choice).
		{domainDANEEE, "sent", "Verified", ""},
	}
	for _, tc := range cases {
		client.sendmail(t, testMessage("mta-sts "+tc.domain, false), "alice@client.test.example", "bob@"+tc.domain)
	}

	delivered := 0
	for _, tc := range cases {
		t.Run(tc.domain, func(t *testing.T) {
			status, detail := client.finalStatus(t, "bob@"+tc.domain, 30*time.Second)
			t.Logf("status=%s %s", status, detail)
			require.Equal(t, tc.status, status, "%s\n%s", detail, client.maillog())
			if tc.status == "sent" {
				delivered++
				assert.Equal(t, tc.tls, client.tlsTrust(mxOf(tc.domain)), "%s", client.maillog())
			} else {
				assert.Contains(t, detail, tc.reason)
			}
		})
	}
	mx.maildir(t, delivered, 10*time.Second)
}

// mtaSTSDaemonConf is the daemon's configuration: a socketmap on
// 127.0.0.1:%d, policies cached in memory, no proactive fetching.
// (reuse_port must stay true: version 1.1.2 opens no listener without it.)
const mtaSTSDaemonConf = `host: 127.0.0.1
port: %d
reuse_port: true
shutdown_timeout: 2
cache:
  type: internal
  options:
    cache_size: 100
default_zone:
  strict_testing: false
  timeout: 4
`

// startMTASTSDaemon runs postfix-mta-sts-resolver's daemon with the
// chain's resolver and the chain's CA as its only trusted one
// (SSL_CERT_FILE), until the test ends, and returns its socketmap address.
func startMTASTSDaemon(t testing.TB, chain *dnssecChain) string {
	t.Helper()
	addr := freeAddr(t)
	var port int
	fmt.Sscan(portOf(addr), &port)
	conf := filepath.Join(chain.Dir, "mta-sts-daemon.yml")
	require.NoError(t, os.WriteFile(conf, []byte(fmt.Sprintf(mtaSTSDaemonConf, port)), 0o644))

	args := append(chainResolverLauncher(t, chain), "mta-sts-daemon", "-c", conf, "-v", "debug")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+chain.Certs.CAFile)
	startPeer(t, addr, cmd)
	return addr
}
