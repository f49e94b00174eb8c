package compat

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMsmtpToServer sends a message into our server with msmtp over
// STARTTLS, verifying our certificate, without and with each AUTH
// mechanism.
func TestMsmtpToServer(t *testing.T) {
	msmtp := needBinary(t, "msmtp")
	cases := []struct {
		name string
		auth string // msmtp's auth setting
	}{
		{"starttls", "off"},
		{"auth-plain", "plain"},
		{"auth-login", "login"},
		{"auth-cram-md5", "cram-md5"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := recvConfig{startTLS: true}
			if tc.auth != "off" {
				cfg.users = testUsers
			}
			srv := startOurs(t, cfg)
			conf := fmt.Sprintf("account test\nhost 127.0.0.1\nport %s\ndomain client.example\n"+
				"from alice@client.example\ntls on\ntls_starttls on\ntls_trust_file %s\n"+
				"timeout 20\nauth %s\n", portOf(srv.addr), shared.certFile, tc.auth)
			if tc.auth != "off" {
				conf += "user alice\npassword secret\n"
			}
			file := filepath.Join(t.TempDir(), "msmtprc")
			require.NoError(t, os.WriteFile(file, []byte(conf), 0o600))
			msg := testMessage("msmtp "+tc.name, true)
			out := runPeer(t, msg, msmtp, "-C", file, "-a", "test", "-v", "bob@test.example")
			m := srv.rec.wait(t, 1, 10*time.Second)[0]
			assert.Equal(t, "alice@client.example", m.From)
			assert.Equal(t, []string{"bob@test.example"}, m.To)
			assert.True(t, m.TLS, "TLS")
			if tc.auth != "off" {
				assert.Equal(t, "alice", m.AuthUser, out)
			}
			requireSameBody(t, msg, m.Data, out)
		})
	}
}
