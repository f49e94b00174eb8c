package main

import (
	"bufio"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pinned trusts only the self-signed certificate whose SHA-256 the server
// logged at start, and checks that it is valid for 127.0.0.1.
func pinned(t *testing.T, r *running) *tls.Config {
	t.Helper()
	_, after, ok := strings.Cut(r.log.String(), "self_signed_sha256=")
	require.True(t, ok && len(after) >= 64, "fingerprint logged: %s", r.log.String())
	fingerprint := after[:64]
	return &tls.Config{
		InsecureSkipVerify: true, // verified below instead, against the pin
		VerifyConnection: func(cs tls.ConnectionState) error {
			leaf := cs.PeerCertificates[0]
			sum := sha256.Sum256(leaf.Raw)
			if hex.EncodeToString(sum[:]) != fingerprint {
				return errors.New("not the certificate the server logged")
			}
			pool := x509.NewCertPool()
			pool.AddCert(leaf)
			_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"})
			return err
		},
	}
}

func TestServeStoresEachMessageByteForByte(t *testing.T) {
	cert, err := selfSigned("localhost", time.Now())
	require.NoError(t, err)
	certFile, keyFile := writeKeyPair(t, cert)
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	trusted := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}

	cases := []struct {
		name     string
		flags    []string
		how      how
		pin      bool   // trust the logged self-signed certificate
		protocol string // the WITH clause of Received and what follows
	}{
		{"plain", nil, how{}, false, "ESMTP\r\n"},
		{"pipelining off", nil, how{opts: smtp.DialOptions{DisablePipelining: true}}, false, "ESMTP\r\n"},
		{"data, not bdat", nil, how{opts: smtp.DialOptions{DisableChunking: true}}, false, "ESMTP\r\n"},
		{"starttls self-signed", []string{"-tls-self-signed"}, how{startTLS: true}, true, "ESMTPS (TLS 1.3, "},
		{"starttls cert files", []string{"-tls-cert", certFile, "-tls-key", keyFile}, how{startTLS: true, tls: trusted}, false, "ESMTPS (TLS 1.3, "},
		{"implicit tls", []string{"-implicit-tls", "-tls-cert", certFile, "-tls-key", keyFile}, how{implicitTLS: true, tls: trusted}, false, "ESMTPS (TLS 1.3, "},
		{"implicit tls self-signed", []string{"-implicit-tls", "-tls-self-signed"}, how{implicitTLS: true}, true, "ESMTPS (TLS 1.3, "},
		{"insecure auth", []string{"-users", "alice:secret", "-insecure-auth"},
			how{auth: sasl.NewCramMD5Client("alice", "secret")}, false, "ESMTPA\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.flags...)
			if tc.pin {
				tc.how.tls = pinned(t, srv)
			}
			msg := testMessage("e2e " + tc.name)
			_, err := send(t, srv.addr, tc.how, msg)
			require.NoError(t, err)
			header := srv.storedOne(t, msg)
			assert.True(t, strings.HasPrefix(header, "Return-Path: <alice@client.example>\r\n"+
				"Received: from client.example ([127.0.0.1])\r\n"+
				"\tby mx.test.example (Postwire) with "+tc.protocol), header)
			assert.Contains(t, header, " for <bob@test.example>; ")
			assert.Contains(t, srv.log.String(), `msg="message stored" from=alice@client.example to=bob@test.example`)
		})
	}
}

func TestServeAuthWithEveryMechanism(t *testing.T) {
	fixed := func(a sasl.Client) func(*smtp.Client) sasl.Client { return func(*smtp.Client) sasl.Client { return a } }
	bound := func(newClient func(u, p, z string, cb sasl.ChannelBinding) sasl.Client) func(*smtp.Client) sasl.Client {
		return func(c *smtp.Client) sasl.Client {
			cb, _ := c.ChannelBinding()
			return newClient("alice", "secret", "", cb)
		}
	}
	clients := map[string]func(*smtp.Client) sasl.Client{
		sasl.Plain:           fixed(sasl.NewPlainClient("", "alice", "secret")),
		sasl.Login:           fixed(sasl.NewLoginClient("alice", "secret")),
		sasl.CramMD5:         fixed(sasl.NewCramMD5Client("alice", "secret")),
		sasl.ScramSHA1:       fixed(sasl.NewScramSHA1Client("alice", "secret", "")),
		sasl.ScramSHA256:     fixed(sasl.NewScramSHA256Client("alice", "secret", "")),
		sasl.ScramSHA1Plus:   bound(sasl.NewScramSHA1PlusClient),
		sasl.ScramSHA256Plus: bound(sasl.NewScramSHA256PlusClient),
	}
	require.Len(t, clients, len(mechanisms))
	srv := startServer(t, "-tls-self-signed", "-users", "alice:secret,bob:hunter2", "-require-auth")
	for i, mech := range mechanisms {
		msg := testMessage("auth " + mech)
		_, err := send(t, srv.addr, how{startTLS: true, tls: pinned(t, srv), authWith: clients[mech]}, msg)
		require.NoError(t, err, mech)
		msgs := srv.stored(t)
		require.Len(t, msgs, i+1, mech)
		assert.Contains(t, srv.log.String(), "auth=alice mechanism="+mech)
	}
	for _, m := range srv.stored(t) {
		assert.Contains(t, string(m), " with ESMTPSA ")
	}
}

