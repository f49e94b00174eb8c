package delivery

import (
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

func FuzzParseSTSPolicy(f *testing.F) {
	f.Add("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n")
	f.Add("version: STSv1\nmode: none\nmax_age: 0\n")
	f.Add("version: STSv1\nmode: testing\nmx: *.a\nmax_age: 31557600\nx-ext: 1")
	f.Fuzz(func(t *testing.T, text string) {
		p, err := ParseSTSPolicy(text)
		if err != nil {
			return
		}
		switch {
		case p.Mode != STSEnforce && p.Mode != STSTesting && p.Mode != STSNone:
			t.Fatalf("mode %q accepted", p.Mode)
		case p.MaxAge < 0 || p.MaxAge.Seconds() > STSMaxAge:
			t.Fatalf("max_age %v accepted", p.MaxAge)
		case len(p.MX) == 0 && p.Mode != STSNone:
			t.Fatal("no mx accepted")
		}
		for _, mx := range p.MX {
			if !validMXPattern(mx) || strings.ContainsAny(mx, " \t\r\n") {
				t.Fatalf("mx %q accepted", mx)
			}
			p.MatchMX(strings.TrimPrefix(mx, "*."))
		}
	})
}

func FuzzParseSTSRecord(f *testing.F) {
	f.Add("v=STSv1; id=20160831085700Z")
	f.Add("v=STSv1;id=a;")
	f.Fuzz(func(t *testing.T, txt string) {
		id, err := ParseSTSRecord(txt)
		if err == nil && !validSTSID(id) {
			t.Fatalf("id %q accepted", id)
		}
	})
}

func FuzzHasTLSRequiredNo(f *testing.F) {
	f.Add([]byte("From: a@b\r\nTLS-Required: No\r\n\r\nbody"))
	f.Add([]byte("Subject: x\r\n TLS-Required: No\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		HasTLSRequiredNo(msg)
	})
}

// FuzzParseAnswer feeds parseAnswer arbitrary responses: it must not
// panic, and whatever it accepts holds only records of the type asked.
func FuzzParseAnswer(f *testing.F) {
	z := &testDNS{rrs: map[string][]testRR{}, servfail: map[string]bool{}, insecure: map[string]bool{}, truncate: map[string]bool{}}
	z.CNAME("alias.test", "mx.test")
	z.A("mx.test", "192.0.2.1")
	z.TLSA("_25._tcp.mx.test", TLSA{3, 1, 1, make([]byte, 32)})
	for _, q := range []struct {
		name string
		t    dnsmessage.Type
	}{{"alias.test", dnsmessage.TypeA}, {"_25._tcp.mx.test", typeTLSA}, {"nowhere.test", dnsmessage.TypeMX}} {
		msg, _, err := buildQuery(dnsmessage.MustNewName(fqdn(q.name)), q.t)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(z.answer(msg, false))
	}
	name := dnsmessage.MustNewName("alias.test.")
	f.Fuzz(func(t *testing.T, resp []byte) {
		n := 0
		_, err := parseAnswer(resp, name, dnsmessage.TypeA, "alias.test", "fuzz", func(p *dnsmessage.Parser) error {
			_, err := p.AResource()
			if err == nil {
				n++
			}
			return err
		})
		if err == nil && n == 0 {
			t.Fatal("an answer without A records was accepted")
		}
	})
}
