package delivery

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// DNSClient is a Resolver and TLSAResolver that sends its queries, built
// with dnsmessage, to one recursive resolver at Addr: over UDP, and again
// over TCP when the answer is truncated (RFC 7766 section 5). Each query
// asks for DNSSEC (the DO bit of EDNS0, RFC 3225, and the AD bit, RFC 6840
// section 5.7) and an answer counts as authentic when the resolver set the
// AD bit.
//
// The AD bit is only as trustworthy as the path to the resolver: nothing
// authenticates it on the wire (RFC 4035 section 4.9.3). Point Addr at a
// validating resolver on the same host (loopback, such as unbound on
// "127.0.0.1:53") or one reached over a channel you trust, as Postfix asks
// for its smtp_dns_support_level=dnssec. A resolver across an untrusted
// network lets whoever is on the path turn DANE off or forge TLSA records.
type DNSClient struct {
	// Addr is the resolver's address, "host:port", such as
	// "127.0.0.1:53" or "[::1]:5353".
	Addr string
	// Timeout bounds each exchange (a UDP query, or the TCP retry);
	// 0 means 5 seconds. The context may end it sooner.
	Timeout time.Duration
}

// dnsUDPSize is the EDNS0 payload size announced, the value DNS Flag Day
// 2020 recommends so that answers are not fragmented.
const dnsUDPSize = 1232

// dnsUDPBuffer is the buffer a UDP answer is read into: a server that
// ignores the size announced and fills it is asked again over TCP.
const dnsUDPBuffer = 4096

// udpBuffers holds the dnsUDPBuffer-sized read buffers of exchangeUDP.
var udpBuffers = sync.Pool{New: func() any { b := make([]byte, dnsUDPBuffer); return &b }}

// typeTLSA is the TLSA record type (RFC 6698 section 7.1).
const typeTLSA dnsmessage.Type = 52

// LookupMX asks for the MX records of domain (RFC 1035 section 3.3.9).
func (c *DNSClient) LookupMX(ctx context.Context, domain string) ([]*net.MX, DNSInfo, error) {
	var mx []*net.MX
	info, err := c.lookup(ctx, domain, dnsmessage.TypeMX, func(p *dnsmessage.Parser) error {
		r, err := p.MXResource()
		if err != nil {
			return err
		}
		mx = append(mx, &net.MX{Host: r.MX.String(), Pref: r.Pref})
		return nil
	})
	return mx, info, err
}

// LookupIP asks for the A ("ip4", RFC 1035 section 3.4.1) or AAAA ("ip6",
// RFC 3596 section 2) records of host.
func (c *DNSClient) LookupIP(ctx context.Context, network, host string) ([]netip.Addr, DNSInfo, error) {
	var addrs []netip.Addr
	t := dnsmessage.TypeA
	if network == "ip6" {
		t = dnsmessage.TypeAAAA
	}
	info, err := c.lookup(ctx, host, t, func(p *dnsmessage.Parser) error {
		if t == dnsmessage.TypeA {
			r, err := p.AResource()
			if err != nil {
				return err
			}
			addrs = append(addrs, netip.AddrFrom4(r.A))
			return nil
		}
		r, err := p.AAAAResource()
		if err != nil {
			return err
		}
		addrs = append(addrs, netip.AddrFrom16(r.AAAA))
		return nil
	})
	return addrs, info, err
}

// LookupTXT asks for the TXT records of name; each record's strings are
// joined, as RFC 8461 section 3.1 and net.Resolver do.
func (c *DNSClient) LookupTXT(ctx context.Context, name string) ([]string, DNSInfo, error) {
	var txt []string
	info, err := c.lookup(ctx, name, dnsmessage.TypeTXT, func(p *dnsmessage.Parser) error {
		r, err := p.TXTResource()
		if err != nil {
			return err
		}
		s := ""
		for _, part := range r.TXT {
			s += part
		}
		txt = append(txt, s)
		return nil
	})
	return txt, info, err
}

