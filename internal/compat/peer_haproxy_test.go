package compat

import (
	"bufio"
	"fmt"
	"io"
	"net"
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

// haproxyCase is one way of putting HAProxy in front of our server.
type haproxyCase struct {
	name     string
	server   string // options of HAProxy's server line
	frontend string // extra lines of the frontend section
	clientIP string // the client's own address, which the backend must see ("127.0.0.9", "::1")
	implicit bool   // our server (and so the client) speaks implicit TLS
}

// TestHAProxyToServer puts HAProxy in front of our server with the PROXY
// protocol, v1 and v2 (HAProxy's proxy-protocol.txt): a client bound to
// 127.0.0.9 (or ::1, while HAProxy reaches us over 127.0.0.1) must be seen
// by the backend with its own address, not HAProxy's, and its message
// stored whole. The v2 cases add HAProxy's CRC32c and unique-ID TLVs, and
// one carries implicit TLS through HAProxy (the header precedes the
// handshake).
func TestHAProxyToServer(t *testing.T) {
	haproxy := needBinary(t, "haproxy")
	for _, tc := range []haproxyCase{
		{name: "v1", server: "send-proxy", clientIP: "127.0.0.9"},
		{name: "v2", server: "send-proxy-v2", clientIP: "127.0.0.9"},
		{name: "v1 IPv6 client", server: "send-proxy", clientIP: "::1"},
		{name: "v2 IPv6 client", server: "send-proxy-v2", clientIP: "::1"},
		{
			name:     "v2 with CRC32c and unique-id TLVs",
			server:   "send-proxy-v2 proxy-v2-options crc32c,unique-id",
			frontend: "  unique-id-format %{+X}o%ci:%cp_%fi:%fp_%Ts_%rt:%pid\n",
			clientIP: "127.0.0.9",
		},
		{name: "v2 then implicit TLS", server: "send-proxy-v2", clientIP: "127.0.0.9", implicit: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startOurs(t, recvConfig{proxy: true, implicitTLS: tc.implicit})
			front := freeAddrOn(t, tc.clientIP)
			_, hlog := runHAProxy(t, haproxy, front, srv.addr, tc.server, tc.frontend, "")

			msg := testMessage("haproxy "+tc.name, false)
			dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(tc.clientIP)}, Timeout: 5 * time.Second}
			_, trace, err := clientSend(t, front, sendSpec{opts: smtp.DialOptions{Dialer: dialer}, implicit: tc.implicit}, msg)
			require.NoError(t, err, "%s\n%s", trace, hlog)
			m := srv.rec.wait(t, 1, 5*time.Second)[0]
			host, _, err := net.SplitHostPort(m.Remote)
			require.NoError(t, err)
			assert.Equal(t, tc.clientIP, host)
			requireSameBody(t, msg, m.Data)
		})
	}
}

// TestHAProxyHealthCheck has HAProxy check our server with SMTP health
// checks (option smtpchk) that carry the PROXY header: v2 checks send the
// LOCAL command, which our server must accept with the connection's own
// addresses. HAProxy's stats must show the check passing at layer 7.
func TestHAProxyHealthCheck(t *testing.T) {
	haproxy := needBinary(t, "haproxy")
	for _, version := range []string{"send-proxy", "send-proxy-v2"} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			srv := startOurs(t, recvConfig{proxy: true})
			front := freeAddr(t)
			sock, hlog := runHAProxy(t, haproxy, front, srv.addr,
				version+" check check-send-proxy inter 100ms rise 1 fall 1", "", "  option smtpchk EHLO haproxy.test\n")
			var last string
			require.Eventually(t, func() bool {
				last = haproxyCheckStatus(sock)
				return last == "L7OK"
			}, 10*time.Second, 50*time.Millisecond, "check status %q\n%s", last, hlog)
		})
	}
}

// runHAProxy starts HAProxy listening on front and forwarding to backend
// with the given server options; it returns the path of its stats socket
// and its log, for failure messages.
func runHAProxy(t *testing.T, haproxy, front, backend, serverOpts, frontendExtra, backendExtra string) (string, *lockedBuffer) {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "stats.sock")
	cfg := fmt.Sprintf("global\n  log stdout format raw local0\n  stats socket %s\n"+
		"defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  timeout check 5s\n"+
		"frontend f\n  bind %s\n%s  default_backend b\n"+
		"backend b\n%s  server s %s %s\n", sock, front, frontendExtra, backendExtra, backend, serverOpts)
	file := filepath.Join(dir, "haproxy.cfg")
	require.NoError(t, os.WriteFile(file, []byte(cfg), 0o644))
	out, err := runPeerErr(nil, haproxy, "-c", "-f", file)
	require.NoError(t, err, "%s\n%s", out, cfg)
	return sock, startPeer(t, front, exec.Command(haproxy, "-db", "-f", file))
}

// haproxyCheckStatus returns the check_status column of server b/s from
// HAProxy's "show stat" (its CSV), "" if it cannot be read yet.
func haproxyCheckStatus(sock string) string { return haproxyCheckStatusOf(sock, "b", "s") }

// haproxyCheckStatusOf returns the check_status column of server be/name.
func haproxyCheckStatusOf(sock, be, name string) string {
	c, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return ""
	}
	sc := bufio.NewScanner(c)
	var cols []string
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# ") {
			cols = strings.Split(strings.TrimPrefix(line, "# "), ",")
			continue
		}
		f := strings.Split(line, ",")
		if len(f) < 2 || f[0] != be || f[1] != name {
			continue
		}
		for i, name := range cols {
			if name == "check_status" && i < len(f) {
				return f[i]
			}
		}
	}
	return ""
}
