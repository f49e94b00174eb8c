package compat

import (
	"fmt"
	"strings"
)

// The delivery domains of the DNSSEC chain, all under private names
// (RFC 6761 section 6.2 reserves .test). dane.test is the signed zone the
// resolver holds the trust anchor of; each domain has one MX host,
// "mx.<domain>", with the address 127.0.0.1, and the TLSA records of the
// MX hosts are at "_<port>._tcp.mx.<domain>" for the port the chain is
// built for (RFC 7672 section 2.2.3 forms the TLSA name from the port the
// client connects to).
const (
	daneZone = "dane.test"

	// domainDANEEE: signed; TLSA 3 1 1 of the leaf's public key.
	domainDANEEE = "ee.dane.test"
	// domainDANETA: signed; TLSA 2 0 1 of the CA's certificate, which the
	// MX host sends after its leaf (whose names include the MX host).
	domainDANETA = "ta.dane.test"
	// domainMismatch: signed; TLSA 3 1 1 of a key no certificate carries.
	domainMismatch = "mismatch.dane.test"
	// domainNoTLSA: signed; no TLSA record for its MX host.
	domainNoTLSA = "notlsa.dane.test"
	// domainNullMX: signed; "MX 0 ." (RFC 7505).
	domainNullMX = "nullmx.dane.test"
	// domainBogusMX: signed, then its MX record altered after signing, so
	// the MX RRset fails validation.
	domainBogusMX = "bogus.dane.test"
	// domainBogusTLSA: signed, then its MX host's TLSA record altered after
	// signing; the MX and address records stay valid.
	domainBogusTLSA = "bogustlsa.dane.test"
	// domainExpired: a delegated zone with a DS in dane.test, signed with
	// signatures that expired a week ago.
	domainExpired = "expired.dane.test"
	// domainInsecure: a delegation without DS (an unsigned zone), holding
	// a TLSA record that would match the leaf: it must not count.
	domainInsecure = "insecure.dane.test"
	// domainSTS: a zone outside the trust anchor, without DNSSEC, for
	// MTA-STS (RFC 8461): "_mta-sts" TXT, the policy host "mta-sts.sts.test"
	// and "_smtp._tls" TXT (RFC 8460). Its policy (startSTSPolicy) lists
	// its MX host.
	domainSTS = "sts.test"
	// domainSTSBadMX: in the same zone, MTA-STS too, but its policy lists
	// only "mx.elsewhere.test", not its MX host.
	domainSTSBadMX = "badmx.sts.test"
)

// daneDomain is one delivery domain of the chain.
type daneDomain struct {
	Name string // the domain
	MX   string // its MX host, "" for a null MX
}

// daneDomains lists every delivery domain with its MX host.
var daneDomains = []daneDomain{
	{domainDANEEE, "mx." + domainDANEEE},
	{domainDANETA, "mx." + domainDANETA},
	{domainMismatch, "mx." + domainMismatch},
	{domainNoTLSA, "mx." + domainNoTLSA},
	{domainNullMX, ""},
	{domainBogusMX, "mx." + domainBogusMX},
	{domainBogusTLSA, "mx." + domainBogusTLSA},
	{domainExpired, "mx." + domainExpired},
	{domainInsecure, "mx." + domainInsecure},
	{domainSTS, "mx." + domainSTS},
	{domainSTSBadMX, "mx." + domainSTSBadMX},
}

// stsDomains are the domains with an MTA-STS policy.
var stsDomains = []string{domainSTS, domainSTSBadMX}

// stsPolicyID is the id of domainSTS's "_mta-sts" TXT record.
const stsPolicyID = "20261202T000000"

// certNames are the names of the leaf certificate: every MX host and the
// MTA-STS policy hosts.
func certNames() []string {
	var names []string
	for _, d := range daneDomains {
		if d.MX != "" {
			names = append(names, d.MX)
		}
	}
	for _, d := range stsDomains {
		names = append(names, "mta-sts."+d)
	}
	return names
}

// zoneText builds a master file (RFC 1035 section 5) for one zone: SOA,
// NS at ns.dane.test, then the records added.
type zoneText struct {
	origin string // with the final dot
	port   int    // the MX hosts' port, for TLSA owner names
	b      strings.Builder
}

