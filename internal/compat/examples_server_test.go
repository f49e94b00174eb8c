package compat

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startExampleServer builds and runs examples/server on a free port with
// a fresh Maildir and the given flags; it returns the address and the
// Maildir's path.
func startExampleServer(t *testing.T, flags ...string) (addr, maildir string) {
	t.Helper()
	bin := buildExample(t, "server")
	addr, maildir = freeAddr(t), filepath.Join(t.TempDir(), "maildir")
	args := append([]string{"-addr", addr, "-maildir", maildir}, flags...)
	startPeer(t, addr, exec.Command(bin, args...))
	return addr, maildir
}

// maildirMessages returns the messages in the Maildir's new/ folder and
// checks that nothing is left in tmp/. No waiting: the example answers 250
// only once a message is on disk in new/, so it is there by the time the
// sender has its reply; a wait here would hide a 250 given too early.
func maildirMessages(t *testing.T, dir string) [][]byte {
	t.Helper()
	tmp, err := os.ReadDir(filepath.Join(dir, "tmp"))
	require.NoError(t, err)
	require.Empty(t, tmp, "a file was left in tmp/")
	entries, err := os.ReadDir(filepath.Join(dir, "new"))
	require.NoError(t, err)
	var msgs [][]byte
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, "new", e.Name()))
		require.NoError(t, err)
		msgs = append(msgs, b)
	}
	return msgs
}

// requireOneStored checks that the Maildir dir holds one message, and
// that it ends with exactly msg (compared by SHA-256, with a diff when it
// does not) under the example's trace header: Return-Path and Received
// only, in CRLF lines without an empty one that would end the header
// early. It returns the stored file.
func requireOneStored(t *testing.T, dir string, msg []byte, msgAndArgs ...any) []byte {
	t.Helper()
	files := maildirMessages(t, dir)
	require.Len(t, files, 1, msgAndArgs...)
	stored := files[0]
	require.GreaterOrEqual(t, len(stored), len(msg), msgAndArgs...)
	trace, tail := stored[:len(stored)-len(msg)], stored[len(stored)-len(msg):]
	requireSameBody(t, msg, tail, msgAndArgs...)
	assert.True(t, bytes.HasPrefix(trace, []byte("Return-Path: <")), "trace header:\n%s", trace)
	assert.True(t, bytes.HasSuffix(trace, []byte("\r\n")), "trace header:\n%s", trace)
	assert.Contains(t, string(trace), "\r\nReceived: from ")
	assert.NotContains(t, string(trace), "\r\n\r\n", "an empty line in the trace header")
	assert.Equal(t, 2, strings.Count(string(trace), ": "), "only Return-Path and Received:\n%s", trace)
	return stored
}

// TestExampleServer runs examples/server, the program the README starts
// with, and sends into it with swaks (plain, pipelined, STARTTLS, implicit
// TLS, AUTH) and with our client in LMTP mode.
func TestExampleServer(t *testing.T) {
	swaks := needBinary(t, "swaks")
	cases := []struct {
		name  string
		flags []string
		swaks []string
	}{
		{"swaks-plain", nil, nil},
		{"swaks-pipeline", nil, []string{"--pipeline"}},
		{"swaks-starttls", []string{"-tls-self-signed"}, []string{"-tls"}},
		{"swaks-implicit-tls", []string{"-tls-self-signed", "-implicit-tls"}, []string{"--tls-on-connect"}},
		{"swaks-starttls-auth-plain", []string{"-tls-self-signed", "-users", "alice:secret"},
			[]string{"-tls", "-a", "PLAIN", "-au", "alice", "-ap", "secret"}},
		{"swaks-auth-cram-md5", []string{"-users", "alice:secret", "-insecure-auth"},
			[]string{"-a", "CRAM-MD5", "-au", "alice", "-ap", "secret"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, dir := startExampleServer(t, tc.flags...)
			msg := testMessage("example server "+tc.name, true)
			file := filepath.Join(t.TempDir(), "msg.eml")
			require.NoError(t, os.WriteFile(file, bytes.TrimSuffix(msg, []byte("\r\n")), 0o644))
			args := append([]string{"-s", "127.0.0.1", "-p", portOf(addr), "-f", "alice@client.example",
				"-t", "bob@test.example", "--helo", "client.example", "--data", "@" + file, "--timeout", "20"}, tc.swaks...)
			out := runPeer(t, nil, swaks, args...)
			requireOneStored(t, dir, msg, out)
		})
	}
	t.Run("lmtp", func(t *testing.T) {
		t.Parallel()
		addr, dir := startExampleServer(t, "-lmtp")
		msg := testMessage("example server lmtp", false)
		env := smtp.Envelope{To: []string{"bob@test.example", "carol@test.example"}}
		res, trace, err := clientSend(t, addr, sendSpec{opts: smtp.DialOptions{LMTP: true}, env: env}, msg)
		require.NoError(t, err, trace)
		assert.Equal(t, 2, res.Accepted(), trace)
		requireOneStored(t, dir, msg, "one copy serves both recipients: %s", trace)
		assert.True(t, strings.Contains(trace, "LHLO"), trace)
	})
}

