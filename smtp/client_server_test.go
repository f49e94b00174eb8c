package smtp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/sasl"
)

// The harness for testing the client against this module's Server, on
// loopback: a backend that records every message, offers every SASL
// mechanism of package sasl (user "user", password "pass"), reports LMTP
// statuses and answers VRFY.
//
//	RCPT to unknown@...      550 5.1.1
//	RCPT to lmtpfail@...     accepted; its LMTP delivery fails 552 5.2.2

type clientRecord struct {
	From     string
	To       []string
	Body     string
	Opts     MailOptions
	RcptOpts []RcptOptions
	AuthUser string
	TLS      bool
}

type clientBackend struct {
	mu       sync.Mutex
	messages []clientRecord
}

func (b *clientBackend) NewSession(c *Conn) (Session, error) {
	return &clientSession{b: b, conn: c}, nil
}

func (b *clientBackend) all() []clientRecord {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]clientRecord(nil), b.messages...)
}

type clientSession struct {
	b    *clientBackend
	conn *Conn
	cur  clientRecord
}

func (s *clientSession) Mail(ctx context.Context, from string, opts *MailOptions) error {
	s.cur = clientRecord{From: from}
	if opts != nil {
		s.cur.Opts = *opts
		if opts.MTPriority != nil {
			p := *opts.MTPriority
			s.cur.Opts.MTPriority = &p
		}
		if opts.DeliverBy != nil {
			by := *opts.DeliverBy
			s.cur.Opts.DeliverBy = &by
		}
		if opts.Auth != nil {
			a := *opts.Auth
			s.cur.Opts.Auth = &a
		}
	}
	return nil
}

func (s *clientSession) Rcpt(ctx context.Context, to string, opts *RcptOptions) error {
	if strings.HasPrefix(to, "unknown@") {
		return &Error{Code: 550, Enhanced: EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	s.cur.To = append(s.cur.To, to)
	var o RcptOptions
	if opts != nil {
		o = *opts
		o.Notify = append([]DSNNotify(nil), opts.Notify...)
	}
	s.cur.RcptOpts = append(s.cur.RcptOpts, o)
	return nil
}

func (s *clientSession) Data(ctx context.Context, r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Body = string(body)
	if id, _, ok := s.conn.AuthIdentity(); ok {
		s.cur.AuthUser = id.Authentication
	}
	_, s.cur.TLS = s.conn.TLSConnectionState()
	s.b.mu.Lock()
	s.b.messages = append(s.b.messages, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (s *clientSession) LMTPData(ctx context.Context, r io.Reader, status StatusCollector) error {
	if err := s.Data(ctx, r); err != nil {
		return err
	}
	for _, to := range s.cur.To {
		if strings.HasPrefix(to, "lmtpfail@") {
			status.SetStatus(to, &Error{Code: 552, Enhanced: EnhancedCode{5, 2, 2}, Message: "mailbox full"})
		} else {
			status.SetStatus(to, nil)
		}
	}
	return nil
}

func (s *clientSession) Reset()        { s.cur = clientRecord{} }
func (s *clientSession) Logout() error { return nil }

func (s *clientSession) Verify(ctx context.Context, arg string) (string, error) {
	if strings.HasPrefix(arg, "unknown") {
		return "", &Error{Code: 550, Enhanced: EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	return "<" + arg + ">", nil
}

func (s *clientSession) Expand(ctx context.Context, list string) ([]string, error) {
	return nil, &Error{Code: 502, Enhanced: EnhancedCode{5, 5, 1}, Message: "no"}
}

func (s *clientSession) AuthMechanisms() []string {
	return []string{sasl.Plain, sasl.Login, sasl.CramMD5, sasl.ScramSHA1, sasl.ScramSHA256,
		sasl.OAuthBearer, sasl.XOAuth2, sasl.Anonymous}
}

func (s *clientSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user == "user" && pass == "pass" {
			return nil
		}
		return sasl.ErrInvalidCredentials
	}
	scram := func(h func() hash.Hash) func(string) (sasl.ScramCredentials, error) {
		return func(user string) (sasl.ScramCredentials, error) {
			if user != "user" {
				return sasl.ScramCredentials{}, sasl.ErrInvalidCredentials
			}
			return sasl.NewScramCredentials(h, "pass", []byte("salt-of-the-earth"), 4096)
		}
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, u, p string) error { return check(u, p) }), nil
	case sasl.Login:
		return sasl.NewLoginServer(check), nil
	case sasl.CramMD5:
		return sasl.NewCramMD5Server("test.example", func(u string) (string, error) {
			if u != "user" {
				return "", sasl.ErrInvalidCredentials
			}
			return "pass", nil
		}), nil
	case sasl.ScramSHA1:
		return sasl.NewScramSHA1Server(scram(sha1.New)), nil
	case sasl.ScramSHA256:
		return sasl.NewScramSHA256Server(scram(sha256.New)), nil
	case sasl.OAuthBearer:
		return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) error {
			if o.Token == "pass" {
				return nil
			}
			return sasl.ErrInvalidCredentials
		}), nil
	case sasl.XOAuth2:
		return sasl.NewXOAuth2Server(check), nil
	case sasl.Anonymous:
		return sasl.NewAnonymousServer(func(string) error { return nil }), nil
	}
	return nil, errors.New("no such mechanism")
}

// clientCert makes an ephemeral certificate for 127.0.0.1 and localhost
// and a client config that trusts it.
func clientCert(t testing.TB) (server, client *tls.Config) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool}
	return server, client
}

// clientServe runs a Server on loopback configured by configure (which may
// wrap the listener, for implicit TLS) and returns its address.
func clientServe(t testing.TB, be *clientBackend, configure func(s *Server), wrap func(net.Listener) net.Listener) string {
	t.Helper()
	srv := &Server{Hostname: "test.example", Backend: be, Logger: slog.New(slog.DiscardHandler)}
	if configure != nil {
		configure(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	if wrap != nil {
		ln = wrap(ln)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; err != nil && !errors.Is(err, ErrServerClosed) && !errors.Is(err, fs.ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return addr
}