func TestServeRefusesWhatTheFlagsForbid(t *testing.T) {
	t.Run("require-auth", func(t *testing.T) {
		srv := startServer(t, "-users", "alice:secret", "-insecure-auth", "-require-auth")
		_, err := send(t, srv.addr, how{}, testMessage("no auth"))
		requireCode(t, err, 530)
		_, err = send(t, srv.addr, how{auth: sasl.NewPlainClient("", "alice", "wrong")}, testMessage("bad auth"))
		requireCode(t, err, 535)
		assert.Empty(t, srv.stored(t))
		msg := testMessage("auth")
		_, err = send(t, srv.addr, how{auth: sasl.NewPlainClient("", "alice", "secret")}, msg)
		require.NoError(t, err)
		srv.storedOne(t, msg)
	})
	t.Run("auth only over TLS", func(t *testing.T) {
		srv := startServer(t, "-users", "alice:secret")
		_, err := send(t, srv.addr, how{auth: sasl.NewCramMD5Client("alice", "secret")}, testMessage("x"))
		assert.ErrorIs(t, err, smtp.ErrNotAdvertised)
		assert.Contains(t, srv.log.String(), "AUTH is offered over TLS only")
	})
	t.Run("max-size", func(t *testing.T) {
		srv := startServer(t, "-max-size", "1000")
		msg := testMessage(strings.Repeat("big ", 50))
		require.Greater(t, len(msg), 1000)
		// A body the client knows is refused before MAIL (RFC 1870
		// section 6); a streamed one by the server as it arrives.
		_, err := send(t, srv.addr, how{}, msg)
		require.ErrorIs(t, err, smtp.ErrBodyNotAllowed)
		_, err = send(t, srv.addr, how{stream: true, mail: &smtp.MailOptions{Body: smtp.Body8BitMIME}}, msg)
		requireCode(t, err, 552)
		// Refused while being written: the partial file is gone.
		assert.Contains(t, srv.log.String(), `msg="message refused"`)
		assert.Empty(t, srv.stored(t))
	})
	t.Run("quoted sender", func(t *testing.T) {
		// RFC 5321 section 4.4: Return-Path preserves the reverse-path, so
		// a quoted local part with "<" and ">" in it stays as it was sent.
		srv := startServer(t)
		msg := testMessage("quoted sender")
		_, err := send(t, srv.addr, how{from: `"a>b"@client.example`}, msg)
		require.NoError(t, err)
		header := srv.storedOne(t, msg)
		assert.True(t, strings.HasPrefix(header, "Return-Path: <\"a>b\"@client.example>\r\n"), header)
	})
	t.Run("max-rcpt", func(t *testing.T) {
		srv := startServer(t, "-max-rcpt", "2")
		msg := testMessage("three recipients")
		res, err := send(t, srv.addr, how{to: []string{"a@test.example", "b@test.example", "c@test.example"}}, msg)
		// The third recipient's 452 (RFC 5321 section 4.5.3.1.10) sends
		// it in a second transaction of the same message.
		require.NoError(t, err)
		assert.Equal(t, 3, res.Accepted())
		stored := srv.stored(t)
		require.Len(t, stored, 2)
		headers := string(stored[0]) + string(stored[1])
		assert.Contains(t, headers, "for <c@test.example>", "the second transaction names its one recipient")
	})
	t.Run("disk failure", func(t *testing.T) {
		srv := startServer(t)
		// new/ replaced by a file: the rename fails, whoever runs the test.
		require.NoError(t, os.Remove(filepath.Join(srv.maildir, "new")))
		require.NoError(t, os.WriteFile(filepath.Join(srv.maildir, "new"), nil, 0o600))
		_, err := send(t, srv.addr, how{}, testMessage("lost?"))
		requireCode(t, err, 451)
		var serr *smtp.Error
		require.ErrorAs(t, err, &serr)
		assert.True(t, serr.Temporary(), "the client keeps the message")
		assert.Contains(t, srv.log.String(), `msg="message not stored"`)
		// Nothing stored: tmp/ is empty again and "new" still the empty file.
		tmp, err := os.ReadDir(filepath.Join(srv.maildir, "tmp"))
		require.NoError(t, err)
		assert.Empty(t, tmp, "a file was left in tmp/")
		fi, err := os.Stat(filepath.Join(srv.maildir, "new"))
		require.NoError(t, err)
		assert.Zero(t, fi.Size())
	})
}

