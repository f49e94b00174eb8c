package compat

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/postwire/postwire/sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// needAiosmtpd skips the test without Debian's python3 and its aiosmtpd.
func needAiosmtpd(t testing.TB) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import aiosmtpd").CombinedOutput(); err != nil {
		t.Skipf("aiosmtpd is not installed for %s (python3-aiosmtpd): %v %s", py, err, out)
	}
	return py
}

// TestClientToAiosmtpd sends with our client into aiosmtpd over STARTTLS,
// without AUTH and with AUTH PLAIN and LOGIN.
func TestClientToAiosmtpd(t *testing.T) {
	py := needAiosmtpd(t)
	t.Parallel()
	script, err := filepath.Abs("testdata/aiosmtpd_server.py")
	require.NoError(t, err)
	addr, dir := freeAddr(t), t.TempDir()
	log := startPeer(t, addr, exec.Command(py, script, portOf(addr), dir, shared.certFile, shared.keyFile))

	cases := []struct {
		name string
		auth sasl.Client
	}{
		{"starttls", nil},
		{"auth-plain", sasl.NewPlainClient("", "alice", "secret")},
		{"auth-login", sasl.NewLoginClient("alice", "secret")},
	}
	// aiosmtpd numbers the messages it stores: send one after another.
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := testMessage("aiosmtpd "+tc.name, true)
			_, trace, err := clientSend(t, addr, sendSpec{startTLS: true, auth: tc.auth}, msg)
			require.NoError(t, err, "%s\n%s", trace, log.String())
			base := filepath.Join(dir, string(rune('1'+i)))
			got := waitFile(t, base+".eml", 10*time.Second)
			var env struct {
				From string
				To   []string
				TLS  bool
				Auth string
			}
			meta, err := os.ReadFile(base + ".json")
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(meta, &env))
			assert.Equal(t, "alice@client.example", env.From)
			assert.Equal(t, []string{"bob@test.example"}, env.To)
			assert.True(t, env.TLS, "TLS")
			if tc.auth != nil {
				assert.Equal(t, "alice", env.Auth)
			}
			requireSameBody(t, msg, got, trace)
		})
	}
}

// waitFile waits for a file to exist and returns its content.
func waitFile(t testing.TB, name string, timeout time.Duration) []byte {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(name)
		if err == nil {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written after %v: %v", name, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
