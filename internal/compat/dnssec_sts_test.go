package compat

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// stsPolicyHost is the MTA-STS policy host of domainSTS (RFC 8461 section
// 3.3: "mta-sts." and the domain).
const stsPolicyHost = "mta-sts." + domainSTS

// stsServer is the policy host of every domain of stsDomains: HTTPS with
// the chain's leaf (whose names include the policy hosts), serving each
// domain's policy (RFC 8461 section 3.2) at /.well-known/mta-sts.txt
// (section 3.3), chosen by the Host header.
type stsServer struct {
	// Addr is where it listens for Go clients (127.0.0.1:port).
	Addr string
	// Addr443 is where it listens for programs that dial the policy host
	// by its address in the DNS: the chain's PolicyIP on port 443; "" when
	// the chain has no address of its own.
	Addr443 string
	// Policies are the policies it serves, by domain.
	Policies map[string]string
	// Client is an HTTP client for the policy hosts: it trusts the chain's
	// CA alone and connects to Addr for "mta-sts.<domain>:443" and nowhere
	// else, so that no name is looked up outside the chain.
	Client *http.Client
}

// stsPolicy is a policy of one mx pattern (RFC 8461 section 3.2).
func stsPolicy(mode, mx string) string {
	return fmt.Sprintf("version: STSv1\r\nmode: %s\r\nmx: %s\r\nmax_age: 86400\r\n", mode, mx)
}

// startSTSPolicy serves domainSTS's policy, in the given mode ("enforce",
// "testing" or "none") with its MX host as the only mx pattern, and
// domainSTSBadMX's, in the same mode with "mx.elsewhere.test" alone, until
// the test ends.
func (c *dnssecChain) startSTSPolicy(t testing.TB, mode string) *stsServer {
	t.Helper()
	s := &stsServer{Policies: map[string]string{
		domainSTS:      stsPolicy(mode, "mx."+domainSTS),
		domainSTSBadMX: stsPolicy(mode, "mx.elsewhere.test"),
	}}
	srv := &http.Server{
		Handler:           http.HandlerFunc(s.serve),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{c.Certs.Cert}},
		ReadHeaderTimeout: 10 * time.Second,
	}

	s.Addr = serveTLS(t, srv, "127.0.0.1:0")
	if c.PolicyIP() != "127.0.0.1" {
		s.Addr443 = serveTLS(t, srv, net.JoinHostPort(c.PolicyIP(), "443"))
	}
	t.Cleanup(func() { srv.Close() })

	s.Client = &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: c.Certs.CAPool},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if !s.serves(addr) {
					return nil, errors.New("sts test client: only the policy hosts' port 443 is served here, not " + addr)
				}
				var d net.Dialer
				return d.DialContext(ctx, network, s.Addr)
			},
		},
	}
	return s
}

// serveTLS runs srv with TLS on a listener of addr and returns its address.
func serveTLS(t testing.TB, srv *http.Server, addr string) string {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	go srv.ServeTLS(l, "", "")
	return l.Addr().String()
}

// serve answers GET /.well-known/mta-sts.txt on a policy host with its
// domain's policy as text/plain, and anything else with 404.
func (s *stsServer) serve(w http.ResponseWriter, r *http.Request) {
	domain, ok := strings.CutPrefix(r.Host, "mta-sts.")
	policy, known := s.Policies[domain]
	if !ok || !known || r.URL.Path != "/.well-known/mta-sts.txt" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprint(w, policy)
}

// serves says whether addr is a policy host's port 443.
func (s *stsServer) serves(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port != "443" {
		return false
	}
	domain, ok := strings.CutPrefix(host, "mta-sts.")
	_, known := s.Policies[domain]
	return ok && known
}