// requireCode checks that err carries an SMTP reply with code.
func requireCode(t *testing.T, err error, code int) {
	t.Helper()
	var serr *smtp.Error
	require.ErrorAs(t, err, &serr)
	assert.Equal(t, code, serr.Code, serr.Error())
}

func TestServeLMTP(t *testing.T) {
	srv := startServer(t, "-lmtp")
	msg := testMessage("lmtp")
	res, err := send(t, srv.addr, how{opts: smtp.DialOptions{LMTP: true},
		to: []string{"bob@test.example", "carol@test.example"}}, msg)
	require.NoError(t, err)
	assert.Equal(t, 2, res.Accepted())
	for _, r := range res.Recipients {
		assert.NoError(t, r.Err, r.Address)
	}
	header := srv.storedOne(t, msg)
	assert.Contains(t, header, " with LMTP\r\n")
}

func TestServeDiscard(t *testing.T) {
	srv := startServer(t, "-discard")
	msg := testMessage("discard")
	_, err := send(t, srv.addr, how{}, msg)
	require.NoError(t, err)
	assert.Empty(t, srv.stored(t))
	assert.NoDirExists(t, srv.maildir)
	assert.Contains(t, srv.log.String(), `msg="message discarded" from=alice@client.example to=bob@test.example remote=127.0.0.1:`)
	assert.Contains(t, srv.log.String(), fmt.Sprintf(" size=%d\n", len(msg)))
}

func TestNewServerRefusesContradictoryFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-require-auth"},
		{"-users", "alice"},
		{"-implicit-tls"},
		{"-tls-self-signed", "-tls-cert", "x.pem", "-tls-key", "y.pem"},
	} {
		cfg, err := parseFlags(append([]string{"-maildir", filepath.Join(t.TempDir(), "m")}, args...), io.Discard)
		require.NoError(t, err)
		_, err = newServer(cfg, slog.New(slog.DiscardHandler))
		assert.Error(t, err, "%v", args)
	}
	_, err := parseFlags([]string{"stray"}, io.Discard)
	assert.Error(t, err)
	_, err = parseFlags([]string{"-max-size", "lots"}, io.Discard)
	assert.Error(t, err)
}

// dialRaw connects to addr for a hand-written dialogue, closed when the
// test ends.
func dialRaw(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	return conn, bufio.NewReader(conn)
}

// After HELO the Received field says "with SMTP" (RFC 5321 section 4.4).
func TestServeReceivedAfterHELO(t *testing.T) {
	srv := startServer(t)
	conn, r := dialRaw(t, srv.addr)
	msg := "Subject: helo\r\n\r\nold-fashioned\r\n"
	steps := []struct{ send, want string }{
		{"", "220 "},
		{"HELO client.example", "250 "},
		{"MAIL FROM:<a@client.example>", "250 "},
		{"RCPT TO:<b@test.example>", "250 "},
		{"DATA", "354 "},
		{msg + ".", "250 "},
		{"QUIT", "221 "},
	}
	for _, st := range steps {
		if st.send != "" {
			_, err := io.WriteString(conn, st.send+"\r\n")
			require.NoError(t, err)
		}
		reply, err := r.ReadString('\n')
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(reply, st.want), "after %q: %q", st.send, reply)
	}
	header := srv.storedOne(t, []byte(msg))
	assert.Contains(t, header, "\tby mx.test.example (Postwire) with SMTP\r\n", header)
}

func TestServeRefusesABodyWithABareLF(t *testing.T) {
	srv := startServer(t)
	conn, r := dialRaw(t, srv.addr)
	reply := func() string {
		for {
			line, err := r.ReadString('\n')
			require.NoError(t, err)
			if len(line) < 4 || line[3] != '-' {
				return line
			}
		}
	}
	assert.True(t, strings.HasPrefix(reply(), "220 "))
	// Pipelined: the body's bare LF must not end it or be stored (SMTP
	// smuggling), and the session stays in step for the QUIT.
	_, err := io.WriteString(conn, "EHLO client.example\r\nMAIL FROM:<a@client.example>\r\nRCPT TO:<b@test.example>\r\nDATA\r\n")
	require.NoError(t, err)
	for _, want := range []string{"250 ", "250 ", "250 ", "354 "} {
		assert.True(t, strings.HasPrefix(reply(), want))
	}
	_, err = io.WriteString(conn, "Subject: x\r\n\r\nsmuggled\n.\nMAIL FROM:<evil@example>\r\n.\r\nQUIT\r\n")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(reply(), "550 5.5.2"))
	assert.True(t, strings.HasPrefix(reply(), "221 "))
	assert.Empty(t, srv.stored(t))
	assert.Contains(t, srv.log.String(), `msg="message refused"`)
}
