package compat

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fetchmail (Debian's package) is the common customer side of ETRN (RFC
// 1985) and On-Demand Mail Relay (RFC 2645). These tests run it against
// our server with a backend that holds mail.

// queueBackend is a provider that holds mail for two domains: ETRN
// records the nodes asked for, ATRN lets "customer" (password "secret")
// take both domains and sends the held messages, recording per recipient
// what the customer answered.
type queueBackend struct {
	mu        sync.Mutex
	nodes     []string
	delivered []string
	held      map[string][]queuedMessage
}

type queuedMessage struct {
	from string
	to   []string
	body string
}

func newQueueBackend() *queueBackend {
	return &queueBackend{held: map[string][]queuedMessage{
		"example.org": {
			{from: "sender@remote.test", to: []string{"alice@example.org"}, body: "Subject: held one\r\n\r\nfirst held message\r\n"},
			{from: "sender@remote.test", to: []string{"bob@example.org", "carol@example.org"}, body: "Subject: held two\r\n\r\nsecond held message\r\n"},
		},
		"example.net": {
			{from: "", to: []string{"dave@example.net"}, body: "Subject: held three\r\n\r\nthird held message\r\n"},
		},
	}}
}

func (b *queueBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &queueSession{b: b}, nil
}

func (b *queueBackend) Nodes() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.nodes...)
}

func (b *queueBackend) Delivered() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.delivered...)
}

type queueSession struct{ b *queueBackend }

func (s *queueSession) Mail(context.Context, string, *smtp.MailOptions) error {
	return &smtp.Error{Code: 502, Enhanced: smtp.EnhancedCode{5, 5, 1}, Message: "This server only relays on demand"}
}
func (s *queueSession) Rcpt(context.Context, string, *smtp.RcptOptions) error { return nil }
func (s *queueSession) Data(context.Context, io.Reader) error                 { return nil }
func (s *queueSession) Reset()                                                {}
func (s *queueSession) Logout() error                                         { return nil }

func (s *queueSession) ETRN(_ context.Context, node smtp.ETRNNode) (smtp.ETRNResult, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.nodes = append(s.b.nodes, node.String())
	if node.Name == "blocked.example" {
		return smtp.ETRNResult{}, &smtp.Error{Code: 459, Enhanced: smtp.EnhancedCode{4, 7, 1},
			Message: "Node blocked.example not allowed: not a customer of this relay"}
	}
	if n := len(s.b.held[strings.ToLower(node.Name)]); n > 0 {
		return smtp.ETRNResult{Code: 253, Messages: n}, nil
	}
	return smtp.ETRNResult{Code: 251}, nil
}

func (s *queueSession) AuthMechanisms() []string {
	return []string{sasl.Plain, sasl.Login, sasl.CramMD5}
}

func (s *queueSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user == "customer" && pass == "secret" {
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
		return sasl.NewCramMD5Server("odmr.test.example", func(u string) (string, error) {
			if u == "customer" {
				return "secret", nil
			}
			return "", sasl.ErrInvalidCredentials
		}), nil
	}
	return nil, fmt.Errorf("no mechanism %s", mech)
}

func (s *queueSession) ATRNDomains(_ context.Context, id sasl.Identity) ([]string, error) {
	if id.Authentication != "customer" {
		return nil, nil
	}
	return []string{"example.org", "example.net"}, nil
}

func (s *queueSession) HeldDomains(_ context.Context, domains []string) ([]string, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	var held []string
	for _, d := range domains {
		if len(s.b.held[strings.ToLower(d)]) > 0 {
			held = append(held, strings.ToLower(d))
		}
	}
	return held, nil
}

func (s *queueSession) DeliverHeld(ctx context.Context, c *smtp.Client, domains []string) error {
	for _, d := range domains {
		s.b.mu.Lock()
		msgs := s.b.held[d]
		s.b.mu.Unlock()
		var kept []queuedMessage
		for _, m := range msgs {
			res, err := c.Send(ctx, &smtp.Envelope{From: m.from, To: m.to}, strings.NewReader(m.body))
			if res == nil {
				return err
			}
			s.b.mu.Lock()
			for _, r := range res.Recipients {
				outcome := "ok"
				if r.Err != nil {
					outcome = "refused"
					kept = append(kept, queuedMessage{from: m.from, to: []string{r.Address}, body: m.body})
				}
				s.b.delivered = append(s.b.delivered, r.Address+":"+outcome)
			}
			s.b.mu.Unlock()
		}
		s.b.mu.Lock()
		s.b.held[d] = kept
		s.b.mu.Unlock()
	}
	return nil
}

