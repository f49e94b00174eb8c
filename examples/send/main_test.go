package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
	"github.com/postwire/postwire/smtp/delivery"
)

// A backend keeping every body, offering the mechanisms of -auth for user
// "user" with password "pass".
type store struct {
	mu     sync.Mutex
	bodies []string
	froms  []string // the reverse-path of each MAIL
}

func (s *store) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

type session struct {
	s  *store
	to []string
}

func (x *session) Mail(_ context.Context, from string, _ *smtp.MailOptions) error {
	x.s.mu.Lock()
	x.s.froms = append(x.s.froms, from)
	x.s.mu.Unlock()
	return nil
}
func (x *session) Rcpt(_ context.Context, to string, _ *smtp.RcptOptions) error {
	x.to = append(x.to, to)
	return nil
}
func (x *session) Data(_ context.Context, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	x.s.bodies = append(x.s.bodies, string(b))
	x.s.mu.Unlock()
	return nil
}
func (x *session) Reset()        { x.to = nil }
func (x *session) Logout() error { return nil }
func (*session) AuthMechanisms() []string {
	return []string{sasl.Plain, sasl.Login, sasl.CramMD5, sasl.ScramSHA256}
}
func (*session) Auth(mech string) (sasl.Server, error) {
	check := func(u, p string) error {
		if u == "user" && p == "pass" {
			return nil
		}
		return sasl.ErrInvalidCredentials
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, u, p string) error { return check(u, p) }), nil
	case sasl.Login:
		return sasl.NewLoginServer(check), nil
	case sasl.CramMD5:
		return sasl.NewCramMD5Server("test", func(string) (string, error) { return "pass", nil }), nil
	}
	return sasl.NewScramSHA256Server(func(string) (sasl.ScramCredentials, error) {
		return sasl.NewScramCredentials(sha256.New, "pass", []byte("salt"), 4096)
	}), nil
}

