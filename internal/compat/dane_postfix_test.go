package compat

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPostfixDANE has Postfix's own smtp client deliver to every domain of
// the DNSSEC chain with "smtp_tls_security_level = dane" and
// "smtp_dns_support_level = dnssec", Unbound as its resolver, and a
// Postfix smtpd as every MX host (127.0.0.1 on the chain's MX port, the
// leaf and the CA as its chain). The expected outcome of each domain is
// what RFC 7672 (and RFC 7505 for the null MX) requires; the cells read
// Postfix's log for what it did.
//
// Postfix's resolver is the C library's, which reads /etc/resolv.conf and
// knows only port 53, so the client instance runs in a mount namespace of
// its own (unshare -m) in which a private resolv.conf, naming Unbound on
// port 53 of the chain's own loopback address, is bind-mounted over
// /etc/resolv.conf. Nothing outside that namespace sees it. ("options
// trust-ad" keeps the AD bit for any program of the namespace; Postfix
// asks for it itself when it wants DNSSEC.)
func TestPostfixDANE(t *testing.T) {
	needPostfix(t)
	needBinary(t, "sendmail")
	needMountNamespace(t)
	t.Parallel()
	chain := startDNSSEC(t, dnssecOptions{Port53: true})
	t.Logf("chain started in %v", chain.Started)
	if chain.Resolver53 == "" {
		t.Skip("Postfix's resolver needs Unbound on port 53, which cannot be bound here")
	}

	mx := newDANEReceiver(t, chain)
	client := newDANEClient(t, chain, "")

	cases := []struct {
		domain string
		status string // sent, deferred or bounced
		tls    string // for sent: how Postfix rates the server's certificate
		reason string // for deferred or bounced: Postfix's words for the cause
	}{
		// A secure MX host with a secure TLSA RRset that has usable
		// records: TLS is required and the server is authenticated by the
		// records (RFC 7672 sections 2.2, 3.1.1 for DANE-EE(3)).
		{domainDANEEE, "sent", "Verified", ""},
		// DANE-TA(2): the chain the server sends leads to the trust
		// anchor the record names, and the leaf's names include the MX
		// host (RFC 7672 sections 3.1.2, 3.2.1).
		{domainDANETA, "sent", "Verified", ""},
		// Usable records, none matching: the client must not deliver
		// and treats it as a temporary failure (RFC 7672 section 2.2).
		{domainMismatch, "deferred", "", "Server certificate not verified"},
		// A secure MX host without TLSA records (a validated denial):
		// DANE does not apply, delivery proceeds with opportunistic,
		// unauthenticated TLS (RFC 7672 section 2.2).
		{domainNoTLSA, "sent", "Untrusted", ""},
		// A null MX: the domain accepts no mail, bounce at once (RFC
		// 7505 section 3).
		{domainNullMX, "bounced", "", "does not accept mail"},
		// A bogus MX RRset is a lookup failure: defer, and never fall
		// back to the domain's address records (RFC 7672 section
		// 2.2.1, 2.1.1).
		{domainBogusMX, "deferred", "", "type=MX"},
		// A bogus TLSA RRset: the client must not connect with weaker
		// security; defer (RFC 7672 section 2.2).
		{domainBogusTLSA, "deferred", "", "TLSA lookup error"},
		// Expired signatures make the zone bogus as well: defer (RFC 4035
		// section 5.3.1, RFC 7672 section 2.2.1).
		{domainExpired, "deferred", "", "type=MX"},
		// An insecure delegation: MX and host unsigned, so the TLSA
		// record there, though it would match, does not count; DANE does
		// not apply and TLS stays opportunistic (RFC 7672 section 2.2.1).
		{domainInsecure, "sent", "Untrusted", ""},
		// Outside any trust anchor, as a domain of MTA-STS without DNSSEC
		// is: opportunistic TLS (Postfix has no MTA-STS of its own).
		{domainSTS, "sent", "Untrusted", ""},
	}
	for _, tc := range cases {
		msg := testMessage("dane "+tc.domain, false)
		client.sendmail(t, msg, "alice@client.test.example", "bob@"+tc.domain)
	}

	var delivered []string
	for _, tc := range cases {
		t.Run(tc.domain, func(t *testing.T) {
			status, detail := client.finalStatus(t, "bob@"+tc.domain, 30*time.Second)
			t.Logf("status=%s %s", status, detail)
			require.Equal(t, tc.status, status, "%s\n%s", detail, chain.UnboundLog())
			if tc.status == "sent" {
				delivered = append(delivered, "bob@"+tc.domain)
				assert.Equal(t, tc.tls, client.tlsTrust(mxOf(tc.domain)), "%s", client.maillog())
			} else {
				assert.Contains(t, detail, tc.reason)
			}
		})
	}

	// What the log says was sent is what the MX host stored, no more.
	t.Run("stored", func(t *testing.T) {
		var got []string
		for _, m := range mx.maildir(t, len(delivered), 10*time.Second) {
			for _, line := range strings.Split(string(m), "\n") {
				if to, ok := strings.CutPrefix(line, "Delivered-To: "); ok {
					got = append(got, to)
				}
			}
		}
		assert.ElementsMatch(t, delivered, got)
	})

	// Postfix's own DNSSEC probe (a query for dane.test's NS) saw AD
	// through the C library, or it would have warned.
	t.Run("dnssec-probe", func(t *testing.T) {
		assert.NotContains(t, client.maillog(), "DNSSEC validation may be unavailable")
	})
}

