package smtp_test

import (
	"log"
	"net/netip"

	"github.com/postwire/postwire/smtp"
)

// A server behind two HAProxy nodes ("server mx 10.0.0.5:25
// send-proxy-v2"). Content filters in 192.168.10.0/24, which reach it
// through the balancers too, may pass on the clients they relay with
// XCLIENT: that trust is judged on the address the PROXY header gives.
// Sessions see the original client in Conn.RemoteAddr; Conn.XCLIENT tells
// what a filter announced.
func ExampleServer_behindProxy() {
	s := &smtp.Server{
		Addr:     "10.0.0.5:25",
		Hostname: "mx.example.org",
		Backend: smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
			log.Printf("client %s", c.RemoteAddr())
			return nil, &smtp.Error{Code: 554, Enhanced: smtp.EnhancedCode{5, 7, 1}, Message: "No service"}
		}),
		ProxyProtocol:  true,
		ProxyTrusted:   []netip.Prefix{netip.MustParsePrefix("10.0.0.2/31")}, // the two HAProxy nodes
		XCLIENTTrusted: []netip.Prefix{netip.MustParsePrefix("192.168.10.0/24")},
	}
	_ = s // s.ListenAndServe()
}
