package compat

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// typeTLSA is the TLSA record's type (RFC 6698 section 7.1), which
// dnsmessage parses as an UnknownResource.
const typeTLSA = dnsmessage.Type(52)

// dnsAnswer is what a server answered to one query.
type dnsAnswer struct {
	RCode         dnsmessage.RCode
	AD            bool // authenticated data: the resolver validated it (RFC 4035 section 3.2.3)
	Authoritative bool
	Answers       []dnsmessage.Resource
}

// MX is the answer's MX records as "pref host" ("0 ." for a null MX).
func (a dnsAnswer) MX() []string {
	var out []string
	for _, r := range a.Answers {
		if mx, ok := r.Body.(*dnsmessage.MXResource); ok {
			out = append(out, fmt.Sprintf("%d %s", mx.Pref, mx.MX))
		}
	}
	return out
}

// TLSA is the answer's TLSA records in presentation form
// ("usage selector mtype hexdata", RFC 6698 section 2.2).
func (a dnsAnswer) TLSA() []string {
	var out []string
	for _, r := range a.Answers {
		u, ok := r.Body.(*dnsmessage.UnknownResource)
		if !ok || u.Type != typeTLSA || len(u.Data) < 3 {
			continue
		}
		out = append(out, fmt.Sprintf("%d %d %d %s", u.Data[0], u.Data[1], u.Data[2], hex.EncodeToString(u.Data[3:])))
	}
	return out
}

// TXT is the answer's TXT records, each one's strings joined.
func (a dnsAnswer) TXT() []string {
	var out []string
	for _, r := range a.Answers {
		if txt, ok := r.Body.(*dnsmessage.TXTResource); ok {
			out = append(out, strings.Join(txt.TXT, ""))
		}
	}
	return out
}

// A is the answer's IPv4 addresses.
func (a dnsAnswer) A() []string {
	var out []string
	for _, r := range a.Answers {
		if rr, ok := r.Body.(*dnsmessage.AResource); ok {
			out = append(out, net.IP(rr.A[:]).String())
		}
	}
	return out
}

// dnsQuery asks server (host:port) for name and qtype with recursion
// desired, the DO bit (RFC 3225) and the AD bit set in the query (RFC 6840
// section 5.7), over UDP, again over TCP when the answer is truncated.
func dnsQuery(server, name string, qtype dnsmessage.Type) (dnsAnswer, error) {
	query, id, err := buildQuery(name, qtype)
	if err != nil {
		return dnsAnswer{}, err
	}

	resp, err := exchangeUDP(server, query)
	if err != nil {
		return dnsAnswer{}, err
	}
	a, truncated, err := parseAnswer(resp, id)
	if err != nil || !truncated {
		return a, err
	}

	if resp, err = exchangeTCP(server, query); err != nil {
		return dnsAnswer{}, err
	}
	a, _, err = parseAnswer(resp, id)
	return a, err
}

// buildQuery packs one question with an OPT record that sets DO.
func buildQuery(name string, qtype dnsmessage.Type) ([]byte, uint16, error) {
	var idb [2]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, 0, err
	}
	id := binary.BigEndian.Uint16(idb[:])
	qname, err := dnsmessage.NewName(dnsFQDN(name))
	if err != nil {
		return nil, 0, err
	}

	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true, AuthenticData: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, 0, err
	}
	if err := b.Question(dnsmessage.Question{Name: qname, Type: qtype, Class: dnsmessage.ClassINET}); err != nil {
		return nil, 0, err
	}
	if err := b.StartAdditionals(); err != nil {
		return nil, 0, err
	}
	var opt dnsmessage.ResourceHeader
	if err := opt.SetEDNS0(1232, dnsmessage.RCodeSuccess, true); err != nil {
		return nil, 0, err
	}
	if err := b.OPTResource(opt, dnsmessage.OPTResource{}); err != nil {
		return nil, 0, err
	}
	msg, err := b.Finish()
	return msg, id, err
}

func exchangeUDP(server string, query []byte) ([]byte, error) {
	c, err := net.DialTimeout("udp", server, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write(query); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	return buf[:n], err
}

// exchangeTCP sends the query with its two-octet length (RFC 1035 section
// 4.2.2) and reads one answer.
func exchangeTCP(server string, query []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp", server, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(query)))); err != nil {
		return nil, err
	}
	if _, err := c.Write(query); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return nil, err
	}
	resp := make([]byte, binary.BigEndian.Uint16(l[:]))
	_, err = io.ReadFull(c, resp)
	return resp, err
}

// parseAnswer reads the header and the answer section of resp.
func parseAnswer(resp []byte, id uint16) (dnsAnswer, bool, error) {
	var p dnsmessage.Parser
	h, err := p.Start(resp)
	if err != nil {
		return dnsAnswer{}, false, err
	}
	if h.ID != id || !h.Response {
		return dnsAnswer{}, false, errors.New("dns: not the answer to our query")
	}
	if err := p.SkipAllQuestions(); err != nil {
		return dnsAnswer{}, false, err
	}
	answers, err := p.AllAnswers()
	if err != nil {
		return dnsAnswer{}, false, err
	}
	a := dnsAnswer{RCode: h.RCode, AD: h.AuthenticData, Authoritative: h.Authoritative, Answers: answers}
	return a, h.Truncated, nil
}

// dnsFQDN adds the final dot a dnsmessage.Name needs.
func dnsFQDN(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}
