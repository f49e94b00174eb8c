package compat

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// python3 finds a Python 3 with smtplib: Debian's, else the one on PATH.
func python3(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return needBinary(t, "python3")
}

// TestSmtplibToServer sends a message into our server with Python's
// smtplib: send_message, STARTTLS, each AUTH mechanism smtplib has, and
// SMTPUTF8 addresses.
func TestSmtplibToServer(t *testing.T) {
	py := python3(t)
	script, err := filepath.Abs("testdata/smtplib_send.py")
	require.NoError(t, err)
	cases := []struct {
		mode     string
		cfg      recvConfig
		from, to string
		tls      bool
		authed   bool
		utf8     bool
	}{
		{"send_message", recvConfig{}, "alice@client.example", "bob@test.example", false, false, false},
		{"starttls", recvConfig{startTLS: true}, "alice@client.example", "bob@test.example", true, false, false},
		{"auth:PLAIN", recvConfig{startTLS: true, users: testUsers}, "alice@client.example", "bob@test.example", true, true, false},
		{"auth:LOGIN", recvConfig{startTLS: true, users: testUsers}, "alice@client.example", "bob@test.example", true, true, false},
		{"auth:CRAM-MD5", recvConfig{startTLS: true, users: testUsers}, "alice@client.example", "bob@test.example", true, true, false},
		{"smtputf8", recvConfig{}, "älice@clïent.example", "bøb@tëst.example", false, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			srv := startOurs(t, tc.cfg)
			dir := t.TempDir()
			msgFile, sentFile := filepath.Join(dir, "msg.eml"), filepath.Join(dir, "sent.eml")
			require.NoError(t, os.WriteFile(msgFile, testMessage("smtplib "+tc.mode, true), 0o644))
			out := runPeer(t, nil, py, script, portOf(srv.addr), tc.mode, shared.certFile, msgFile, sentFile)
			sent, err := os.ReadFile(sentFile)
			require.NoError(t, err)
			got := srv.rec.wait(t, 1, 10*time.Second)
			m := got[0]
			// Our server hands the backend the addresses as sent (U-labels
			// and all); MailOptions.FromALabels and RcptOptions.ToALabels
			// carry the A-label form.
			assert.Equal(t, tc.from, m.From)
			assert.Equal(t, []string{tc.to}, m.To)
			assert.Equal(t, tc.tls, m.TLS, "TLS")
			assert.Equal(t, tc.utf8, m.UTF8, "SMTPUTF8")
			if tc.authed {
				assert.Equal(t, "alice", m.AuthUser, out)
			}
			requireSameBody(t, sent, m.Data, out)
		})
	}
}
