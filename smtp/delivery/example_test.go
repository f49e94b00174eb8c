package delivery_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/postwire/postwire/smtp"
	"github.com/postwire/postwire/smtp/delivery"
)

// staticResolver answers from fixed maps: enough to point a domain at an
// MX host on loopback. Every other name does not exist.
type staticResolver struct {
	mx map[string][]*net.MX
	ip map[string][]netip.Addr
}

func notFound(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (r staticResolver) LookupMX(_ context.Context, domain string) ([]*net.MX, delivery.DNSInfo, error) {
	if mx, ok := r.mx[domain]; ok {
		return mx, delivery.DNSInfo{}, nil
	}
	return nil, delivery.DNSInfo{}, notFound(domain)
}

func (r staticResolver) LookupIP(_ context.Context, network, host string) ([]netip.Addr, delivery.DNSInfo, error) {
	var addrs []netip.Addr
	for _, a := range r.ip[host] {
		if a.Is4() == (network == "ip4") {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, delivery.DNSInfo{}, notFound(host)
	}
	return addrs, delivery.DNSInfo{}, nil
}

func (r staticResolver) LookupTXT(_ context.Context, name string) ([]string, delivery.DNSInfo, error) {
	return nil, delivery.DNSInfo{}, notFound(name)
}

// accept is an MX backend that takes every message.
type accept struct{}

func (accept) Mail(context.Context, string, *smtp.MailOptions) error { return nil }
func (accept) Rcpt(context.Context, string, *smtp.RcptOptions) error { return nil }
func (accept) Data(_ context.Context, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (accept) Reset()        {}
func (accept) Logout() error { return nil }

// Example delivers a message to two domains: one whose MX host (on
// loopback here) takes it, and one that publishes a null MX (RFC 7505).
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	mx := &smtp.Server{
		Hostname: "mx.example.net",
		Backend:  smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return accept{}, nil }),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	go mx.Serve(ln)
	defer mx.Close()

	d := &delivery.Deliverer{
		Hostname: "mail.example.org",
		Resolver: staticResolver{
			mx: map[string][]*net.MX{
				"example.net": {{Host: "mx.example.net.", Pref: 10}},
				"example.com": {{Host: ".", Pref: 0}},
			},
			ip: map[string][]netip.Addr{"mx.example.net": {netip.MustParseAddr("127.0.0.1")}},
		},
		Port: ln.Addr().(*net.TCPAddr).Port, // 25 in real life
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	rep, err := d.Deliver(ctx, &delivery.Message{
		Envelope: smtp.Envelope{From: "alice@example.org", To: []string{"bob@example.net", "carol@example.com"}},
		Body:     []byte("From: alice@example.org\r\nSubject: hello\r\n\r\nHello.\r\n"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rep.Results {
		fmt.Printf("%s: %s", r.Recipient, r.Status)
		if r.Status == delivery.Delivered {
			fmt.Printf(" by %s, TLS policy %s\n", r.MX, r.TLS.Policy)
		} else {
			fmt.Printf(": %v\n", r.Err)
		}
	}
	// Output:
	// bob@example.net: delivered by mx.example.net, TLS policy no-policy-found
	// carol@example.com: permanent failure: 556 5.1.10 the recipient domain accepts no mail (null MX)
}