// LookupTLSA asks for the TLSA records at name (RFC 6698 section 2.1).
// A record too short to hold its three fields is an error.
func (c *DNSClient) LookupTLSA(ctx context.Context, name string) ([]TLSA, DNSInfo, error) {
	var recs []TLSA
	info, err := c.lookup(ctx, name, typeTLSA, func(p *dnsmessage.Parser) error {
		r, err := p.UnknownResource()
		if err != nil {
			return err
		}
		if len(r.Data) < 3 {
			return errors.New("TLSA record shorter than its fields")
		}
		recs = append(recs, TLSA{
			Usage:        TLSAUsage(r.Data[0]),
			Selector:     TLSASelector(r.Data[1]),
			MatchingType: TLSAMatchingType(r.Data[2]),
			Data:         append([]byte(nil), r.Data[3:]...),
		})
		return nil
	})
	return recs, info, err
}

// lookup sends one question and calls each for every answer record of
// type t at the end of the CNAME chain that starts at name.
func (c *DNSClient) lookup(ctx context.Context, name string, t dnsmessage.Type, each func(*dnsmessage.Parser) error) (DNSInfo, error) {
	qname, err := dnsmessage.NewName(fqdn(name))
	if err != nil {
		return DNSInfo{}, &net.DNSError{Err: "invalid name", Name: name}
	}
	q, id, err := buildQuery(qname, t)
	if err != nil {
		return DNSInfo{}, err
	}

	resp, err := c.exchange(ctx, q, id, false)
	if err == nil && respTruncated(resp) {
		resp, err = c.exchange(ctx, q, id, true)
	}
	if err != nil {
		return DNSInfo{}, &net.DNSError{Err: err.Error(), Name: name, Server: c.Addr, IsTimeout: isTimeout(err), IsTemporary: true}
	}

	return parseAnswer(resp, qname, t, name, c.Addr, each)
}

// buildQuery makes a recursive query for (name, t) with EDNS0 and the DO
// and AD bits, under a random ID.
func buildQuery(name dnsmessage.Name, t dnsmessage.Type) ([]byte, uint16, error) {
	var idb [2]byte
	if _, err := io.ReadFull(rand.Reader, idb[:]); err != nil {
		return nil, 0, err
	}
	id := binary.BigEndian.Uint16(idb[:])
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), dnsmessage.Header{ID: id, RecursionDesired: true, AuthenticData: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, 0, err
	}
	if err := b.Question(dnsmessage.Question{Name: name, Type: t, Class: dnsmessage.ClassINET}); err != nil {
		return nil, 0, err
	}
	if err := b.StartAdditionals(); err != nil {
		return nil, 0, err
	}
	var opt dnsmessage.ResourceHeader
	if err := opt.SetEDNS0(dnsUDPSize, dnsmessage.RCodeSuccess, true); err != nil {
		return nil, 0, err
	}
	if err := b.OPTResource(opt, dnsmessage.OPTResource{}); err != nil {
		return nil, 0, err
	}
	msg, err := b.Finish()
	return msg, id, err
}

// exchange sends q and reads the answer with the same ID, over UDP or TCP.
func (c *DNSClient) exchange(ctx context.Context, q []byte, id uint16, useTCP bool) ([]byte, error) {
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	network := "udp"
	if useTCP {
		network = "tcp"
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, c.Addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if useTCP {
		return exchangeTCP(conn, q, id)
	}
	return exchangeUDP(conn, q, id)
}

// exchangeUDP writes q as one datagram and waits for an answer with its
// ID, ignoring others (a late answer to an earlier query, or a spoof).
func exchangeUDP(conn net.Conn, q []byte, id uint16) ([]byte, error) {
	if _, err := conn.Write(q); err != nil {
		return nil, err
	}
	bp := udpBuffers.Get().(*[]byte)
	defer udpBuffers.Put(bp)
	buf := *bp
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		if n == len(buf) {
			// Larger than announced: take it as truncated, to be asked
			// again over TCP.
			buf[2] |= 0x02
		}
		if n >= 3 && binary.BigEndian.Uint16(buf) == id {
			return append([]byte(nil), buf[:n]...), nil
		}
	}
}