// startQueueServer serves b on a free loopback port and stops it when the
// test ends.
func startQueueServer(t *testing.T, b smtp.Backend, hostname string) string {
	t.Helper()
	return startQueueServerOn(t, b, hostname, "127.0.0.1:0")
}

// startQueueServerOn is startQueueServer on addr.
func startQueueServerOn(t *testing.T, b smtp.Backend, hostname, addr string) string {
	t.Helper()
	s := &smtp.Server{
		Hostname: hostname, Backend: b, AllowInsecureAuth: true,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		Logger: slog.New(slog.DiscardHandler),
	}
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		<-done
	})
	return l.Addr().String()
}

// runFetchmail runs fetchmail once, in the foreground, with rc as its run
// control file and its home (lock and id files) in a directory of the
// test's, and returns its output and exit error.
func runFetchmail(t *testing.T, rc string) (string, error) {
	t.Helper()
	needBinary(t, "fetchmail")
	home := t.TempDir()
	rcFile := filepath.Join(home, "fetchmailrc")
	require.NoError(t, os.WriteFile(rcFile, []byte("set no syslog\n"+rc+"\n"), 0o600))
	return runPeerErr(nil, "env", "HOME="+home, "FETCHMAILHOME="+home,
		"fetchmail", "-f", rcFile, "--nodetach", "-v", "-v")
}

// TestFetchmailETRN: fetchmail with "protocol ETRN" asks our server to
// start the queues of its fetchdomains (RFC 1985); our Session sees each
// node and picks the reply, which fetchmail reports.
func TestFetchmailETRN(t *testing.T) {
	b := newQueueBackend()
	addr := startQueueServer(t, b, "mx.test.example")
	out, err := runFetchmail(t, fmt.Sprintf(
		"poll 127.0.0.1 service %s protocol ETRN fetchdomains example.org,example.net,none.example",
		portOf(addr)))
	t.Logf("fetchmail:\n%s", out)
	require.NoError(t, err)

	assert.Equal(t, []string{"example.org", "example.net", "none.example"}, b.Nodes())
	assert.Contains(t, out, "EHLO")
	assert.Contains(t, out, "ETRN example.org")
	assert.Contains(t, out, "253 2.0.0 OK, 2 pending messages for node example.org started")
	assert.Contains(t, out, "253 2.0.0 OK, 1 pending messages for node example.net started")
	assert.Contains(t, out, "251 2.0.0 OK, no messages waiting for node none.example")
}

// TestFetchmailETRNRefused: our Session's 459 reaches fetchmail, which
// reports the node refused and exits with an error.
func TestFetchmailETRNRefused(t *testing.T) {
	b := newQueueBackend()
	addr := startQueueServer(t, b, "mx.test.example")
	out, err := runFetchmail(t, fmt.Sprintf(
		"poll 127.0.0.1 service %s protocol ETRN fetchdomains blocked.example", portOf(addr)))
	t.Logf("fetchmail:\n%s", out)
	require.Error(t, err, "fetchmail exits with an error status")
	assert.Equal(t, []string{"blocked.example"}, b.Nodes())
	assert.Contains(t, out, "459 4.7.1 Node blocked.example not allowed: not a customer of this relay")
}

// TestFetchmailODMR: fetchmail with "protocol ODMR" authenticates to our
// provider, says ATRN for its fetchdomains and, once the roles reverse
// (RFC 2645 section 5.3), relays the provider's SMTP session to its
// smtphost, here a second server of ours standing for the customer's
// MTA. Every held message arrives there, and the provider's session
// learns per recipient what the customer took: bob@ is refused by the
// customer and stays held.
func TestFetchmailODMR(t *testing.T) {
	provider := newQueueBackend()
	providerAddr := startQueueServer(t, provider, "odmr.test.example")
	customer := &customerBackend{}
	customerAddr := startQueueServer(t, customer, "customer.test.example")

	out, err := runFetchmail(t, fmt.Sprintf(
		"poll 127.0.0.1 service %s protocol ODMR user \"customer\" password \"secret\"\n"+
			"  fetchdomains example.org,example.net smtphost 127.0.0.1/%s",
		portOf(providerAddr), portOf(customerAddr)))
	t.Logf("fetchmail:\n%s", out)
	require.NoError(t, err)
	assert.Contains(t, out, "ATRN example.org,example.net")

	got := customer.Messages()
	require.Len(t, got, 3, "every held message reached the customer's MTA")
	assert.Equal(t, "sender@remote.test", got[0].From)
	assert.Equal(t, []string{"alice@example.org"}, got[0].To)
	assert.Contains(t, got[0].Body, "first held message")
	assert.Equal(t, []string{"carol@example.org"}, got[1].To)
	assert.Equal(t, "", got[2].From)
	assert.Equal(t, []string{"dave@example.net"}, got[2].To)
	assert.Equal(t, []string{
		"alice@example.org:ok", "bob@example.org:refused", "carol@example.org:ok", "dave@example.net:ok",
	}, provider.Delivered())
}

