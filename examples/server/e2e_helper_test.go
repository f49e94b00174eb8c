package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"io/fs"
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
	"github.com/stretchr/testify/require"
)

// running is the example server started in-process by startServer.
type running struct {
	addr    string
	maildir string
	log     *syncBuffer
}

// startServer runs the example in this process, as main would with flags
// (on a free loopback port, with a fresh Maildir), and stops it with a
// graceful shutdown when the test ends, requiring that to succeed.
func startServer(t *testing.T, flags ...string) *running {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "maildir")
	args := append([]string{"-addr", "127.0.0.1:0", "-hostname", "mx.test.example", "-maildir", dir}, flags...)
	cfg, err := parseFlags(args, io.Discard)
	require.NoError(t, err)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), func(a net.Addr) { ready <- a })
	}()
	select {
	case a := <-ready:
		t.Cleanup(func() {
			cancel()
			require.NoError(t, <-done, logs.String())
		})
		return &running{addr: a.String(), maildir: dir, log: logs}
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v\n%s", err, logs.String())
		return nil
	}
}

// stored returns the messages in the Maildir's new/ folder (none when the
// Maildir was never made), checking that tmp/ holds nothing.
func (r *running) stored(t *testing.T) [][]byte {
	t.Helper()
	tmp, err := os.ReadDir(filepath.Join(r.maildir, "tmp"))
	require.True(t, err == nil || errors.Is(err, fs.ErrNotExist), "tmp/: %v", err)
	require.Empty(t, tmp, "a file was left in tmp/")
	des, err := os.ReadDir(filepath.Join(r.maildir, "new"))
	require.True(t, err == nil || errors.Is(err, fs.ErrNotExist), "new/: %v", err)
	var msgs [][]byte
	for _, d := range des {
		b, err := os.ReadFile(filepath.Join(r.maildir, "new", d.Name()))
		require.NoError(t, err)
		msgs = append(msgs, b)
	}
	return msgs
}

// storedOne returns the only stored message, checked to end byte for
// byte with msg under a Return-Path and Received header, and the header.
func (r *running) storedOne(t *testing.T, msg []byte) (header string) {
	t.Helper()
	msgs := r.stored(t)
	require.Len(t, msgs, 1, r.log.String())
	require.True(t, bytes.HasSuffix(msgs[0], msg), "stored:\n%s", msgs[0])
	header = string(msgs[0][:len(msgs[0])-len(msg)])
	require.True(t, strings.HasPrefix(header, "Return-Path: <"), header)
	require.Contains(t, header, "\r\nReceived: from ")
	return header
}

// how says how the test client sends: over which TLS, with which SASL
// client, with which options, to whom.
type how struct {
	startTLS, implicitTLS bool
	tls                   *tls.Config
	auth                  sasl.Client
	// authWith, when set, makes the SASL client from the connection
	// once it is up, for mechanisms bound to its TLS channel.
	authWith func(c *smtp.Client) sasl.Client
	opts     smtp.DialOptions
	to       []string
	from     string // "" means alice@client.example
	stream   bool   // the client cannot know the body in advance
	mail     *smtp.MailOptions
}

// send sends msg to addr with Postwire's client as h says, and says QUIT
// after a success. The error is the first that happened.
func send(t *testing.T, addr string, h how, msg []byte) (*smtp.SendResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := h.opts
	opts.LocalName = "client.example"
	opts.TLSConfig = h.tls
	var c *smtp.Client
	var err error
	switch {
	case h.implicitTLS:
		c, err = smtp.DialTLS(ctx, addr, &opts)
	case h.startTLS:
		c, err = smtp.DialStartTLS(ctx, addr, &opts)
	default:
		if c, err = smtp.Dial(ctx, addr, &opts); err == nil {
			err = c.Hello(ctx, "")
		}
	}
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if h.authWith != nil {
		h.auth = h.authWith(c)
	}
	if h.auth != nil {
		if err := c.Auth(ctx, h.auth); err != nil {
			return nil, err
		}
	}
	to := h.to
	if to == nil {
		to = []string{"bob@test.example"}
	}
	from := h.from
	if from == "" {
		from = "alice@client.example"
	}
	var body io.Reader = bytes.NewReader(msg)
	if h.stream {
		body = struct{ io.Reader }{body}
	}
	res, err := c.Send(ctx, &smtp.Envelope{From: from, To: to, MailOptions: h.mail}, body)
	if err != nil {
		return res, err
	}
	return res, c.Quit(ctx)
}

// testMessage is a message with what trips careless servers: lines that
// start with dots, a lone dot, 8-bit text, a long line, no final blank.
func testMessage(subject string) []byte {
	return []byte("From: Alice <alice@client.example>\r\n" +
		"To: Bob <bob@test.example>\r\n" +
		"Subject: " + subject + "\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n" +
		"\r\n" +
		".a line that starts with a dot\r\n" +
		".\r\n" +
		"..\r\n" +
		"Grüße, ça va? 日本語\r\n" +
		strings.Repeat("0123456789", 90) + "\r\n" +
		"-- \r\nAlice\r\n")
}

// syncBuffer is a bytes.Buffer the server's log may write from several
// goroutines while the test reads it.
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
