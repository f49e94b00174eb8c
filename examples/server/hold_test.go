package main

import (
	"context"
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

// freeLoopback returns a loopback address nothing listens on now.
func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	return addr
}

// heldFiles returns the envelopes held for domain.
func heldFiles(t *testing.T, dir, domain string) []string {
	t.Helper()
	envs, _ := filepath.Glob(filepath.Join(dir, domain, "*.env"))
	var out []string
	for _, e := range envs {
		b, err := os.ReadFile(e)
		require.NoError(t, err)
		out = append(out, string(b))
	}
	return out
}

// customer is the customer's MTA in these tests: it records what it takes
// and refuses busy@example.org for now (450).
type customer struct {
	mu   sync.Mutex
	msgs []string // "from>to,to:body"
}

func (c *customer) NewSession(*smtp.Conn) (smtp.Session, error) { return &customerSession{c: c}, nil }

type customerSession struct {
	c    *customer
	from string
	to   []string
}

func (s *customerSession) Mail(_ context.Context, from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *customerSession) Rcpt(_ context.Context, to string, _ *smtp.RcptOptions) error {
	if to == "busy@example.org" {
		return &smtp.Error{Code: 450, Enhanced: smtp.EnhancedCode{4, 2, 1}, Message: "Mailbox busy"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *customerSession) Data(_ context.Context, r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.c.mu.Lock()
	s.c.msgs = append(s.c.msgs, s.from+">"+strings.Join(s.to, ",")+":"+string(body))
	s.c.mu.Unlock()
	return nil
}

func (s *customerSession) Reset()        { s.from, s.to = "", nil }
func (s *customerSession) Logout() error { return nil }

// collect authenticates to the ODMR listener at addr as alice and says
// ATRN, serving the reversed session with cust.
func collect(t *testing.T, addr string, cust *customer) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := smtp.Dial(ctx, addr, &smtp.DialOptions{LocalName: "customer.example"})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Auth(ctx, sasl.NewPlainClient("", "alice", "secret")))
	srv := &smtp.Server{Hostname: "customer.example", Backend: cust, Logger: slog.New(slog.DiscardHandler)}
	return c.ATRN(ctx, nil, srv)
}

// With -hold and -odmr-addr, mail for the customer's domain is held, not
// stored; the customer collects it with ATRN on the ODMR listener (RFC
// 2645); a recipient it refuses for now stays held for the next time.
func TestServeHoldsForODMR(t *testing.T) {
	holdDir := filepath.Join(t.TempDir(), "hold")
	odmrAddr := freeLoopback(t)
	srv := startServer(t, "-users", "alice:secret", "-insecure-auth",
		"-hold", "alice=example.org", "-hold-dir", holdDir, "-odmr-addr", odmrAddr)

	msg := testMessage("held for odmr")
	_, err := send(t, srv.addr, how{to: []string{"bob@example.org", "busy@example.org", "carol@test.example"}}, msg)
	require.NoError(t, err)
	srv.storedOne(t, msg) // carol's copy, in the Maildir
	held := heldFiles(t, holdDir, "example.org")
	require.Len(t, held, 1)
	assert.Equal(t, `{"from":"alice@client.example","to":["bob@example.org","busy@example.org"]}`, held[0])

	cust := &customer{}
	require.NoError(t, collect(t, odmrAddr, cust))
	require.Len(t, cust.msgs, 1)
	got := cust.msgs[0]
	assert.True(t, strings.HasPrefix(got, "alice@client.example>bob@example.org:Received: from client.example ([127.0.0.1])\r\n"), got)
	assert.True(t, strings.HasSuffix(got, string(msg)), "the body arrives as it was sent")
	assert.NotContains(t, got, "Return-Path", "relayed mail has no Return-Path yet")
	assert.Equal(t, []string{`{"from":"alice@client.example","to":["busy@example.org"]}`},
		heldFiles(t, holdDir, "example.org"), "busy@ was refused for now and stays held")
	assert.Contains(t, srv.log.String(), `msg="held message delivered" from=alice@client.example to=bob@example.org`)

	// The mail is still held for busy@; once that is gone, ATRN gets 453.
	require.NoError(t, collect(t, odmrAddr, cust))
	assert.Len(t, heldFiles(t, holdDir, "example.org"), 1)
	require.NoError(t, os.RemoveAll(filepath.Join(holdDir, "example.org")))
	err = collect(t, odmrAddr, cust)
	var se *smtp.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 453, se.Code)
}

// The ODMR listener takes no mail (RFC 2645 section 5.4), and the flags
// that would make it useless are refused.
func TestServeODMRRefusesMailAndBadFlags(t *testing.T) {
	odmrAddr := freeLoopback(t)
	startServer(t, "-users", "alice:secret", "-insecure-auth",
		"-hold", "alice=example.org", "-hold-dir", filepath.Join(t.TempDir(), "hold"), "-odmr-addr", odmrAddr)
	_, err := send(t, odmrAddr, how{to: []string{"bob@example.org"}}, []byte("Subject: x\r\n\r\nx\r\n"))
	var se *smtp.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 502, se.Code)

	for _, args := range [][]string{
		{"-odmr-addr", "127.0.0.1:0"},
		{"-hold", "alice=example.org"},
		{"-users", "alice:secret", "-hold", "bob=example.org"},
		{"-users", "alice:secret", "-hold", "alice=localname"},
		{"-users", "alice:secret", "-hold", "alice=example.org,alice=example.org"},
		{"-users", "alice:secret", "-hold", "alice"},
	} {
		cfg, err := parseFlags(append([]string{"-maildir", filepath.Join(t.TempDir(), "m"),
			"-hold-dir", filepath.Join(t.TempDir(), "h")}, args...), io.Discard)
		require.NoError(t, err)
		_, err = newServer(cfg, slog.New(slog.DiscardHandler))
		assert.Error(t, err, "%v", args)
	}
}
