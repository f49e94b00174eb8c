package smtp

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postwire/postwire/sasl"
	"github.com/stretchr/testify/require"
)

// This file holds the server tests' harness: a recording backend whose
// behaviour is chosen by the addresses it is given, a server on loopback,
// and a raw client that speaks lines.
//
// Addresses the backend treats specially:
//
//	MAIL from reject@...   550 5.7.1 (an *Error, sent as it is)
//	MAIL from tempfail@... a plain error (the server must say 451 4.3.0)
//	MAIL from panic@...    a panic (the server must say 421 4.3.0)
//	RCPT to unknown@...    550 5.1.1
//	RCPT to lmtpfail@...   accepted; LMTPData gives it 550 5.2.1
//	a body containing REJECT-BODY: 554 5.6.0 after reading it all

type srvMessage struct {
	From     string
	To       []string
	Body     string
	Opts     MailOptions
	RcptOpts []RcptOptions
}

type srvBackend struct {
	mu        sync.Mutex
	messages  []srvMessage
	sessions  int
	logouts   int
	resets    int
	auth      bool     // sessions offer PLAIN and LOGIN, user "user" password "pass"
	verify    bool     // sessions implement VerifySession
	lmtp      bool     // sessions implement LMTPSession
	earlyStop bool     // Data returns nil after reading 10 octets
	etrn      bool     // sessions implement ETRNSession (queue_test.go)
	odmr      bool     // sessions offer AUTH and implement ODMRSession (queue_test.go)
	etrnNodes []string // the nodes ETRN passed to the sessions, as on the wire
	delivered []string // what DeliverHeld's Sends reported, per recipient
	noPanic   bool     // panic@ is a sender like any other (for fuzzing)
	lastConn  *Conn
	mailCtx   context.Context // the context given to the last Mail
	authResp  [][]byte        // responses the X-TEST mechanism received
}

func (b *srvBackend) NewSession(c *Conn) (Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sessions++
	b.lastConn = c
	base := &srvSession{b: b, c: c}
	switch {
	case b.odmr && b.etrn:
		return &srvQueueSession{&srvODMRSession{&srvAuthSession{base}}}, nil
	case b.odmr:
		return &srvODMRSession{&srvAuthSession{base}}, nil
	case b.etrn:
		return &srvETRNSession{base}, nil
	case b.auth:
		return &srvAuthSession{base}, nil
	case b.verify:
		return &srvVerifySession{base}, nil
	case b.lmtp:
		return &srvLMTPSession{base}, nil
	}
	return base, nil
}

// LastConn returns the connection of the newest session.
func (b *srvBackend) LastConn() *Conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastConn
}

func (b *srvBackend) Messages() []srvMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]srvMessage(nil), b.messages...)
}

type srvSession struct {
	b   *srvBackend
	c   *Conn
	cur srvMessage
}

func (s *srvSession) Mail(ctx context.Context, from string, opts *MailOptions) error {
	switch {
	case strings.HasPrefix(from, "reject@"):
		return &Error{Code: 550, Enhanced: EnhancedCode{5, 7, 1}, Message: "Sender refused"}
	case strings.HasPrefix(from, "tempfail@"):
		return errors.New("database on fire at 10.0.0.7")
	case strings.HasPrefix(from, "panic@") && !s.b.noPanic:
		panic("backend panic")
	}
	s.cur = srvMessage{From: from, Opts: *opts}
	s.b.mu.Lock()
	s.b.mailCtx = ctx
	s.b.mu.Unlock()
	return nil
}

func (s *srvSession) Rcpt(ctx context.Context, to string, opts *RcptOptions) error {
	if strings.HasPrefix(to, "unknown@") {
		return &Error{Code: 550, Enhanced: EnhancedCode{5, 1, 1}, Message: "No such user"}
	}
	o := *opts
	o.Notify = append([]DSNNotify(nil), opts.Notify...)
	s.cur.To = append(s.cur.To, to)
	s.cur.RcptOpts = append(s.cur.RcptOpts, o)
	return nil
}

func (s *srvSession) Data(ctx context.Context, r io.Reader) error {
	return s.data(r)
}

