package compat

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCurlToServer sends messages into our server with curl's SMTP client:
// in clear, over STARTTLS (--ssl-reqd) and implicit TLS (smtps://), with
// AUTH PLAIN, LOGIN and CRAM-MD5 (--login-options AUTH=...), to several
// recipients, and a 5 MB message. curl dot-stuffs what it uploads; what
// our server stored must be the file byte for byte.
func TestCurlToServer(t *testing.T) {
	curl := needBinary(t, "curl")
	cases := []struct {
		name   string
		cfg    recvConfig
		scheme string   // smtp or smtps
		args   []string // more curl arguments
		to     []string
		size   int // pad the message to this size when > 0
		auth   bool
	}{
		{name: "plain", scheme: "smtp"},
		{name: "starttls", cfg: recvConfig{startTLS: true}, scheme: "smtp", args: []string{"--ssl-reqd"}},
		{name: "implicit-tls", cfg: recvConfig{implicitTLS: true}, scheme: "smtps"},
		{name: "auth-plain", cfg: recvConfig{startTLS: true, users: testUsers}, scheme: "smtp",
			args: []string{"--ssl-reqd", "--login-options", "AUTH=PLAIN"}, auth: true},
		{name: "auth-login", cfg: recvConfig{startTLS: true, users: testUsers}, scheme: "smtp",
			args: []string{"--ssl-reqd", "--login-options", "AUTH=LOGIN"}, auth: true},
		{name: "auth-cram-md5", cfg: recvConfig{users: testUsers, insecureAuth: true}, scheme: "smtp",
			args: []string{"--login-options", "AUTH=CRAM-MD5"}, auth: true},
		{name: "recipients", scheme: "smtp",
			to: []string{"bob@test.example", "carol@test.example", "dave@test.example"}},
		{name: "5mb", cfg: recvConfig{startTLS: true}, scheme: "smtp", args: []string{"--ssl-reqd"}, size: 5 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startOurs(t, tc.cfg)
			msg := testMessage("curl "+tc.name, true)
			if tc.size > 0 {
				msg = padMessage(msg, tc.size)
			}
			file := filepath.Join(t.TempDir(), "msg.eml")
			require.NoError(t, os.WriteFile(file, msg, 0o600))
			to := tc.to
			if to == nil {
				to = []string{"bob@test.example"}
			}
			args := []string{"-sS", "--max-time", "20", "--cacert", shared.certFile,
				"--url", fmt.Sprintf("%s://127.0.0.1:%s/client.example", tc.scheme, portOf(srv.addr)),
				"--mail-from", "alice@client.example", "-T", file}
			for _, r := range to {
				args = append(args, "--mail-rcpt", r)
			}
			if tc.auth {
				args = append(args, "--user", "alice:secret")
			}
			out := runPeer(t, nil, curl, append(args, tc.args...)...)

			m := srv.rec.wait(t, 1, 10*time.Second)[0]
			assert.Equal(t, "alice@client.example", m.From)
			assert.Equal(t, to, m.To)
			assert.Equal(t, tc.cfg.startTLS || tc.cfg.implicitTLS, m.TLS, "TLS")
			if tc.auth {
				assert.Equal(t, "alice", m.AuthUser, out)
			}
			requireSameBody(t, msg, m.Data, out)
		})
	}
}

// padMessage grows msg to about size octets with lines of text (and lines
// that start with a dot) before its signature.
func padMessage(msg []byte, size int) []byte {
	var b bytes.Buffer
	b.Write(msg)
	line := ".padding " + strings.Repeat("x", 60) + "\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return b.Bytes()
}
