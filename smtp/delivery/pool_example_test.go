package delivery_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/postwire/postwire/smtp"
	"github.com/postwire/postwire/smtp/delivery"
)

// A Pool whose hosts are the MX hosts of a domain: the first MX (not
// listening here) is set aside and the message goes to the second.
func ExamplePoolHosts() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	mx := &smtp.Server{
		Hostname: "mx2.example.net",
		Backend:  smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return accept{}, nil }),
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	go mx.Serve(ln)
	defer mx.Close()
	port := ln.Addr().(*net.TCPAddr).Port // 25 in real life

	// Loopback addresses stand for the MX host names here; 127.0.0.2
	// has nothing listening.
	r := staticResolver{mx: map[string][]*net.MX{
		"example.net": {{Host: "127.0.0.2.", Pref: 10}, {Host: "127.0.0.1.", Pref: 20}},
	}}
	pool := &smtp.Pool{Resolve: delivery.PoolHosts(r, "example.net", port)}
	defer pool.Close()

	_, err = pool.Send(context.Background(), &smtp.Envelope{From: "alice@example.org", To: []string{"bob@example.net"}},
		strings.NewReader("Subject: hi\r\n\r\nHello.\r\n"))
	fmt.Println("error:", err)
	for _, h := range pool.Stats().Hosts {
		fmt.Printf("%s dial failures %d\n", strings.Replace(h.Addr, fmt.Sprint(port), "PORT", 1), h.DialFailures)
	}
	// Output:
	// error: <nil>
	// 127.0.0.2:PORT dial failures 1
	// 127.0.0.1:PORT dial failures 0
}