func (s *srvSession) data(r io.Reader) error {
	var body []byte
	var err error
	if s.b.stopEarly() {
		buf := make([]byte, 10)
		n, _ := io.ReadFull(r, buf)
		body = buf[:n]
	} else {
		body, err = io.ReadAll(r)
		if err != nil {
			return err
		}
	}
	if strings.Contains(string(body), "REJECT-BODY") {
		return &Error{Code: 554, Enhanced: EnhancedCode{5, 6, 0}, Message: "Content refused"}
	}
	s.cur.Body = string(body)
	s.b.mu.Lock()
	s.b.messages = append(s.b.messages, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (b *srvBackend) stopEarly() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.earlyStop
}

func (s *srvSession) Reset() {
	s.cur = srvMessage{}
	s.b.mu.Lock()
	s.b.resets++
	s.b.mu.Unlock()
}

func (s *srvSession) Logout() error {
	s.b.mu.Lock()
	s.b.logouts++
	s.b.mu.Unlock()
	return nil
}

type srvAuthSession struct{ *srvSession }

func (s *srvAuthSession) AuthMechanisms() []string {
	return []string{sasl.Plain, sasl.Login, "X-TEST", "X-BROKEN"}
}

// srvTestMech is the X-TEST mechanism: it records each response; a nil
// first response gets the challenge "go"; "ok" succeeds; "final" succeeds
// with additional data "bye"; anything else fails.
type srvTestMech struct{ b *srvBackend }

func (m srvTestMech) Next(resp []byte) ([]byte, bool, error) {
	m.b.mu.Lock()
	m.b.authResp = append(m.b.authResp, resp)
	m.b.mu.Unlock()
	switch {
	case resp == nil:
		return []byte("go"), false, nil
	case string(resp) == "ok":
		return nil, true, nil
	case string(resp) == "final":
		return []byte("bye"), true, nil
	}
	return nil, false, sasl.ErrInvalidCredentials
}

func (s *srvAuthSession) Auth(mech string) (sasl.Server, error) {
	check := func(identity, user, pass string) error {
		if user == "user" && pass == "pass" {
			return nil
		}
		return sasl.ErrInvalidCredentials
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(check), nil
	case sasl.Login:
		return sasl.NewLoginServer(func(u, p string) error { return check("", u, p) }), nil
	case "X-TEST":
		return srvTestMech{s.b}, nil
	case "X-BROKEN":
		return nil, errors.New("mechanism backend down")
	}
	return nil, &Error{Code: 504, Enhanced: EnhancedCode{5, 5, 4}, Message: "Unrecognized authentication type"}
}

type srvVerifySession struct{ *srvSession }

func (s *srvVerifySession) Verify(ctx context.Context, arg string) (string, error) {
	if arg == "alice" {
		return "Alice <alice@example.org>", nil
	}
	return "", &Error{Code: 550, Enhanced: EnhancedCode{5, 1, 1}, Message: "No such user"}
}

func (s *srvVerifySession) Expand(ctx context.Context, list string) ([]string, error) {
	if list == "staff" {
		return []string{"<alice@example.org>", "<bob@example.org>"}, nil
	}
	return nil, &Error{Code: 550, Enhanced: EnhancedCode{5, 1, 1}, Message: "No such list"}
}

type srvLMTPSession struct{ *srvSession }

func (s *srvLMTPSession) LMTPData(ctx context.Context, r io.Reader, status StatusCollector) error {
	if err := s.data(r); err != nil {
		return err
	}
	for _, to := range s.cur.To {
		if strings.HasPrefix(to, "lmtpfail@") {
			status.SetStatus(to, &Error{Code: 550, Enhanced: EnhancedCode{5, 2, 1}, Message: "Mailbox disabled"})
		}
	}
	return nil
}

// srvQuietLogger discards the server's log in tests.
var srvQuietLogger = slog.New(slog.DiscardHandler)

// srvStart runs a server on 127.0.0.1 with b, after configure adjusts it.
func srvStart(t testing.TB, b *srvBackend, configure func(*Server)) (*Server, string) {
	t.Helper()
	s := &Server{Hostname: "mx.test", Backend: b, Logger: srvQuietLogger}
	if configure != nil {
		configure(s)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		s.Close()
		select {
		case err := <-done:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after Close")
		}
		// Every connection's goroutine ends with Shutdown or Close.
		for wait := time.Now().Add(5 * time.Second); s.active.Load() != 0; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(wait) {
				t.Errorf("%d connection goroutines still running after Shutdown and Close", s.active.Load())
				break
			}
		}
	})
	return s, l.Addr().String()
}

