package compat

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestREADMEHAProxyConfig runs the HAProxy configuration of the README's
// Deployment section as it is written, but for its addresses, which become
// loopback ones: two examples/server instances with -proxy-protocol behind
// it must both pass HAProxy's SMTP health checks (which carry a v2 LOCAL
// header), and a message from a client on 127.0.0.9 must be stored with
// that address, not HAProxy's.
func TestREADMEHAProxyConfig(t *testing.T) {
	haproxy := needBinary(t, "haproxy")
	swaks := needBinary(t, "swaks")
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	cfg := readmeBlock(t, string(readme), "```haproxy\n")

	type instance struct{ addr, maildir string }
	var backends []instance
	for range 2 {
		addr, dir := startExampleServer(t, "-proxy-protocol", "127.0.0.1/32", "-max-conns-per-ip", "20", "-banner", "ESMTP Postwire")
		backends = append(backends, instance{addr, dir})
	}
	front := freeAddrOn(t, "127.0.0.9")
	sock := filepath.Join(t.TempDir(), "stats.sock")
	for from, to := range map[string]string{
		"bind :25":       "bind " + front,
		"10.0.0.11:2525": backends[0].addr,
		"10.0.0.12:2525": backends[1].addr,
		"inter 5s":       "inter 100ms",
		"global\n":       "global\n  stats socket " + sock + "\n",
	} {
		require.Contains(t, cfg, from, "the README's configuration changed: update this test")
		cfg = strings.ReplaceAll(cfg, from, to)
	}
	file := filepath.Join(t.TempDir(), "haproxy.cfg")
	require.NoError(t, os.WriteFile(file, []byte(cfg), 0o644))
	out, err := runPeerErr(nil, haproxy, "-c", "-f", file)
	require.NoError(t, err, "%s\n%s", out, cfg)
	hlog := startPeer(t, front, exec.Command(haproxy, "-db", "-f", file))

	for _, name := range []string{"mx1", "mx2"} {
		var last string
		require.Eventually(t, func() bool {
			last = haproxyCheckStatusOf(sock, "postwire", name)
			return last == "L7OK"
		}, 10*time.Second, 50*time.Millisecond, "%s check status %q\n%s", name, last, hlog)
	}

	msg := testMessage("readme haproxy", false)
	file = filepath.Join(t.TempDir(), "msg.eml")
	require.NoError(t, os.WriteFile(file, msg[:len(msg)-2], 0o644))
	out = runPeer(t, nil, swaks, "-s", "127.0.0.9", "-p", portOf(front), "--local-interface", "127.0.0.9",
		"-f", "alice@client.example", "-t", "bob@test.example", "--helo", "client.example", "--data", "@"+file)
	assert.Contains(t, out, "220 ", out)
	assert.Contains(t, out, " ESMTP Postwire", "the banner names the software")
	var stored []byte
	for _, b := range backends {
		if msgs := maildirMessages(t, b.maildir); len(msgs) > 0 {
			require.Nil(t, stored, "stored twice")
			stored = requireOneStored(t, b.maildir, msg, out)
		}
	}
	require.NotNil(t, stored, "stored by neither backend:\n%s", out)
	assert.Contains(t, string(stored), "Received: from client.example ([127.0.0.9])")
}

// readmeBlock returns the body of the first fenced block that opens with
// fence.
func readmeBlock(t *testing.T, text, fence string) string {
	t.Helper()
	i := strings.Index(text, fence)
	require.GreaterOrEqual(t, i, 0, "no %q block in the README", fence)
	body := text[i+len(fence):]
	j := strings.Index(body, "```")
	require.GreaterOrEqual(t, j, 0)
	return body[:j]
}
