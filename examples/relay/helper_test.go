package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/require"
)

// stored is a message the test upstream accepted.
type stored struct {
	from string
	to   []string
	body []byte
	id   string
	conn *smtp.Conn
}

// testUpstream is an in-process smtp.Server standing for the smarthost:
// it keeps what it accepts and answers the final dot "250 2.0.0 Ok: queued
// as Q<n>", refuses nobody@... at RCPT and bodies holding REJECT-BODY.
type testUpstream struct {
	addr    string
	srv     *smtp.Server
	discard bool // keep no message (benchmarks)

	mu       sync.Mutex
	messages []stored
	sessions int
	logouts  int
	lastConn *smtp.Conn
}

// startUpstream starts a test upstream on loopback; configure may change
// the Server before it serves.
func startUpstream(t testing.TB, configure func(*smtp.Server)) *testUpstream {
	t.Helper()
	u := &testUpstream{}
	u.srv = &smtp.Server{Hostname: "upstream.test", Backend: u, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if configure != nil {
		configure(u.srv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	u.addr = l.Addr().String()
	done := make(chan error, 1)
	go func() { done <- u.srv.Serve(l) }()
	t.Cleanup(func() {
		u.srv.Close()
		<-done
	})
	return u
}

func (u *testUpstream) NewSession(c *smtp.Conn) (smtp.Session, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sessions++
	u.lastConn = c
	return &upstreamSession{u: u, conn: c}, nil
}

// Messages returns what the upstream accepted so far.
func (u *testUpstream) Messages() []stored {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]stored(nil), u.messages...)
}

// waitLogouts waits until n sessions have ended.
func (u *testUpstream) waitLogouts(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		u.mu.Lock()
		got := u.logouts
		u.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d upstream sessions ended, want %d", got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type upstreamSession struct {
	u    *testUpstream
	conn *smtp.Conn
	cur  stored
}

func (s *upstreamSession) Mail(_ context.Context, from string, _ *smtp.MailOptions) error {
	s.cur = stored{from: from, conn: s.conn}
	return nil
}

func (s *upstreamSession) Rcpt(_ context.Context, to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "nobody@") {
		return smtp.ErrNoSuchUser
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *upstreamSession) Data(_ context.Context, r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if bytes.Contains(body, []byte("REJECT-BODY")) {
		return &smtp.Error{Code: 554, Enhanced: smtp.EnhancedCode{5, 7, 1}, Message: "Content refused upstream"}
	}
	s.u.mu.Lock()
	defer s.u.mu.Unlock()
	if s.u.discard {
		return &smtp.Error{Code: 250, Enhanced: smtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as X"}
	}
	s.cur.body = body
	s.cur.id = fmt.Sprintf("Q%d", len(s.u.messages)+1)
	s.u.messages = append(s.u.messages, s.cur)
	return &smtp.Error{Code: 250, Enhanced: smtp.EnhancedCode{2, 0, 0}, Message: "Ok: queued as " + s.cur.id}
}

func (s *upstreamSession) Reset() { s.cur = stored{} }

func (s *upstreamSession) Logout() error {
	s.u.mu.Lock()
	s.u.logouts++
	s.u.mu.Unlock()
	return nil
}

// upstreamAuthSession offers PLAIN for relay / relaypass.
type upstreamAuthSession struct{ *upstreamSession }

func (upstreamAuthSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (upstreamAuthSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "relay" || pass != "relaypass" {
			return sasl.ErrInvalidCredentials
		}
		return nil
	}), nil
}

// authUpstream is a test upstream whose sessions offer AUTH.
type authUpstream struct{ *testUpstream }

func (a authUpstream) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s, _ := a.testUpstream.NewSession(c)
	return upstreamAuthSession{s.(*upstreamSession)}, nil
}

// relay is the relay under test, run in-process as main would.
type relay struct {
	at  listening
	log *syncBuffer
}

// startRelay runs the relay with flags (after loopback listeners on free
// ports, a self-signed certificate and the user alice@example.org /
// secret) and stops it gracefully when the test ends.
func startRelay(t testing.TB, flags ...string) *relay {
	t.Helper()
	args := append([]string{"-addr", "127.0.0.1:0", "-tls-addr", "127.0.0.1:0", "-hostname", "relay.test",
		"-tls-self-signed", "-users", "alice@example.org:secret,bob:hunter2", "-senders", "bob=bob@example.org+b@example.net"}, flags...)
	cfg, err := parseFlags(args, io.Discard)
	require.NoError(t, err)
	return startRelayWith(t, cfg, nil)
}

// startRelayWith runs the relay with cfg; adjust, when set, changes the
// backend before it serves (a test resolver for -mx).
func startRelayWith(t testing.TB, cfg *config, adjust func(*backend)) *relay {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan listening, 1)
	done := make(chan error, 1)
	go func() {
		done <- runAdjusted(ctx, cfg, log, func(a listening) { ready <- a }, adjust)
	}()
	select {
	case at := <-ready:
		t.Cleanup(func() {
			cancel()
			require.NoError(t, <-done, logs.String())
		})
		return &relay{at: at, log: logs}
	case err := <-done:
		cancel()
		t.Fatalf("relay did not start: %v\n%s", err, logs.String())
		return nil
	}
}

// submit sends msg through the relay with our client: STARTTLS on the
// submission port (implicit TLS on the other when implicit is set), AUTH
// PLAIN as user, then one transaction.
func submit(t testing.TB, r *relay, implicit bool, user, pass, from string, to []string, msg []byte) (*smtp.SendResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := &smtp.DialOptions{LocalName: "laptop.example", TLSConfig: &tls.Config{InsecureSkipVerify: true}}
	var c *smtp.Client
	var err error
	if implicit {
		c, err = smtp.DialTLS(ctx, r.at.submissions.String(), opts)
	} else {
		c, err = smtp.DialStartTLS(ctx, r.at.submission.String(), opts)
	}
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if user != "" {
		if err := c.Auth(ctx, sasl.NewPlainClient("", user, pass)); err != nil {
			return nil, err
		}
	}
	res, err := c.Send(ctx, &smtp.Envelope{From: from, To: to}, bytes.NewReader(msg))
	if err != nil {
		return res, err
	}
	return res, c.Quit(ctx)
}

// testMessage has what trips careless relays: leading dots, a lone dot,
// 8-bit text, a long line.
func testMessage(subject string) []byte {
	return []byte("From: Alice <alice@example.org>\r\n" +
		"To: Bob <bob@example.net>\r\n" +
		"Subject: " + subject + "\r\n" +
		"\r\n" +
		".a line that starts with a dot\r\n" +
		".\r\n" +
		"..\r\n" +
		"Grüße, ça va?\r\n" +
		strings.Repeat("0123456789", 90) + "\r\n")
}

// loopback is the prefix XCLIENT trusts in the tests.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// syncBuffer is a log the relay writes from several goroutines while the
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