// srvClient is a raw client that sends lines and reads replies.
type srvClient struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

func srvDial(t testing.TB, addr string) *srvClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &srvClient{t: t, nc: nc, r: bufio.NewReader(nc)}
}

// send writes the lines, each with CRLF, in one write.
func (c *srvClient) send(lines ...string) {
	c.t.Helper()
	_, err := io.WriteString(c.nc, strings.Join(lines, "\r\n")+"\r\n")
	require.NoError(c.t, err)
}

// raw writes s as it is.
func (c *srvClient) raw(s string) {
	c.t.Helper()
	_, err := io.WriteString(c.nc, s)
	require.NoError(c.t, err)
}

// line reads one reply line without its CRLF.
func (c *srvClient) line() string {
	c.t.Helper()
	l, err := c.r.ReadString('\n')
	require.NoError(c.t, err, "reading a reply line (got %q)", l)
	require.True(c.t, strings.HasSuffix(l, "\r\n"), "reply line %q must end with CRLF", l)
	return strings.TrimSuffix(l, "\r\n")
}

// reply reads a whole reply and returns its lines.
func (c *srvClient) reply() []string {
	c.t.Helper()
	var lines []string
	for {
		l := c.line()
		require.GreaterOrEqual(c.t, len(l), 3, "short reply line %q", l)
		lines = append(lines, l)
		if len(l) == 3 || l[3] == ' ' {
			return lines
		}
		require.Equal(c.t, byte('-'), l[3], "bad reply line %q", l)
	}
}

// expect reads a reply and checks that its last line starts with prefix.
func (c *srvClient) expect(prefix string) []string {
	c.t.Helper()
	lines := c.reply()
	last := lines[len(lines)-1]
	require.True(c.t, strings.HasPrefix(last, prefix), "reply %q, want prefix %q", lines, prefix)
	return lines
}

// cmd sends line and expects a reply starting with prefix.
func (c *srvClient) cmd(line, prefix string) []string {
	c.t.Helper()
	c.send(line)
	return c.expect(prefix)
}

// expectClosed checks that the server closed the connection.
func (c *srvClient) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := c.r.ReadString('\n')
	require.Equal(c.t, "", l)
	require.True(c.t, errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err), "want EOF, got %v", err)
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// srvTLSConfig returns a server config with an ephemeral self-signed
// certificate for "mx.test", and a client config that trusts it.
func srvTLSConfig(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mx.test"},
		DNSNames:     []string{"mx.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}
	client = &tls.Config{RootCAs: pool, ServerName: "mx.test"}
	return server, client
}

// startTLS upgrades the client's connection after a 220 to STARTTLS.
func (c *srvClient) startTLS(cfg *tls.Config) {
	c.t.Helper()
	require.Zero(c.t, c.r.Buffered(), "server sent octets after its 220 to STARTTLS")
	tc := tls.Client(c.nc, cfg)
	require.NoError(c.t, tc.Handshake())
	c.nc = tc
	c.r = bufio.NewReader(tc)
}

var _ fs.FS // keep io/fs for the transcript harness

func TestServerBasicTransaction(t *testing.T) {
	b := &srvBackend{}
	_, addr := srvStart(t, b, nil)
	c := srvDial(t, addr)
	c.expect("220 mx.test ")
	c.cmd("EHLO client.test", "250 ")
	c.cmd("MAIL FROM:<a@example.org>", "250 2.1.0")
	c.cmd("RCPT TO:<b@example.net>", "250 2.1.5")
	c.cmd("DATA", "354 ")
	c.send("Subject: hi", "", "..dot", "body", ".")
	c.expect("250 2.0.0")
	c.cmd("QUIT", "221 2.0.0")
	c.expectClosed()
	msgs := b.Messages()
	require.Len(t, msgs, 1)
	require.Equal(t, "a@example.org", msgs[0].From)
	require.Equal(t, []string{"b@example.net"}, msgs[0].To)
	require.Equal(t, "Subject: hi\r\n\r\n.dot\r\nbody\r\n", msgs[0].Body)
}
