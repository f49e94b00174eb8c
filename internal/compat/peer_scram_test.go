package compat

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"hash"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scramReceiver is our server offering SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS
// (where the connection has a channel binding), SCRAM-SHA-256 and
// SCRAM-SHA-1 for alice/secret, every SCRAM server bound to the
// connection's bindings (smtp.Conn.ChannelBindings), recording the
// messages and each AUTH's mechanism and outcome.
type scramReceiver struct {
	*receiver
	mu    sync.Mutex
	auths []string
}

func (r *scramReceiver) authHook(_ *smtp.Conn, mech, user string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	outcome := "ok"
	if err != nil {
		outcome = "refused"
	}
	r.auths = append(r.auths, mech+" "+user+" "+outcome)
}

func (r *scramReceiver) authLog() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.auths...)
}

// startScramServer starts the SCRAM receiver with STARTTLS capped at TLS
// version maxTLS (0: none), AUTH allowed in clear too.
func startScramServer(t *testing.T, maxTLS uint16) *scramReceiver {
	t.Helper()
	r := &scramReceiver{receiver: &receiver{rec: newRecorder()}}
	tlsConf := serverTLS()
	tlsConf.MaxVersion = maxTLS
	s := &smtp.Server{
		Hostname:          "mx.test.example",
		TLSConfig:         tlsConf,
		AllowInsecureAuth: true,
		ReadTimeout:       20 * time.Second,
		WriteTimeout:      20 * time.Second,
		Logger:            slog.New(slog.DiscardHandler),
		Backend: smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
			return &scramSession{&pwSession{rec: r.rec, conn: c, users: testUsers}}, nil
		}),
	}
	s.Hooks.Auth = r.authHook
	l := listen(t, recvConfig{})
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, s.Shutdown(ctx))
		require.ErrorIs(t, <-done, smtp.ErrServerClosed)
	})
	r.addr = l.Addr().String()
	return r
}

type scramSession struct{ *pwSession }

func (s *scramSession) AuthMechanisms() []string {
	return []string{sasl.ScramSHA256Plus, sasl.ScramSHA1Plus, sasl.ScramSHA256, sasl.ScramSHA1}
}

func (s *scramSession) Auth(mech string) (sasl.Server, error) {
	h := sha256.New
	if strings.HasPrefix(mech, "SCRAM-SHA-1") {
		h = sha1.New
	}
	return sasl.NewScramServer(mech, scramUsers(h), s.conn.ChannelBindings()...), nil
}

// scramUsers derives the SCRAM keys of testUsers for the hash h.
func scramUsers(h func() hash.Hash) func(string) (sasl.ScramCredentials, error) {
	return func(name string) (sasl.ScramCredentials, error) {
		pass, ok := testUsers[name]
		if !ok {
			return sasl.ScramCredentials{}, sasl.ErrInvalidCredentials
		}
		return sasl.NewScramCredentials(h, pass, []byte("compat-salt"), 4096)
	}
}

