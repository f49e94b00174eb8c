package compat

import (
	"context"
	"crypto/tls"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

// dnssecChain is a running DNSSEC chain on loopback: NSD serving the zones
// of dnssec_zones_test.go (dane.test and expired.dane.test signed by
// ldns-signzone, insecure.dane.test and sts.test unsigned), and Unbound as
// a validating resolver that holds dane.test's trust anchor and reaches
// NSD through stub zones. Everything lives in a private directory; both
// daemons are stopped by PID when the test ends.
type dnssecChain struct {
	// Resolver is Unbound's address (127.0.0.1:port): a validating
	// resolver that sets AD on what it validated (RFC 4035 section 3.2.3).
	Resolver string
	// Resolver53 is the same Unbound on port 53 of a loopback address of
	// its own (127.53.x.y:53), for stub resolvers that know no other port
	// (a resolv.conf); "" unless dnssecOptions.Port53 and port 53 could
	// be bound.
	Resolver53 string
	// Authority is NSD's address; it answers without validating.
	Authority string
	// MXPort is the port every MX host is expected on (127.0.0.1:MXPort)
	// and the port of the TLSA records' owner names.
	MXPort int
	// Domains are the delivery domains with their MX hosts.
	Domains []daneDomain
	// Certs are the CA and the leaf the MX hosts must present.
	Certs *daneCerts
	// TrustAnchor is the DS record of dane.test's key-signing key.
	TrustAnchor string
	// Dir holds the zones, keys, configurations and logs.
	Dir string
	// Started is how long building and starting the chain took.
	Started time.Duration

	nsdLog, unboundLog *lockedBuffer
}

// dnssecOptions say how to build a chain.
type dnssecOptions struct {
	// MXPort is the MX hosts' port; 0 picks one that is free.
	MXPort int
	// Port53 makes Unbound listen on port 53 of a random 127.53.x.y too,
	// where it can (Resolver53 stays "" where port 53 cannot be bound).
	Port53 bool
}

// needDNSSEC skips the test when a program of the chain is missing.
func needDNSSEC(t testing.TB) {
	t.Helper()
	for _, p := range []string{"nsd", "unbound", "ldns-keygen", "ldns-signzone", "ldns-key2ds"} {
		needBinary(t, p)
	}
}

// startDNSSEC builds the certificates, zones and keys, signs, starts NSD
// and Unbound, and returns once Unbound answers for dane.test with AD set.
func startDNSSEC(t testing.TB, opt dnssecOptions) *dnssecChain {
	t.Helper()
	needDNSSEC(t)
	begin := time.Now()

	// Not t.TempDir: a Postfix instance's daemons read the certificates.
	dir, err := os.MkdirTemp("", "pw-dnssec-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))

	c := &dnssecChain{Dir: dir, MXPort: opt.MXPort, Domains: daneDomains}
	if c.MXPort == 0 {
		c.MXPort, _ = strconv.Atoi(portOf(freeAddr(t)))
	}
	c.Certs, err = newDANECerts(dir, certNames())
	require.NoError(t, err)

	if opt.Port53 {
		c.Resolver53 = freeLoopback53(t)
	}
	c.writeZones(t)
	c.Authority = "127.0.0.1:" + freeDNSPort(t)
	c.startNSD(t)
	c.Resolver = "127.0.0.1:" + freeDNSPort(t)
	c.startUnbound(t)

	c.Started = time.Since(begin)
	return c
}

// writeZones signs expired.dane.test with signatures that expired a week
// ago, puts its DS into dane.test, signs dane.test for a week, alters two
// of its records after signing, and writes the unsigned zones and the trust
// anchor.
func (c *dnssecChain) writeZones(t testing.TB) {
	t.Helper()
	now := time.Now()

	expired, expiredKSK := c.signZone(t, domainExpired, expiredZone(c.MXPort, c.Certs),
		now.Add(-14*24*time.Hour), now.Add(-7*24*time.Hour))
	c.writeFile(t, domainExpired+".signed", expired)

	parent, parentKSK := c.signZone(t, daneZone, parentZone(c.MXPort, c.Certs, c.dsRdata(t, expiredKSK)),
		now.Add(-time.Hour), now.Add(7*24*time.Hour))
	parent = c.breakSignatures(t, parent)
	c.writeFile(t, daneZone+".signed", parent)

	c.writeFile(t, domainInsecure+".zone", insecureZone(c.MXPort, c.Certs))
	c.writeFile(t, domainSTS+".zone", stsZone(c.MXPort, c.PolicyIP()))

	c.TrustAnchor = strings.TrimSpace(c.run(t, "ldns-key2ds", "-n", "-2", parentKSK+".key"))
	c.writeFile(t, "trust-anchor.ds", c.TrustAnchor+"\n")
}

// signZone makes a key-signing and a zone-signing key (ECDSAP256SHA256,
// RFC 6605), signs text with both and returns the signed zone and the
// key-signing key's base name.
func (c *dnssecChain) signZone(t testing.TB, zone, text string, inception, expiration time.Time) (string, string) {
	t.Helper()
	ksk := strings.TrimSpace(c.run(t, "ldns-keygen", "-a", "ECDSAP256SHA256", "-k", zone))
	zsk := strings.TrimSpace(c.run(t, "ldns-keygen", "-a", "ECDSAP256SHA256", zone))

	c.writeFile(t, zone+".zone", text)
	c.run(t, "ldns-signzone", "-o", zone+".",
		"-i", strconv.FormatInt(inception.Unix(), 10), "-e", strconv.FormatInt(expiration.Unix(), 10),
		"-f", zone+".signed", zone+".zone", ksk, zsk)

	signed, err := os.ReadFile(filepath.Join(c.Dir, zone+".signed"))
	require.NoError(t, err)
	return string(signed), ksk
}

// dsRdata is the data of the DS record (SHA-256, RFC 4509) of a key, as
// the parent zone carries it.
func (c *dnssecChain) dsRdata(t testing.TB, key string) string {
	t.Helper()
	f := strings.Fields(c.run(t, "ldns-key2ds", "-n", "-2", key+".key"))
	require.Len(t, f, 8, "ldns-key2ds: %v", f)
	return strings.Join(f[4:], " ")
}

// breakSignatures alters the MX record of domainBogusMX and the TLSA
// record of domainBogusTLSA's MX host, so that their signatures no longer
// match (RFC 4035 section 5.3: the RRset is bogus).
func (c *dnssecChain) breakSignatures(t testing.TB, signed string) string {
	t.Helper()
	signed, n := tamper(signed, domainBogusMX+".", "MX", func(string) string {
		return "20 mx." + domainBogusMX + "."
	})
	require.Equal(t, 1, n, "MX of %s not found in the signed zone", domainBogusMX)

	owner := fmt.Sprintf("_%d._tcp.mx.%s.", c.MXPort, domainBogusTLSA)
	signed, n = tamper(signed, owner, "TLSA", func(string) string {
		return "3 1 1 " + c.Certs.otherSPKISHA256()
	})
	require.Equal(t, 1, n, "TLSA of %s not found in the signed zone", owner)
	return signed
}

// nsdConf serves the four zones on the authority's address, without a
// database, chroot or user switch, and without remote control.
const nsdConf = `server:
  ip-address: %[2]s
  do-ip6: no
  zonesdir: "%[1]s"
  pidfile: "%[1]s/nsd.pid"
  logfile: "%[1]s/nsd.log"
  database: ""
  zonelistfile: "%[1]s/zone.list"
  xfrdfile: "%[1]s/xfrd.state"
  xfrdir: "%[1]s"
  username: ""
  chroot: ""
  server-count: 1
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: "dane.test."
  zonefile: "dane.test.signed"
zone:
  name: "expired.dane.test."
  zonefile: "expired.dane.test.signed"
zone:
  name: "insecure.dane.test."
  zonefile: "insecure.dane.test.zone"
zone:
  name: "sts.test."
  zonefile: "sts.test.zone"
`

func (c *dnssecChain) startNSD(t testing.TB) {
	t.Helper()
	host, port, _ := net.SplitHostPort(c.Authority)
	conf := c.writeFile(t, "nsd.conf", fmt.Sprintf(nsdConf, c.Dir, host+"@"+port))
	exited := c.startDaemon(t, &c.nsdLog, "nsd", "-d", "-c", conf)

	c.waitDNS(t, "NSD", c.Authority, exited, c.NSDLog, func(a dnsAnswer) bool {
		return a.RCode == dnsmessage.RCodeSuccess && a.Authoritative
	})
}

// unboundConf validates with dane.test's trust anchor, asks NSD for the
// four zones (stub zones, as their NS records name port 53), and lets
// loopback clients query it. "test." is one of Unbound's default local
// zones (RFC 6761), which nodefault turns off. It never sends a query off
// this machine: every IPv4 address but 127.0.0.0/8 is on the
// do-not-query list (and IPv6 is off), so a name outside the chain fails
// at once instead of reaching for the root servers.
const unboundConf = `server:
%[2]s  do-ip6: no
  do-not-query-localhost: no
  do-not-query-address: 0.0.0.0/2
  do-not-query-address: 64.0.0.0/3
  do-not-query-address: 96.0.0.0/4
  do-not-query-address: 112.0.0.0/5
  do-not-query-address: 120.0.0.0/6
  do-not-query-address: 124.0.0.0/7
  do-not-query-address: 126.0.0.0/8
  do-not-query-address: 128.0.0.0/1
  access-control: 127.0.0.0/8 allow
  username: ""
  chroot: ""
  directory: "%[1]s"
  pidfile: "%[1]s/unbound.pid"
  logfile: ""
  use-syslog: no
  verbosity: 1
  val-log-level: 2
  num-threads: 1
  outgoing-range: 64
  so-reuseport: no
  qname-minimisation: no
  trust-anchor-signaling: no
  module-config: "validator iterator"
  trust-anchor-file: "%[1]s/trust-anchor.ds"
  local-zone: "test." nodefault
remote-control:
  control-enable: no
`

func (c *dnssecChain) startUnbound(t testing.TB) {
	t.Helper()
	var ifaces strings.Builder
	for _, addr := range []string{c.Resolver, c.Resolver53} {
		if addr != "" {
			host, port, _ := net.SplitHostPort(addr)
			fmt.Fprintf(&ifaces, "  interface: %s@%s\n", host, port)
		}
	}
	host, port, _ := net.SplitHostPort(c.Authority)
	var conf strings.Builder
	fmt.Fprintf(&conf, unboundConf, c.Dir, ifaces.String())
	for _, zone := range []string{daneZone, domainExpired, domainInsecure, domainSTS} {
		fmt.Fprintf(&conf, "stub-zone:\n  name: \"%s.\"\n  stub-addr: %s@%s\n", zone, host, port)
	}
	file := c.writeFile(t, "unbound.conf", conf.String())
	exited := c.startDaemon(t, &c.unboundLog, "unbound", "-d", "-c", file)

	c.waitDNS(t, "Unbound", c.Resolver, exited, c.UnboundLog, func(a dnsAnswer) bool {
		return a.RCode == dnsmessage.RCodeSuccess && a.AD
	})
}

// PolicyIP is the address of the MTA-STS policy hosts in the DNS: the
// chain's own loopback address when it has one (Resolver53's), where
// startSTSPolicy serves port 443 too, else 127.0.0.1.
func (c *dnssecChain) PolicyIP() string {
	if c.Resolver53 != "" {
		host, _, _ := net.SplitHostPort(c.Resolver53)
		return host
	}
	return "127.0.0.1"
}

// mxConfig is the recvConfig of an in-process MX host of the chain (ours,
// startPostwire, or go-smtp's, startGoSMTP): STARTTLS with the leaf and the
// CA, on 127.0.0.1 at MXPort.
func (c *dnssecChain) mxConfig() recvConfig {
	return recvConfig{
		startTLS: true,
		addr:     fmt.Sprintf("127.0.0.1:%d", c.MXPort),
		tls:      &tls.Config{Certificates: []tls.Certificate{c.Certs.Cert}},
	}
}

// UnboundLog is what Unbound logged so far (validation failures among it,
// val-log-level 2).
func (c *dnssecChain) UnboundLog() string { return c.unboundLog.String() }

// NSDLog is what NSD logged so far (its log file, then its output).
func (c *dnssecChain) NSDLog() string {
	b, _ := os.ReadFile(filepath.Join(c.Dir, "nsd.log"))
	return string(b) + c.nsdLog.String()
}

// startDaemon runs a daemon in the foreground in its own process group and
// stops it by its PID when the test ends (SIGTERM, then SIGKILL to its
// group after 5 s); the channel closes when it exits.
func (c *dnssecChain) startDaemon(t testing.TB, log **lockedBuffer, name string, args ...string) <-chan struct{} {
	t.Helper()
	*log = &lockedBuffer{}
	cmd := exec.Command(name, args...)
	cmd.Dir = c.Dir
	cmd.Stdout, cmd.Stderr = *log, *log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start(), "start %s", name)

	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	return done
}

// waitDNS asks server for dane.test's SOA until ready says yes, for 10 s
// at most.
func (c *dnssecChain) waitDNS(t testing.TB, who, server string, exited <-chan struct{}, log func() string, ready func(dnsAnswer) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, err := dnsQuery(server, daneZone, dnsmessage.TypeSOA)
		if err == nil && ready(a) {
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited before answering on %s:\n%s", who, server, log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s on %s not ready after 10 s (last: %+v, %v):\n%s", who, server, a, err, log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run runs a program of the chain in its directory and returns its
// standard output; it fails the test on a non-zero exit.
func (c *dnssecChain) run(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.Dir
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %s\n%s", name, strings.Join(args, " "), stderr.String())
	return string(out)
}

// writeFile writes a file of the chain's directory and returns its path.
func (c *dnssecChain) writeFile(t testing.TB, name, text string) string {
	t.Helper()
	path := filepath.Join(c.Dir, name)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

// freeDNSPort returns a port of 127.0.0.1 that was free a moment ago for
// both UDP and TCP.
func freeDNSPort(t testing.TB) string {
	t.Helper()
	for range 20 {
		port := portOf(freeAddr(t))
		if p, err := net.ListenPacket("udp", "127.0.0.1:"+port); err == nil {
			p.Close()
			return port
		}
	}
	t.Fatal("no port free for both UDP and TCP on 127.0.0.1")
	return ""
}

// freeLoopback53 returns 127.53.x.y:53 for an x.y whose port 53 was free a
// moment ago for both UDP and TCP, so that chains never share it, or ""
// when none can be bound (port 53 needs root or CAP_NET_BIND_SERVICE).
func freeLoopback53(t testing.TB) string {
	t.Helper()
	for range 20 {
		addr := fmt.Sprintf("127.53.%d.%d:53", 1+mathrand.IntN(254), 1+mathrand.IntN(254))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		p, err := net.ListenPacket("udp", addr)
		l.Close()
		if err == nil {
			p.Close()
			return addr
		}
	}
	t.Log("port 53 of no 127.53.x.y address can be bound here: the chain has no Resolver53")
	return ""
}
