package delivery

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/postwire/postwire/smtp"
)

// testNet is a small internet on loopback: a DNS server, MX hosts on
// 127.0.0.N sharing one port, an HTTPS server for MTA-STS policies, and a
// CA that the Deliverer trusts.
type testNet struct {
	t     testing.TB
	dns   *testDNS
	ca    *testCA
	port  int
	mx    map[string]*testMX
	https *testPolicyServer
	next  int // last octet of the next MX address
}

func newTestNet(t testing.TB) *testNet {
	t.Helper()
	// Hold 127.0.0.1:port so that the port stays ours on every
	// 127.0.0.N; the MX hosts listen on 127.0.0.2 and above.
	hold, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hold.Close() })
	n := &testNet{
		t: t, dns: newTestDNS(t), ca: newTestCA(t, "Test CA"),
		port: hold.Addr().(*net.TCPAddr).Port, mx: map[string]*testMX{}, next: 2,
	}
	n.https = newTestPolicyServer(t, n.ca)
	return n
}

// deliverer returns a Deliverer wired to the test net.
func (n *testNet) deliverer() *Deliverer {
	return &Deliverer{
		Hostname:       "sender.test",
		DNSSECResolver: n.dns.Addr,
		Port:           n.port,
		RootCAs:        n.ca.pool,
		STSFetcher:     n.https.fetcher(),
		AddressFamily:  IPv4Only,
	}
}

// mxOpts configure a test MX host.
type mxOpts struct {
	cert       *tls.Certificate // nil: no STARTTLS
	requireTLS bool             // offer REQUIRETLS
	rcpt       func(to string) error
	ip         string // "" means the next 127.0.0.N
	maxRcpt    int    // Server.MaxRecipients
	tlsMax     uint16 // tls.Config.MaxVersion
}

// testMX is an smtp.Server standing for one MX host.
type testMX struct {
	name string
	ip   string
	srv  *smtp.Server

	mu   sync.Mutex
	msgs []testMsg
	conn int
}

// testMsg is one message an MX host took.
type testMsg struct {
	from       string
	to         []string
	body       string
	tls        bool
	sni        string // the server name the client sent
	requireTLS bool
}

func (m *testMX) messages() []testMsg {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]testMsg(nil), m.msgs...)
}

func (m *testMX) connections() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.conn
}

// addMX starts an MX host named name and gives it an A record.
func (n *testNet) addMX(name string, o mxOpts) *testMX {
	n.t.Helper()
	ip := o.ip
	if ip == "" {
		ip = "127.0.0." + strconv.Itoa(n.next)
		n.next++
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(n.port)))
	if err != nil {
		n.t.Fatalf("MX %s: %v", name, err)
	}
	m := &testMX{name: name, ip: ip}
	srv := &smtp.Server{
		Hostname:         name,
		Backend:          smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return m.newSession(c, o.rcpt), nil }),
		EnableREQUIRETLS: o.requireTLS,
		MaxRecipients:    o.maxRcpt,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if o.cert != nil {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*o.cert}, MaxVersion: o.tlsMax}
	}
	m.srv = srv
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	n.t.Cleanup(func() { srv.Close(); <-done })
	n.mx[name] = m
	if strings.Contains(ip, ":") || strings.HasPrefix(ip, "127.") {
		n.dns.A(name, ip)
	}
	return m
}

type testSession struct {
	m    *testMX
	c    *smtp.Conn
	rcpt func(string) error
	msg  testMsg
}

func (m *testMX) newSession(c *smtp.Conn, rcpt func(string) error) *testSession {
	m.mu.Lock()
	m.conn++
	m.mu.Unlock()
	return &testSession{m: m, c: c, rcpt: rcpt}
}

func (s *testSession) Mail(_ context.Context, from string, o *smtp.MailOptions) error {
	cs, tlsOn := s.c.TLSConnectionState()
	s.msg = testMsg{from: from, tls: tlsOn, sni: cs.ServerName, requireTLS: o != nil && o.RequireTLS}
	return nil
}

func (s *testSession) Rcpt(_ context.Context, to string, _ *smtp.RcptOptions) error {
	if s.rcpt != nil {
		if err := s.rcpt(to); err != nil {
			return err
		}
	}
	s.msg.to = append(s.msg.to, to)
	return nil
}

func (s *testSession) Data(_ context.Context, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.body = string(b)
	s.m.mu.Lock()
	s.m.msgs = append(s.m.msgs, s.msg)
	s.m.mu.Unlock()
	return nil
}

func (s *testSession) Reset()        { s.msg = testMsg{} }
func (s *testSession) Logout() error { return nil }

// testPolicyServer serves MTA-STS policies over HTTPS on loopback for
// every mta-sts.<domain>, with a certificate from the test CA.
type testPolicyServer struct {
	srv *httptest.Server
	ca  *testCA

	mu       sync.Mutex
	policies map[string]testPolicy // by domain
	fetches  map[string]int
}

// testPolicy is what the server answers for one domain.
type testPolicy struct {
	status      int    // 0 means 200
	contentType string // "" means text/plain
	body        string
	redirect    string
	hang        bool // answer nothing until the client gives up
}

func newTestPolicyServer(t testing.TB, ca *testCA) *testPolicyServer {
	p := &testPolicyServer{ca: ca, policies: map[string]testPolicy{}, fetches: map[string]int{}}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	certs := map[string]*tls.Certificate{}
	var mu sync.Mutex
	p.srv.TLS = &tls.Config{GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		mu.Lock()
		defer mu.Unlock()
		name := hello.ServerName
		if strings.HasPrefix(name, "badcert.") || strings.HasPrefix(name, "mta-sts.badcert") {
			name = "elsewhere.test"
		}
		if c, ok := certs[name]; ok {
			return c, nil
		}
		c := ca.valid(t, name)
		certs[name] = &c
		return &c, nil
	}}
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	return p
}

func (p *testPolicyServer) set(domain string, tp testPolicy) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.policies[domain] = tp
}

func (p *testPolicyServer) fetchCount(domain string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fetches[domain]
}

func (p *testPolicyServer) serve(w http.ResponseWriter, r *http.Request) {
	domain, ok := strings.CutPrefix(r.Host, "mta-sts.")
	if !ok || r.URL.Path != "/.well-known/mta-sts.txt" {
		http.NotFound(w, r)
		return
	}
	p.mu.Lock()
	tp, ok := p.policies[domain]
	p.fetches[domain]++
	p.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if tp.hang {
		<-r.Context().Done()
		return
	}
	if tp.redirect != "" {
		http.Redirect(w, r, tp.redirect, http.StatusFound)
		return
	}
	ct := tp.contentType
	if ct == "" {
		ct = "text/plain; charset=utf-8"
	}
	w.Header().Set("Content-Type", ct)
	if tp.status != 0 {
		w.WriteHeader(tp.status)
	}
	io.WriteString(w, tp.body)
}

// fetcher returns an STSFetcher whose every connection goes to the test
// server, verifying with the test CA.
func (p *testPolicyServer) fetcher() *STSFetcher {
	addr := p.srv.Listener.Addr().String()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: p.ca.pool},
	}
	return &STSFetcher{Client: &http.Client{Transport: tr}}
}

// netResolverFor is the default resolver (net.Resolver, no DNSSEC) sending
// its queries to the test DNS server at addr.
func netResolverFor(addr string) NetResolver {
	return NetResolver{Resolver: &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}}
}