// exchangeTCP writes q with its two-octet length (RFC 1035 section 4.2.2)
// and reads one answer.
func exchangeTCP(conn net.Conn, q []byte, id uint16) ([]byte, error) {
	msg := make([]byte, 2+len(q))
	binary.BigEndian.PutUint16(msg, uint16(len(q)))
	copy(msg[2:], q)
	if _, err := conn.Write(msg); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, err
	}
	resp := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(conn, resp); err != nil {
		return nil, err
	}
	if len(resp) < 2 || binary.BigEndian.Uint16(resp) != id {
		return nil, errors.New("answer with another ID")
	}
	return resp, nil
}

// respTruncated reports whether the answer has the TC bit (RFC 1035
// section 4.1.1).
func respTruncated(resp []byte) bool {
	return len(resp) >= 3 && resp[2]&0x02 != 0
}

// parseAnswer reads resp: the RCODE, the AD bit, and the answer records,
// following CNAMEs from qname (RFC 1034 section 3.6.2).
func parseAnswer(resp []byte, qname dnsmessage.Name, t dnsmessage.Type, name, server string, each func(*dnsmessage.Parser) error) (DNSInfo, error) {
	var p dnsmessage.Parser
	h, err := p.Start(resp)
	if err != nil {
		return DNSInfo{}, &net.DNSError{Err: "malformed answer: " + err.Error(), Name: name, Server: server, IsTemporary: true}
	}
	if !h.Response {
		return DNSInfo{}, &net.DNSError{Err: "answer is not a response", Name: name, Server: server, IsTemporary: true}
	}
	info := DNSInfo{Authentic: h.AuthenticData}
	switch h.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return info, &net.DNSError{Err: "no such host", Name: name, Server: server, IsNotFound: true}
	default:
		// SERVFAIL is what a validating resolver answers for bogus data
		// (RFC 4035 section 5.5).
		return info, &net.DNSError{Err: "server answered " + h.RCode.String(), Name: name, Server: server, IsTemporary: true}
	}
	if err := p.SkipAllQuestions(); err != nil {
		return DNSInfo{}, &net.DNSError{Err: "malformed answer: " + err.Error(), Name: name, Server: server, IsTemporary: true}
	}

	target := qname
	found := 0
	for {
		rh, err := p.AnswerHeader()
		if err == dnsmessage.ErrSectionDone {
			break
		}
		if err != nil {
			return DNSInfo{}, &net.DNSError{Err: "malformed answer: " + err.Error(), Name: name, Server: server, IsTemporary: true}
		}
		switch {
		case rh.Class != dnsmessage.ClassINET || !sameName(rh.Name, target):
			err = p.SkipAnswer()
		case rh.Type == dnsmessage.TypeCNAME && t != dnsmessage.TypeCNAME:
			var cn dnsmessage.CNAMEResource
			cn, err = p.CNAMEResource()
			target = cn.CNAME
		case rh.Type == t:
			found++
			err = each(&p)
		default:
			err = p.SkipAnswer()
		}
		if err != nil {
			return DNSInfo{}, &net.DNSError{Err: "malformed answer: " + err.Error(), Name: name, Server: server, IsTemporary: true}
		}
	}
	if !sameName(target, qname) {
		info.Canonical = normalizeName(target.String())
	}
	if found == 0 {
		return info, &net.DNSError{Err: "no " + t.String() + " record", Name: name, Server: server, IsNotFound: true}
	}
	return info, nil
}

// sameName compares two DNS names without regard to ASCII case (RFC 4343).
func sameName(a, b dnsmessage.Name) bool {
	return normalizeName(a.String()) == normalizeName(b.String())
}

// fqdn returns name with a trailing dot.
func fqdn(name string) string {
	if name == "" || name[len(name)-1] != '.' {
		return name + "."
	}
	return name
}

// isTimeout reports whether err is a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