// TestGsaslScramPlusToServer authenticates into our server with GNU
// SASL's command-line client (gsasl --smtp), which binds SCRAM -PLUS to
// the TLS connection itself: tls-exporter over TLS 1.3 (RFC 9266),
// tls-unique over TLS 1.2 (RFC 5929 section 3). Both -PLUS mechanisms
// succeed over both versions; the plain mechanisms with --no-cb too.
func TestGsaslScramPlusToServer(t *testing.T) {
	gsasl := needBinary(t, "gsasl")
	cases := []struct {
		name, mech, priority string
		maxTLS               uint16
		noCB                 bool
	}{
		{"tls1.3/sha256-plus", sasl.ScramSHA256Plus, "NORMAL", 0, false},
		{"tls1.3/sha1-plus", sasl.ScramSHA1Plus, "NORMAL", 0, false},
		{"tls1.2/sha256-plus", sasl.ScramSHA256Plus, "NORMAL:-VERS-TLS1.3", tls.VersionTLS12, false},
		{"tls1.2/sha1-plus", sasl.ScramSHA1Plus, "NORMAL:-VERS-TLS1.3", tls.VersionTLS12, false},
		{"tls1.3/sha256-no-cb", sasl.ScramSHA256, "NORMAL", 0, true},
		{"tls1.2/sha1-no-cb", sasl.ScramSHA1, "NORMAL:-VERS-TLS1.3", tls.VersionTLS12, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startScramServer(t, tc.maxTLS)
			args := []string{"--smtp", "--starttls", "--x509-ca-file=" + shared.certFile, "--priority", tc.priority,
				"--mechanism", tc.mech, "-a", "alice", "-p", "secret", "--hostname=127.0.0.1",
				"127.0.0.1", portOf(srv.addr)}
			if tc.noCB {
				args = append(args, "--no-cb")
			}
			out := runPeer(t, nil, gsasl, args...)
			assert.Contains(t, out, "235 2.7.0", out)
			assert.Equal(t, []string{tc.mech + " alice ok"}, srv.authLog(), out)
		})
	}
}

// TestMuttScramToServer sends with mutt, whose Debian build authenticates
// through GNU SASL, with SCRAM-SHA-1 and SCRAM-SHA-256, in clear and over
// STARTTLS (where our server also offers -PLUS, which mutt does not use:
// it gives GNU SASL no channel binding, so a -PLUS attempt is cancelled
// by the client; the plain mechanism's gs2 flag is then "n", accepted).
// The body our server stored is the draft's, byte for byte.
func TestMuttScramToServer(t *testing.T) {
	mutt := needBinary(t, "mutt")
	for _, tc := range []struct {
		name, mech string
		startTLS   bool
	}{
		{"sha1", "scram-sha-1", false},
		{"sha256", "scram-sha-256", false},
		{"starttls-sha1", "scram-sha-1", true},
		{"starttls-sha256", "scram-sha-256", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startScramServer(t, 0)
			dir := t.TempDir()
			tlsSettings := "set ssl_starttls=no\nset ssl_force_tls=no\n"
			if tc.startTLS {
				tlsSettings = fmt.Sprintf("set ssl_starttls=yes\nset ssl_force_tls=yes\nset ssl_ca_certificates_file=%q\n", shared.certFile)
			}
			rc := fmt.Sprintf("set smtp_url=\"smtp://alice@127.0.0.1:%s/\"\nset smtp_pass=\"secret\"\n"+
				"set smtp_authenticators=%q\n%sset from=\"alice@client.example\"\nset use_from=yes\n"+
				"set hostname=client.example\nset record=\"\"\nset allow_8bit=yes\n",
				portOf(srv.addr), tc.mech, tlsSettings)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "muttrc"), []byte(rc), 0o600))
			body := "Hello Bob,\n.a line that starts with a dot\n.\n..\n -- \nAlice\n"
			draft := "From: alice@client.example\nTo: bob@test.example\nSubject: mutt " + tc.name + "\n\n" + body
			require.NoError(t, os.WriteFile(filepath.Join(dir, "draft"), []byte(draft), 0o600))

			out := runPeer(t, nil, "env", "HOME="+dir, mutt, "-n", "-F", filepath.Join(dir, "muttrc"),
				"-H", filepath.Join(dir, "draft"))
			m := srv.rec.wait(t, 1, 10*time.Second)[0]
			assert.Equal(t, []string{strings.ToUpper(tc.mech) + " alice ok"}, srv.authLog(), out)
			assert.Equal(t, "alice", m.AuthUser)
			assert.Equal(t, tc.startTLS, m.TLS)
			assert.Equal(t, []string{"bob@test.example"}, m.To)
			requireSameBody(t, toCRLF([]byte(body)), bodyOf(m.Data), out)
		})
	}
}