func testCert(t *testing.T) *tls.Config {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func serve(t *testing.T, srv *smtp.Server, implicit bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	if implicit {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return addr
}

func TestSendEachMode(t *testing.T) {
	message := "From: a@example.org\r\nSubject: example\r\n\r\n.dot line\r\nbody\r\n"
	file := filepath.Join(t.TempDir(), "message.eml")
	require.NoError(t, os.WriteFile(file, []byte(message), 0o600))
	cert := testCert(t)
	for _, tc := range []struct {
		name     string
		lmtp     bool
		implicit bool
		cfg      config
	}{
		{name: "plain", cfg: config{}},
		{name: "lock-step", cfg: config{noPipelining: true}},
		{name: "chunking", cfg: config{chunking: true}},
		{name: "smtputf8", cfg: config{smtputf8: true}},
		{name: "starttls", cfg: config{startTLS: true, insecure: true}},
		{name: "implicit tls", implicit: true, cfg: config{implicitTLS: true, insecure: true}},
		{name: "lmtp", lmtp: true, cfg: config{lmtp: true}},
		{name: "auth plain", cfg: config{startTLS: true, insecure: true, authMech: "plain", user: "user", password: "pass"}},
		{name: "auth login", cfg: config{startTLS: true, insecure: true, authMech: "login", user: "user", password: "pass"}},
		{name: "auth cram-md5", cfg: config{startTLS: true, insecure: true, authMech: "cram-md5", user: "user", password: "pass"}},
		{name: "auth scram-sha-256", cfg: config{startTLS: true, insecure: true, authMech: "scram-sha-256", user: "user", password: "pass"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &store{}
			srv := &smtp.Server{Hostname: "test", Backend: st, TLSConfig: cert, LMTP: tc.lmtp,
				Logger: slog.New(slog.DiscardHandler)}
			cfg := tc.cfg
			cfg.server = serve(t, srv, tc.implicit)
			cfg.from, cfg.to, cfg.file = "a@example.org", []string{"b@example.org", "c@example.org"}, file
			cfg.localName, cfg.timeout = "localhost", 10*time.Second
			require.NoError(t, run(cfg))
			st.mu.Lock()
			defer st.mu.Unlock()
			require.Len(t, st.bodies, 1)
			assert.Equal(t, message, st.bodies[0], "the message arrives byte for byte")
		})
	}
}

func TestSendRefusals(t *testing.T) {
	st := &store{}
	srv := &smtp.Server{Hostname: "test", Backend: st, Logger: slog.New(slog.DiscardHandler)}
	addr := serve(t, srv, false)
	base := config{server: addr, from: "a@example.org", to: []string{"b@example.org"}, file: "/dev/null",
		localName: "localhost", timeout: 10 * time.Second}
	cfg := base
	cfg.to = nil
	require.ErrorContains(t, run(cfg), "-to")
	cfg = base
	cfg.startTLS = true
	require.Error(t, run(cfg), "STARTTLS is not offered")
	cfg = base
	cfg.authMech = "digest-md5"
	require.Error(t, run(cfg))
	assert.Empty(t, st.bodies)
}

// mxResolver points example.org at an MX host on 127.0.0.1 and gives
// null.test a null MX (RFC 7505); every other name does not exist.
type mxResolver struct{}

func notFound(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (mxResolver) LookupMX(_ context.Context, domain string) ([]*net.MX, delivery.DNSInfo, error) {
	switch domain {
	case "example.org":
		return []*net.MX{{Host: "mx.example.org.", Pref: 10}}, delivery.DNSInfo{}, nil
	case "null.test":
		return []*net.MX{{Host: ".", Pref: 0}}, delivery.DNSInfo{}, nil
	}
	return nil, delivery.DNSInfo{}, notFound(domain)
}

func (mxResolver) LookupIP(_ context.Context, network, host string) ([]netip.Addr, delivery.DNSInfo, error) {
	if host == "mx.example.org" && network == "ip4" {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, delivery.DNSInfo{}, nil
	}
	return nil, delivery.DNSInfo{}, notFound(host)
}

func (mxResolver) LookupTXT(_ context.Context, name string) ([]string, delivery.DNSInfo, error) {
	return nil, delivery.DNSInfo{}, notFound(name)
}

func TestSendMX(t *testing.T) {
	message := "From: a@example.org\r\nSubject: direct\r\n\r\nbody\r\n"
	file := filepath.Join(t.TempDir(), "message.eml")
	require.NoError(t, os.WriteFile(file, []byte(message), 0o600))
	st := &store{}
	srv := &smtp.Server{Hostname: "mx.example.org", Backend: st, TLSConfig: testCert(t), Logger: slog.New(slog.DiscardHandler)}
	addr := serve(t, srv, false)
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	var out bytes.Buffer
	cfg := config{mx: true, resolver: mxResolver{}, out: &out, from: "a@example.org",
		to: []string{"b@example.org", "c@null.test"}, file: file, localName: "localhost", timeout: 10 * time.Second}
	cfg.mxPort, err = strconv.Atoi(port)
	require.NoError(t, err)

	err = run(cfg)

	require.ErrorContains(t, err, "1 of 2 recipients not delivered")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2, out.String())
	assert.Regexp(t, `^recipient <b@example.org>: delivered via mx.example.org \[127.0.0.1\]; TLS policy no-policy-found, TLS 1\.[23], not verified$`, lines[0])
	assert.Regexp(t, `^recipient <c@null.test>: permanent failure: 556 5\.1\.10 .*; no host was connected to$`, lines[1])
	st.mu.Lock()
	defer st.mu.Unlock()
	require.Len(t, st.bodies, 1)
	assert.Equal(t, message, st.bodies[0])
}

// Without -from nothing is sent: the null reverse-path only with
// -null-sender.
func TestSendNeedsASender(t *testing.T) {
	st := &store{}
	srv := &smtp.Server{Hostname: "test", Backend: st, Logger: slog.New(slog.DiscardHandler)}
	addr := serve(t, srv, false)
	file := filepath.Join(t.TempDir(), "m.eml")
	require.NoError(t, os.WriteFile(file, []byte("Subject: bounce\r\n\r\nhi\r\n"), 0o600))
	cfg := config{server: addr, to: []string{"b@example.org"}, file: file, localName: "localhost", timeout: 10 * time.Second}
	require.ErrorContains(t, run(cfg), "-from")
	assert.Empty(t, st.froms)

	cfg.nullSender = true
	require.NoError(t, run(cfg))
	assert.Equal(t, []string{""}, st.froms)
}

// The message's size goes with MAIL: one over the server's SIZE is not
// sent (RFC 1870 section 6).
func TestSendDeclaresTheSize(t *testing.T) {
	st := &store{}
	srv := &smtp.Server{Hostname: "test", Backend: st, Logger: slog.New(slog.DiscardHandler), MaxMessageBytes: 100}
	addr := serve(t, srv, false)
	file := filepath.Join(t.TempDir(), "m.eml")
	require.NoError(t, os.WriteFile(file, []byte("Subject: big\r\n\r\n"+strings.Repeat("x", 300)+"\r\n"), 0o600))
	cfg := config{server: addr, from: "a@example.org", to: []string{"b@example.org"}, file: file,
		localName: "localhost", timeout: 10 * time.Second}
	require.ErrorIs(t, run(cfg), smtp.ErrBodyNotAllowed)
	assert.Empty(t, st.froms, "refused before MAIL")
	assert.Empty(t, st.bodies)
}
