package compat

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExampleSendToExampleServer runs the two example programs against
// each other, as a new user would try them (the examples must work as
// shipped, out of the box):
// examples/send delivers into examples/server in each mode, and the
// message must sit in the Maildir byte for byte.
func TestExampleSendToExampleServer(t *testing.T) {
	send := buildExample(t, "send")
	selfSigned := []string{"-tls-self-signed"}
	withUsers := []string{"-tls-self-signed", "-users", "alice:secret", "-require-auth"}
	startTLS := []string{"-starttls", "-insecure-skip-verify"}
	auth := func(mech string) []string {
		return append(append([]string{}, startTLS...), "-auth", mech, "-user", "alice", "-password", "secret")
	}
	cases := []struct {
		name       string
		serverArgs []string
		sendArgs   []string
		to         []string
	}{
		{"plain", nil, nil, nil},
		{"lock-step", nil, []string{"-no-pipelining"}, nil},
		{"starttls", selfSigned, startTLS, nil},
		{"implicit-tls", []string{"-tls-self-signed", "-implicit-tls"}, []string{"-tls", "-insecure-skip-verify"}, nil},
		{"auth-plain", withUsers, auth("plain"), nil},
		{"auth-login", withUsers, auth("login"), nil},
		{"auth-cram-md5", withUsers, auth("cram-md5"), nil},
		{"auth-scram-sha-256", withUsers, auth("scram-sha-256"), nil},
		{"implicit-tls-auth", append([]string{"-implicit-tls"}, withUsers...),
			[]string{"-tls", "-insecure-skip-verify", "-auth", "scram-sha-256", "-user", "alice", "-password", "secret"}, nil},
		{"chunking", nil, []string{"-chunking"}, nil},
		{"chunking-starttls", selfSigned, append([]string{"-chunking"}, startTLS...), nil},
		{"lmtp", []string{"-lmtp"}, []string{"-lmtp"}, []string{"bob@test.example", "carol@test.example"}},
		{"lmtp-chunking", []string{"-lmtp"}, []string{"-lmtp", "-chunking"}, []string{"bob@test.example"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, dir := startExampleServer(t, tc.serverArgs...)
			msg := testMessage("example send "+tc.name, true)
			file := filepath.Join(t.TempDir(), "msg.eml")
			require.NoError(t, os.WriteFile(file, msg, 0o644))
			to := tc.to
			if to == nil {
				to = []string{"bob@test.example"}
			}
			args := []string{"-server", addr, "-from", "alice@client.example", "-name", "client.example", "-timeout", "30s", "-v"}
			for _, rcpt := range to {
				args = append(args, "-to", rcpt)
			}
			args = append(append(args, tc.sendArgs...), file)
			out := runPeer(t, nil, send, args...)
			for _, rcpt := range to {
				assert.Contains(t, out, "recipient <"+rcpt+">: accepted", out)
			}
			assert.Contains(t, out, "quit: 221", out)
			// The mode really was used on the wire (-v traces it).
			for _, arg := range tc.sendArgs {
				if cmd, ok := wireCommand[arg]; ok {
					assert.Contains(t, out, cmd, out)
				}
			}
			requireOneStored(t, dir, msg, out)
		})
	}
}

// wireCommand is the trace line that shows a flag of examples/send at
// work (the AUTH command itself is masked in the trace).
var wireCommand = map[string]string{
	"-starttls": "C: STARTTLS", "-auth": "S: 235 2.7.0", "-chunking": "C: BDAT ", "-lmtp": "C: LHLO ",
}

// TestExampleSendRefusedByExampleServer checks the refusals a new user
// meets first: no AUTH where -require-auth asks for it, a message over
// -max-size. Nothing may be stored.
func TestExampleSendRefusedByExampleServer(t *testing.T) {
	send := buildExample(t, "send")
	cases := []struct {
		name       string
		serverArgs []string
		sendArgs   []string
		want       string
	}{
		{"require-auth", []string{"-tls-self-signed", "-users", "alice:secret", "-require-auth"},
			[]string{"-starttls", "-insecure-skip-verify"}, "530 5.7.0"},
		{"wrong-password", []string{"-tls-self-signed", "-users", "alice:secret"},
			[]string{"-starttls", "-insecure-skip-verify", "-auth", "plain", "-user", "alice", "-password", "nope"}, "535 5.7.8"},
		// The message is known in advance: examples/send declares its
		// size and refuses it before MAIL (RFC 1870 section 6).
		{"max-size", []string{"-max-size", "500"}, nil, "exceeds the server's SIZE 500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, dir := startExampleServer(t, tc.serverArgs...)
			file := filepath.Join(t.TempDir(), "msg.eml")
			require.NoError(t, os.WriteFile(file, testMessage("refused "+tc.name, false), 0o644))
			args := append([]string{"-server", addr, "-from", "alice@client.example", "-to", "bob@test.example",
				"-timeout", "30s"}, tc.sendArgs...)
			out, err := runPeerErr(nil, send, append(args, file)...)
			require.Error(t, err, out)
			assert.Contains(t, out, tc.want)
			assert.Empty(t, maildirMessages(t, dir))
		})
	}
}