// TestSmtplibToExampleServer sends into examples/server with Python's
// smtplib: testdata/smtplib_send.py (send_message, STARTTLS verifying the
// shared certificate given with -tls-cert, AUTH PLAIN, LOGIN and CRAM-MD5),
// then smtplibSelfSigned against -tls-self-signed as a new user would try
// it, without a certificate to verify.
func TestSmtplibToExampleServer(t *testing.T) {
	py := python3(t)
	script, err := filepath.Abs("testdata/smtplib_send.py")
	require.NoError(t, err)
	withCert := []string{"-tls-cert", shared.certFile, "-tls-key", shared.keyFile, "-users", "alice:secret"}
	for _, mode := range []string{"send_message", "starttls", "auth:PLAIN", "auth:LOGIN", "auth:CRAM-MD5"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			addr, dir := startExampleServer(t, withCert...)
			tmp := t.TempDir()
			msgFile, sentFile := filepath.Join(tmp, "msg.eml"), filepath.Join(tmp, "sent.eml")
			require.NoError(t, os.WriteFile(msgFile, testMessage("smtplib "+mode, true), 0o644))
			out := runPeer(t, nil, py, script, portOf(addr), mode, shared.certFile, msgFile, sentFile)
			sent, err := os.ReadFile(sentFile)
			require.NoError(t, err)
			requireOneStored(t, dir, sent, out)
		})
	}
	for _, mech := range []string{"", "PLAIN", "LOGIN", "CRAM-MD5"} {
		name := "self-signed-starttls"
		if mech != "" {
			name += "-auth-" + mech
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			addr, dir := startExampleServer(t, "-tls-self-signed", "-users", "alice:secret")
			msg := testMessage("smtplib self-signed "+mech, true)
			file := filepath.Join(t.TempDir(), "msg.eml")
			require.NoError(t, os.WriteFile(file, msg, 0o644))
			out := runPeer(t, nil, py, "-c", smtplibSelfSigned, portOf(addr), mech, file)
			assert.Contains(t, out, "STARTTLS", out)
			stored := string(requireOneStored(t, dir, msg, out))
			assert.Contains(t, stored, " with ESMTPS", "over TLS")
			if mech != "" {
				assert.Contains(t, stored, " with ESMTPSA ", "authenticated")
			}
		})
	}
}

// smtplibSelfSigned is what a new user types to try -tls-self-signed from
// Python: STARTTLS without verifying the certificate, then, when a
// mechanism is given, AUTH with it as alice/secret; then the message file
// as it is. Arguments: PORT MECH MSGFILE.
const smtplibSelfSigned = `
import smtplib, ssl, sys
port, mech, msgfile = sys.argv[1:4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
with open(msgfile, "rb") as f:
    raw = f.read()
with smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.example", timeout=20) as s:
    s.set_debuglevel(1)
    s.starttls(context=ctx)
    if mech:
        s.user, s.password = "alice", "secret"
        s.ehlo()
        auth = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login, "CRAM-MD5": s.auth_cram_md5}[mech]
        code, _ = s.auth(mech, auth, initial_response_ok=True)
        assert code == 235, code
    refused = s.sendmail("alice@client.example", ["bob@test.example"], raw)
    assert not refused, refused
`
