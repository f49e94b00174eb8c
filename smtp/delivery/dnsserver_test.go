package delivery

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// testRR is one record of the test zone.
type testRR struct {
	typ   dnsmessage.Type
	pref  uint16
	host  string // MX target, CNAME target
	addr  netip.Addr
	txt   []string
	tlsa  TLSA
	owner string
}

// testDNS is a DNS server of the tests' own, on 127.0.0.1 over UDP and TCP
// on the same port, answering from a map. Every answer has the AD bit
// unless a name on its CNAME chain is marked insecure.
type testDNS struct {
	Addr string

	mu       sync.Mutex
	rrs      map[string][]testRR
	servfail map[string]bool
	insecure map[string]bool
	truncate map[string]bool // UDP answers for the name have TC set and no records

	udpQueries, tcpQueries atomic.Int64
}

// newTestDNS starts a server, stopped when the test ends.
func newTestDNS(t testing.TB) *testDNS {
	t.Helper()
	z := &testDNS{
		rrs: map[string][]testRR{}, servfail: map[string]bool{},
		insecure: map[string]bool{}, truncate: map[string]bool{},
	}
	var pc net.PacketConn
	var ln net.Listener
	for range 20 {
		p, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", p.LocalAddr().String())
		if err == nil {
			pc, ln = p, l
			break
		}
		p.Close()
	}
	if pc == nil {
		t.Fatal("no port free for both UDP and TCP on 127.0.0.1")
	}
	z.Addr = pc.LocalAddr().String()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); z.serveUDP(pc) }()
	go func() { defer wg.Done(); z.serveTCP(ln) }()
	t.Cleanup(func() { pc.Close(); ln.Close(); wg.Wait() })
	return z
}

func (z *testDNS) add(name string, rr testRR) {
	z.mu.Lock()
	defer z.mu.Unlock()
	name = normalizeName(name)
	rr.owner = name
	z.rrs[name] = append(z.rrs[name], rr)
}

func (z *testDNS) MX(name string, pref uint16, host string) {
	z.add(name, testRR{typ: dnsmessage.TypeMX, pref: pref, host: host})
}
func (z *testDNS) A(name, ip string) {
	a := netip.MustParseAddr(ip)
	typ := dnsmessage.TypeA
	if a.Is6() {
		typ = dnsmessage.TypeAAAA
	}
	z.add(name, testRR{typ: typ, addr: a})
}
func (z *testDNS) TXT(name string, txt ...string) {
	z.add(name, testRR{typ: dnsmessage.TypeTXT, txt: txt})
}
func (z *testDNS) CNAME(name, target string) {
	z.add(name, testRR{typ: dnsmessage.TypeCNAME, host: target})
}
func (z *testDNS) TLSA(name string, t TLSA) { z.add(name, testRR{typ: typeTLSA, tlsa: t}) }

func (z *testDNS) set(m map[string]bool, name string, on bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	m[normalizeName(name)] = on
}
func (z *testDNS) ServFail(name string)        { z.set(z.servfail, name, true) }
func (z *testDNS) Insecure(name string)        { z.set(z.insecure, name, true) }
func (z *testDNS) Truncate(name string)        { z.set(z.truncate, name, true) }
func (z *testDNS) Remove(name string)          { z.mu.Lock(); delete(z.rrs, normalizeName(name)); z.mu.Unlock() }
func (z *testDNS) ReplaceTXT(name, txt string) { z.Remove(name); z.TXT(name, txt) }

func (z *testDNS) serveUDP(pc net.PacketConn) {
	buf := make([]byte, 65535)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		z.udpQueries.Add(1)
		if resp := z.answer(buf[:n], true); resp != nil {
			pc.WriteTo(resp, from)
		}
	}
}

func (z *testDNS) serveTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			var l [2]byte
			if _, err := io.ReadFull(c, l[:]); err != nil {
				return
			}
			q := make([]byte, binary.BigEndian.Uint16(l[:]))
			if _, err := io.ReadFull(c, q); err != nil {
				return
			}
			z.tcpQueries.Add(1)
			resp := z.answer(q, false)
			if resp == nil {
				return
			}
			out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
			c.Write(append(out, resp...))
		}()
	}
}

// answer builds the response to query q.
func (z *testDNS) answer(q []byte, udp bool) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil
	}
	question, err := p.Question()
	if err != nil {
		return nil
	}
	z.mu.Lock()
	defer z.mu.Unlock()

	rh := dnsmessage.Header{ID: h.ID, Response: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true, AuthenticData: true}
	name := normalizeName(question.Name.String())
	var answers []testRR
	known := false
	for range 8 {
		if z.servfail[name] {
			rh.AuthenticData = false
			rh.RCode = dnsmessage.RCodeServerFailure
			break
		}
		if z.insecure[name] {
			rh.AuthenticData = false
		}
		if len(z.rrs[name]) > 0 {
			known = true
		}
		var cname string
		for _, rr := range z.rrs[name] {
			if rr.typ == dnsmessage.TypeCNAME && question.Type != dnsmessage.TypeCNAME {
				cname = rr.host
				answers = append(answers, rr)
			}
		}
		if cname == "" {
			for _, rr := range z.rrs[name] {
				if rr.typ == question.Type {
					answers = append(answers, rr)
				}
			}
			break
		}
		name = normalizeName(cname)
		known = false
	}
	if rh.RCode == dnsmessage.RCodeSuccess && !known && len(answers) == 0 {
		rh.RCode = dnsmessage.RCodeNameError
	}
	if udp && z.truncate[normalizeName(question.Name.String())] {
		rh.Truncated = true
		answers = nil
	}

	b := dnsmessage.NewBuilder(nil, rh)
	b.StartQuestions()
	b.Question(question)
	b.StartAnswers()
	for _, rr := range answers {
		if err := buildRR(&b, question.Type, rr); err != nil {
			return nil
		}
	}
	resp, err := b.Finish()
	if err != nil {
		return nil
	}
	return resp
}

func buildRR(b *dnsmessage.Builder, qtype dnsmessage.Type, rr testRR) error {
	hdr := dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(fqdn(rr.owner)), Class: dnsmessage.ClassINET, TTL: 300}
	switch rr.typ {
	case dnsmessage.TypeMX:
		return b.MXResource(hdr, dnsmessage.MXResource{Pref: rr.pref, MX: dnsmessage.MustNewName(fqdn(rr.host))})
	case dnsmessage.TypeCNAME:
		return b.CNAMEResource(hdr, dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(fqdn(rr.host))})
	case dnsmessage.TypeA:
		return b.AResource(hdr, dnsmessage.AResource{A: rr.addr.As4()})
	case dnsmessage.TypeAAAA:
		return b.AAAAResource(hdr, dnsmessage.AAAAResource{AAAA: rr.addr.As16()})
	case dnsmessage.TypeTXT:
		return b.TXTResource(hdr, dnsmessage.TXTResource{TXT: rr.txt})
	case typeTLSA:
		hdr.Type = typeTLSA
		data := append([]byte{byte(rr.tlsa.Usage), byte(rr.tlsa.Selector), byte(rr.tlsa.MatchingType)}, rr.tlsa.Data...)
		return b.UnknownResource(hdr, dnsmessage.UnknownResource{Type: typeTLSA, Data: data})
	}
	return errors.New("test DNS: unknown type " + strconv.Itoa(int(rr.typ)))
}
