package compat

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// maildirMessages waits until the Maildir holds n messages in a "new"
// folder and returns them.
func maildirMessages(t *testing.T, dir string, n int) [][]byte {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var msgs [][]byte
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(path)) == "new" {
				if b, err := os.ReadFile(path); err == nil {
					msgs = append(msgs, b)
				}
			}
			return nil
		})
		if len(msgs) >= n {
			return msgs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d message(s) in %s after 10 s, want %d", len(msgs), dir, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requireStored checks that a Maildir file holds msg: byte for byte at
// its end, under whatever trace header the example prepends.
func requireStored(t *testing.T, msg, stored []byte, msgAndArgs ...any) {
	t.Helper()
	require.True(t, bytes.HasSuffix(stored, msg), append([]any{"stored:\n%s\n"}, append([]any{stored}, msgAndArgs...)...)...)
	requireSameBody(t, bodyOf(msg), bodyOf(stored))
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
			stored := maildirMessages(t, dir, 1)
			require.Len(t, stored, 1, out)
			requireStored(t, msg, stored[0], out)
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
		stored := maildirMessages(t, dir, 1)
		for _, s := range stored {
			requireStored(t, msg, s, trace)
		}
		assert.True(t, strings.Contains(trace, "LHLO"), trace)
	})
}