func newZoneText(origin string, port int) *zoneText {
	z := &zoneText{origin: origin + ".", port: port}
	fmt.Fprintf(&z.b, "$ORIGIN %s\n$TTL 300\n", z.origin)
	z.add("@", "SOA", "ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 300")
	z.add("@", "NS", "ns.dane.test.")
	return z
}

// add writes one record; owner is relative to the origin ("@" is the apex).
func (z *zoneText) add(owner, typ, rdata string) {
	fmt.Fprintf(&z.b, "%s\tIN\t%s\t%s\n", owner, typ, rdata)
}

// mailDomain adds the MX of owner (relative, or "@"), its host "mx.owner"
// at 127.0.0.1, and a TLSA record for the host when tlsa is not empty.
func (z *zoneText) mailDomain(owner, tlsa string) {
	host := "mx." + owner
	if owner == "@" {
		host = "mx"
	}
	z.add(owner, "MX", "10 "+host)
	z.add(host, "A", "127.0.0.1")
	if tlsa != "" {
		z.add(fmt.Sprintf("_%d._tcp.%s", z.port, host), "TLSA", tlsa)
	}
}

func (z *zoneText) String() string { return z.b.String() }

// parentZone is dane.test before signing; expiredDS is the DS record of
// the expired child's key-signing key.
func parentZone(port int, c *daneCerts, expiredDS string) string {
	z := newZoneText(daneZone, port)
	z.add("ns", "A", "127.0.0.1")
	z.mailDomain("ee", "3 1 1 "+c.spkiSHA256())
	z.mailDomain("ta", "2 0 1 "+c.caCertSHA256())
	z.mailDomain("mismatch", "3 1 1 "+c.otherSPKISHA256())
	z.mailDomain("notlsa", "")
	z.add("nullmx", "MX", "0 .")
	z.mailDomain("bogus", "3 1 1 "+c.spkiSHA256())
	z.mailDomain("bogustlsa", "3 1 1 "+c.spkiSHA256())
	z.add("expired", "NS", "ns.dane.test.")
	z.add("expired", "DS", expiredDS)
	z.add("insecure", "NS", "ns.dane.test.")
	return z.String()
}

// expiredZone is expired.dane.test before signing.
func expiredZone(port int, c *daneCerts) string {
	z := newZoneText(domainExpired, port)
	z.mailDomain("@", "3 1 1 "+c.spkiSHA256())
	return z.String()
}

// insecureZone is insecure.dane.test, never signed.
func insecureZone(port int, c *daneCerts) string {
	z := newZoneText(domainInsecure, port)
	z.mailDomain("@", "3 1 1 "+c.spkiSHA256())
	return z.String()
}

// stsZone is sts.test, never signed, outside the trust anchor, with
// badmx.sts.test in it; policyIP is the policy hosts' address.
func stsZone(port int, policyIP string) string {
	z := newZoneText(domainSTS, port)
	for _, owner := range []string{"@", "badmx"} {
		prefix := ""
		if owner != "@" {
			prefix = "." + owner
		}
		z.mailDomain(owner, "")
		z.add("_mta-sts"+prefix, "TXT", `"v=STSv1; id=`+stsPolicyID+`;"`)
		z.add("mta-sts"+prefix, "A", policyIP)
		z.add("_smtp._tls"+prefix, "TXT", `"v=TLSRPTv1; rua=mailto:tlsrpt@sts.test"`)
	}
	return z.String()
}

// tamper replaces the data of the records of owner (absolute, with the
// final dot) and type typ in a zone that ldns-signzone wrote (owner, TTL,
// class, type and data separated by tabs), leaving their signatures as
// they were; it reports how many records it changed.
func tamper(signed, owner, typ string, change func(rdata string) string) (string, int) {
	lines := strings.Split(signed, "\n")
	n := 0
	for i, line := range lines {
		f := strings.SplitN(line, "\t", 5)
		if len(f) == 5 && strings.EqualFold(f[0], owner) && f[3] == typ {
			f[4] = change(f[4])
			lines[i] = strings.Join(f, "\t")
			n++
		}
	}
	return strings.Join(lines, "\n"), n
}