// customerBackend is the customer's MTA behind fetchmail: it records the
// messages it takes and refuses bob@example.org.
type customerBackend struct {
	mu   sync.Mutex
	msgs []customerMessage
}

type customerMessage struct {
	From string
	To   []string
	Body string
}

func (b *customerBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &customerSession{b: b}, nil
}

func (b *customerBackend) Messages() []customerMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]customerMessage(nil), b.msgs...)
}

type customerSession struct {
	b   *customerBackend
	cur customerMessage
}

func (s *customerSession) Mail(_ context.Context, from string, _ *smtp.MailOptions) error {
	s.cur = customerMessage{From: from}
	return nil
}

func (s *customerSession) Rcpt(_ context.Context, to string, _ *smtp.RcptOptions) error {
	if to == "bob@example.org" {
		return &smtp.Error{Code: 550, Enhanced: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *customerSession) Data(_ context.Context, r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Body = string(body)
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (s *customerSession) Reset()        { s.cur = customerMessage{} }
func (s *customerSession) Logout() error { return nil }

// TestFetchmailODMRFromExampleServer: examples/server with -hold and
// -odmr-addr is a store-and-forward provider; mail sent to it for the
// customer's domain is held, and fetchmail's ODMR collects it into the
// customer's MTA, byte for byte under one Received field. The hold is
// empty afterwards.
func TestFetchmailODMRFromExampleServer(t *testing.T) {
	needBinary(t, "fetchmail")
	holdDir := filepath.Join(t.TempDir(), "hold")
	odmrAddr := freeAddr(t)
	addr, _ := startExampleServer(t, "-hostname", "odmr.test.example", "-users", "alice:secret", "-insecure-auth",
		"-hold", "alice=example.org", "-hold-dir", holdDir, "-odmr-addr", odmrAddr)

	msg := testMessage("held by the example server", false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, smtp.SendMail(ctx, addr, nil, "sender@remote.test", []string{"dave@example.org"}, msg))
	envs, _ := filepath.Glob(filepath.Join(holdDir, "example.org", "*.env"))
	require.Len(t, envs, 1, "the message is held")

	customer := &customerBackend{}
	customerAddr := startQueueServer(t, customer, "customer.test.example")
	out, err := runFetchmail(t, fmt.Sprintf(
		"poll 127.0.0.1 service %s protocol ODMR user \"alice\" password \"secret\"\n"+
			"  fetchdomains example.org smtphost 127.0.0.1/%s",
		portOf(odmrAddr), portOf(customerAddr)))
	t.Logf("fetchmail:\n%s", out)
	require.NoError(t, err)

	got := customer.Messages()
	require.Len(t, got, 1)
	assert.Equal(t, "sender@remote.test", got[0].From)
	assert.Equal(t, []string{"dave@example.org"}, got[0].To)
	want := toCRLF(msg)
	require.Greater(t, len(got[0].Body), len(want))
	trace, tail := got[0].Body[:len(got[0].Body)-len(want)], got[0].Body[len(got[0].Body)-len(want):]
	requireSameBody(t, want, []byte(tail))
	assert.True(t, strings.HasPrefix(trace, "Received: from "), "trace:\n%s", trace)
	assert.Equal(t, 1, strings.Count(trace, ": "), "only the Received field:\n%s", trace)
	envs, _ = filepath.Glob(filepath.Join(holdDir, "example.org", "*.env"))
	assert.Empty(t, envs, "nothing is held once the customer took it")
}
