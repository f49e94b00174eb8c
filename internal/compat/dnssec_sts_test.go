package compat

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// stsPolicyHost is the MTA-STS policy host of domainSTS (RFC 8461 section
// 3.3: "mta-sts." and the domain), whose A record is 127.0.0.1.
const stsPolicyHost = "mta-sts." + domainSTS

// stsServer is domainSTS's policy host: HTTPS on a loopback port with the
// chain's leaf (whose names include stsPolicyHost), serving the policy at
// /.well-known/mta-sts.txt (RFC 8461 section 3.2).
type stsServer struct {
	// Addr is where it listens (127.0.0.1:port; the policy host's
	// port 443 stands for it).
	Addr string
	// Policy is the policy it serves.
	Policy string
	// Client is an HTTP client for the policy host: it trusts the chain's
	// CA alone and connects to Addr for stsPolicyHost:443 and nowhere
	// else, so that no name is looked up outside the chain.
	Client *http.Client
}

// startSTSPolicy serves domainSTS's policy with the given mode ("enforce",
// "testing" or "none") and its MX host as the only mx pattern, until the
// test ends.
func (c *dnssecChain) startSTSPolicy(t testing.TB, mode string) *stsServer {
	t.Helper()
	s := &stsServer{Policy: fmt.Sprintf("version: STSv1\r\nmode: %s\r\nmx: mx.%s\r\nmax_age: 86400\r\n", mode, domainSTS)}

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != stsPolicyHost || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, s.Policy)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{c.Certs.Cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s.Addr = srv.Listener.Addr().String()

	s.Client = &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: c.Certs.CAPool},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if addr != stsPolicyHost+":443" {
					return nil, errors.New("sts test client: only " + stsPolicyHost + ":443 is served here, not " + addr)
				}
				var d net.Dialer
				return d.DialContext(ctx, network, s.Addr)
			},
		},
	}
	return s
}
