//go:build proxy

// This file waits for the PROXY protocol in smtp (Server.ProxyProtocol is a
// stub that closes every connection, smtp/proxy.go): run it with
// `go test -tags proxy -run HAProxy`, and drop the build tag once it lands.

package compat

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHAProxyToServer puts HAProxy in front of our server with the PROXY
// protocol, v1 and v2: a client bound to 127.0.0.9 must be seen by the
// backend as 127.0.0.9, not as HAProxy's 127.0.0.1, and its message stored
// whole.
func TestHAProxyToServer(t *testing.T) {
	haproxy := needBinary(t, "haproxy")
	for _, version := range []string{"send-proxy", "send-proxy-v2"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			srv := startOurs(t, recvConfig{proxy: true})
			front := freeAddr(t)
			cfg := fmt.Sprintf("global\n  log stdout format raw local0\ndefaults\n  mode tcp\n"+
				"  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n"+
				"frontend f\n  bind %s\n  default_backend b\nbackend b\n  server s %s %s\n", front, srv.addr, version)
			file := filepath.Join(t.TempDir(), "haproxy.cfg")
			require.NoError(t, os.WriteFile(file, []byte(cfg), 0o644))
			out, err := runPeerErr(nil, haproxy, "-c", "-f", file)
			require.NoError(t, err, out)
			log := startPeer(t, front, exec.Command(haproxy, "-db", "-f", file))

			msg := testMessage("haproxy "+version, false)
			dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9)}, Timeout: 5 * time.Second}
			_, trace, err := clientSend(t, front, sendSpec{opts: smtp.DialOptions{Dialer: dialer}}, msg)
			require.NoError(t, err, "%s\n%s", trace, log.String())
			m := srv.rec.wait(t, 1, 5*time.Second)[0]
			host, _, err := net.SplitHostPort(m.Remote)
			require.NoError(t, err)
			assert.Equal(t, "127.0.0.9", host)
			requireSameBody(t, msg, m.Data)
		})
	}
}