// needMountNamespace skips the test when this process cannot make a mount
// namespace and bind-mount a file in it (it needs CAP_SYS_ADMIN).
func needMountNamespace(t testing.TB) {
	t.Helper()
	needBinary(t, "unshare")
	needBinary(t, "mount")
	out, err := runPeerErr(nil, "unshare", "-m", "--", "mount", "--bind", "/dev/null", "/dev/null")
	if err != nil {
		t.Skipf("no private mount namespace here (unshare -m): %v %s", err, out)
	}
}

// mxOf is the MX host of a domain of the chain.
func mxOf(domain string) string {
	for _, d := range daneDomains {
		if d.Name == domain {
			return d.MX
		}
	}
	return ""
}

// newDANEReceiver starts a Postfix smtpd on 127.0.0.1 at the chain's MX
// port, with the chain's leaf and CA, storing mail for every domain of
// the chain into its Maildir.
func newDANEReceiver(t testing.TB, chain *dnssecChain) *postfix {
	t.Helper()
	var domains []string
	for _, d := range chain.Domains {
		domains = append(domains, d.Name)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", chain.MXPort)
	mainCF := `myhostname = mx.dane.test
virtual_mailbox_domains = ` + strings.Join(domains, ", ") + `
virtual_mailbox_base = %[1]s/vmail
virtual_mailbox_maps = static:catchall/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_mailbox_limit = 0
smtpd_tls_chain_files = ` + chain.Certs.KeyFile + `, ` + chain.Certs.ChainFile + `
smtpd_tls_security_level = may
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
`
	p := newPostfix(t, mainCF, addr+"/inet="+addr+" inet n - n - - smtpd")
	waitListening(t, addr, nil, &lockedBuffer{})
	return p
}

// daneClientCF is main.cf of the sending instance; %[1]d is the MX port,
// which also names the TLSA records. (Postfix looks for mail loops, MX
// hosts at its own addresses such as 127.0.0.1, only on port 25.) The
// bounce of the null-MX cell goes to the sender's domain, which the
// transport map keeps from the DNS.
// dnssec_probe asks for dane.test's NS: Postfix warns when the answer is
// not validated.
const daneClientCF = `myhostname = client.test.example
local_transport = error:local delivery disabled
transport_maps = inline:{ client.test.example=error:bounces-stay-here }
inet_protocols = ipv4
smtp_tcp_port = %[1]d
smtp_tls_security_level = dane
smtp_dns_support_level = dnssec
dnssec_probe = ns:dane.test
`

// newDANEClient starts the sending instance in its own mount namespace
// with the chain's resolver as its resolv.conf; extraCF is added to its
// main.cf.
func newDANEClient(t testing.TB, chain *dnssecChain, extraCF string) *postfix {
	t.Helper()
	return newPostfixLaunched(t, chainResolverLauncher(t, chain), fmt.Sprintf(daneClientCF, chain.MXPort)+extraCF)
}

// chainResolverLauncher is a command prefix that runs a program in a mount
// namespace of its own whose /etc/resolv.conf names the chain's resolver
// on port 53 (a private file bind-mounted over it).
func chainResolverLauncher(t testing.TB, chain *dnssecChain) []string {
	t.Helper()
	host := strings.TrimSuffix(chain.Resolver53, ":53")
	resolv := filepath.Join(chain.Dir, "resolv.conf")
	conf := "nameserver " + host + "\noptions trust-ad edns0 attempts:1 timeout:3\n"
	require.NoError(t, os.WriteFile(resolv, []byte(conf), 0o644))
	return []string{"unshare", "-m", "--", "sh", "-c", `mount --bind "$0" /etc/resolv.conf && exec "$@"`, resolv}
}

// finalStatus waits until the log holds the outcome of delivering to rcpt
// and returns its status (sent, deferred, bounced) and the rest of the line.
func (p *postfix) finalStatus(t testing.TB, rcpt string, timeout time.Duration) (string, string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, line := range strings.Split(p.maillog(), "\n") {
			if !strings.Contains(line, " to=<"+rcpt+">,") {
				continue
			}
			if _, after, ok := strings.Cut(line, " status="); ok {
				status, detail, _ := strings.Cut(after, " ")
				return status, detail
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no status for %s after %v:\n%s", rcpt, timeout, p.maillog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tlsTrust is the word Postfix's smtp client put before "TLS connection
// established to host[" (Verified, Trusted, Untrusted, Anonymous), "" if
// it made no TLS connection to host.
func (p *postfix) tlsTrust(host string) string {
	for _, line := range strings.Split(p.maillog(), "\n") {
		before, _, ok := strings.Cut(line, " TLS connection established to "+host+"[")
		if !ok {
			continue
		}
		return before[strings.LastIndex(before, " ")+1:]
	}
	return ""
}
