package delivery

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkDeliver50Domains delivers one message to 50 recipients, one in
// each of 50 domains with an MX host of its own on loopback (127.0.0.2 and
// up), through the loopback DNS server: per operation, 50 MX, A, TXT and
// TLSA lookups and 50 SMTP sessions, 16 at a time. "deliveries/s" counts
// recipients delivered; allocs/op divided by 50 is the cost of one.
// "plain" has no STARTTLS; "dane" has STARTTLS and a DANE-EE record on
// every host.
func BenchmarkDeliver50Domains(b *testing.B) {
	for _, mode := range []string{"plain", "dane"} {
		b.Run(mode, func(b *testing.B) {
			n := newTestNet(b)
			var to []string
			for i := range 50 {
				domain := "d" + strconv.Itoa(i) + ".test"
				host := "mx." + domain
				var o mxOpts
				if mode == "dane" {
					c := n.ca.valid(b, host)
					o.cert = &c
					n.dns.TLSA(tlsaName(n.port, host), tlsaFor(c.Leaf, 3, 1, 1))
				}
				n.addMX(host, o)
				n.dns.MX(domain, 10, host)
				to = append(to, "x@"+domain)
			}
			d := n.deliverer()
			msg := message(to...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()

			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				rep, err := d.Deliver(ctx, msg)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range rep.Results {
					if r.Status != Delivered {
						b.Fatalf("%s: %v", r.Recipient, r.Err)
					}
				}
			}
			b.ReportMetric(float64(b.N*len(to))/time.Since(start).Seconds(), "deliveries/s")
		})
	}
}
