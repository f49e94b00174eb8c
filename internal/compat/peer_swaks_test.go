package compat

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSwaksToServer sends one message with swaks into our server in each
// of swaks's modes and checks that it is stored byte for byte.
func TestSwaksToServer(t *testing.T) {
	swaks := needBinary(t, "swaks")
	cases := []struct {
		name   string
		cfg    recvConfig
		args   []string
		tls    bool
		authed bool
	}{
		{"plain", recvConfig{}, nil, false, false},
		{"pipeline", recvConfig{}, []string{"--pipeline"}, false, false},
		{"starttls", recvConfig{startTLS: true}, []string{"-tls"}, true, false},
		{"implicit-tls", recvConfig{implicitTLS: true}, []string{"--tls-on-connect"}, true, false},
		{"auth-plain", recvConfig{startTLS: true, users: testUsers},
			[]string{"-tls", "-a", "PLAIN", "-au", "alice", "-ap", "secret"}, true, true},
		{"auth-login", recvConfig{startTLS: true, users: testUsers},
			[]string{"-tls", "-a", "LOGIN", "-au", "alice", "-ap", "secret"}, true, true},
		{"auth-cram-md5", recvConfig{users: testUsers, insecureAuth: true},
			[]string{"-a", "CRAM-MD5", "-au", "alice", "-ap", "secret"}, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startOurs(t, tc.cfg)
			msg := testMessage("swaks "+tc.name, true)
			file := filepath.Join(t.TempDir(), "msg.eml")
			// swaks ends the data with CRLF "." CRLF of its own, so the
			// file leaves out the message's last CRLF.
			require.NoError(t, os.WriteFile(file, bytes.TrimSuffix(msg, []byte("\r\n")), 0o644))
			addr := srv.addr
			var wire *tap
			if tc.name == "pipeline" {
				wire = newTap(t, srv.addr)
				addr = wire.Addr
			}
			args := append([]string{"-s", "127.0.0.1", "-p", portOf(addr),
				"-f", "alice@client.example", "-t", "bob@test.example",
				"--helo", "client.example", "--data", "@" + file, "--timeout", "20"}, tc.args...)
			out := runPeer(t, nil, swaks, args...)
			got := srv.rec.wait(t, 1, 10*time.Second)
			require.Len(t, got, 1, out)
			m := got[0]
			assert.Equal(t, "alice@client.example", m.From)
			assert.Equal(t, []string{"bob@test.example"}, m.To)
			assert.Equal(t, tc.tls, m.TLS, "TLS")
			if tc.authed {
				assert.Equal(t, "alice", m.AuthUser, out)
			}
			requireSameBody(t, msg, m.Data, out)
			if wire != nil {
				assert.True(t, wire.pipelined("MAIL FROM:", "RCPT TO:", "DATA\r\n"),
					"swaks --pipeline did not pipeline:\n%s", wire.transcript())
			}
		})
	}
}
