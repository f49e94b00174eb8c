package smtp

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A command sent in the same packet as STARTTLS must not run after the
// handshake (CVE-2011-0411).
func TestStartTLSInjectionDiscarded(t *testing.T) {
	srvCfg, cliCfg := srvTLSConfig(t)
	b := &srvBackend{}
	_, addr := srvStart(t, b, func(s *Server) { s.TLSConfig = srvCfg })
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	c.raw("STARTTLS\r\nMAIL FROM:<injected@example.org>\r\nRCPT TO:<victim@example.org>\r\n")
	c.expect("220 2.0.0")
	c.startTLS(cliCfg)
	// Had the injected MAIL run, this would be 503 (no EHLO since the
	// handshake) either way; so greet and check that no transaction is open.
	c.cmd("EHLO client.test", "250 ")
	c.cmd("RCPT TO:<b@example.org>", "503 5.5.1")
	c.cmd("MAIL FROM:<a@example.org>", "250 2.1.0")
	c.cmd("RCPT TO:<b@example.org>", "250 2.1.5")
	c.cmd("DATA", "354")
	c.send("hi", ".")
	c.expect("250 2.0.0")
	msgs := b.Messages()
	require.Len(t, msgs, 1)
	assert.Equal(t, "a@example.org", msgs[0].From)
	assert.Equal(t, []string{"b@example.org"}, msgs[0].To)
}

// After STARTTLS the session starts over: no HELO name, a new Session, the
// TLS state visible through Conn.
func TestStartTLSStartsOver(t *testing.T) {
	srvCfg, cliCfg := srvTLSConfig(t)
	b := &srvBackend{auth: true}
	_, addr := srvStart(t, b, func(s *Server) { s.TLSConfig = srvCfg })
	c := srvDial(t, addr)
	c.expect("220 ")
	lines := c.cmd("EHLO before.test", "250 ")
	assert.Contains(t, lines, "250-STARTTLS")
	assert.NotContains(t, lines, "250-AUTH PLAIN LOGIN X-TEST X-BROKEN")
	conn := b.LastConn()
	assert.Equal(t, "before.test", conn.Hostname())
	_, ok := conn.TLSConnectionState()
	assert.False(t, ok)

	c.cmd("STARTTLS", "220 ")
	c.startTLS(cliCfg)
	c.cmd("MAIL FROM:<a@example.org>", "503 5.5.1") // also waits for the server's side of the handshake
	// the new session's connection
	conn = b.LastConn()
	assert.Equal(t, "", conn.Hostname(), "HELO name must be forgotten after STARTTLS")
	st, ok := conn.TLSConnectionState()
	require.True(t, ok)
	assert.True(t, st.HandshakeComplete)
	lines = c.cmd("EHLO after.test", "250 ")
	assert.NotContains(t, lines, "250-STARTTLS")
	assert.Contains(t, lines, "250-AUTH PLAIN LOGIN X-TEST X-BROKEN", "AUTH is offered over TLS")
	assert.Equal(t, "after.test", conn.Hostname())
	c.cmd("AUTH PLAIN AHVzZXIAcGFzcw==", "235 2.7.0")
	id, mech, ok := conn.AuthIdentity()
	require.True(t, ok)
	assert.Equal(t, "user", id.Authentication)
	assert.Equal(t, "PLAIN", mech)
	c.cmd("QUIT", "221")
	c.expectClosed()
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.logouts == 2
	}, 5*time.Second, 10*time.Millisecond)
	b.mu.Lock()
	assert.Equal(t, 2, b.sessions, "a new Session after STARTTLS")
	b.mu.Unlock()
}

// A client that sends garbage instead of a handshake is disconnected.
func TestStartTLSFailedHandshakeCloses(t *testing.T) {
	srvCfg, _ := srvTLSConfig(t)
	_, addr := srvStart(t, &srvBackend{}, func(s *Server) { s.TLSConfig = srvCfg })
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	c.cmd("STARTTLS", "220 ")
	c.raw("EHLO this is not a TLS ClientHello\r\n")
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 512)
	for {
		// The server may answer with a TLS alert record; then it closes.
		if _, err := c.nc.Read(buf); err != nil {
			break
		}
	}
}

// The Backend may refuse the session STARTTLS starts over with, as it may
// at connect: its *Error is sent as it is, anything else becomes 421 4.3.0
// without its text, and the connection closes.
func TestStartTLSBackendRefusesNewSession(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&Error{Code: 554, Enhanced: EnhancedCode{5, 7, 1}, Message: "No TLS from you"}, "554 5.7.1 No TLS from you"},
		{errors.New("secret"), "421 4.3.0"},
	} {
		srvCfg, cliCfg := srvTLSConfig(t)
		b := &srvBackend{}
		_, addr := srvStart(t, b, func(s *Server) {
			s.TLSConfig = srvCfg
			s.Backend = BackendFunc(func(c *Conn) (Session, error) {
				if _, ok := c.TLSConnectionState(); ok {
					return nil, tc.err
				}
				return b.NewSession(c)
			})
		})
		c := srvDial(t, addr)
		c.expect("220 ")
		c.cmd("EHLO client.test", "250 ")
		c.cmd("STARTTLS", "220 ")
		c.startTLS(cliCfg)
		lines := c.expect(tc.want)
		assert.NotContains(t, lines[0], "secret")
		c.expectClosed()
		b.mu.Lock()
		assert.Equal(t, 1, b.logouts, "the session before STARTTLS is logged out")
		b.mu.Unlock()
	}
}

// Implicit TLS (RFC 8314): Serve with a tls.NewListener.
func TestImplicitTLS(t *testing.T) {
	srvCfg, cliCfg := srvTLSConfig(t)
	b := &srvBackend{auth: true}
	s := &Server{Hostname: "mx.test", Backend: b, Logger: srvQuietLogger, TLSConfig: srvCfg}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go s.Serve(tls.NewListener(l, srvCfg))
	defer s.Close()
	tc, err := tls.Dial("tcp", l.Addr().String(), cliCfg)
	require.NoError(t, err)
	defer tc.Close()
	c := &srvClient{t: t, nc: tc, r: bufio.NewReader(tc)}
	c.expect("220 mx.test")
	lines := c.cmd("EHLO client.test", "250 ")
	assert.NotContains(t, lines, "250-STARTTLS")
	c.cmd("STARTTLS", "503 5.5.1")
	c.cmd("AUTH PLAIN AHVzZXIAcGFzcw==", "235 2.7.0")
	conn := b.LastConn()
	_, ok := conn.TLSConnectionState()
	assert.True(t, ok)
}

func TestListenAndServeTLSBadFiles(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	require.NoError(t, os.WriteFile(cert, []byte("not a certificate"), 0o600))
	s := &Server{Addr: "127.0.0.1:0", Backend: &srvBackend{}, Logger: srvQuietLogger}
	require.Error(t, s.ListenAndServeTLS(cert, cert))
	require.Error(t, s.ListenAndServeTLS(filepath.Join(dir, "missing.pem"), cert))
}

// REQUIRETLS (RFC 8689) is offered and accepted only over TLS.
func TestRequireTLSOnlyOverTLS(t *testing.T) {
	srvCfg, cliCfg := srvTLSConfig(t)
	b := &srvBackend{}
	_, addr := srvStart(t, b, func(s *Server) { s.TLSConfig = srvCfg; s.EnableREQUIRETLS = true })
	c := srvDial(t, addr)
	c.expect("220 ")
	assert.NotContains(t, c.cmd("EHLO client.test", "250 "), "250-REQUIRETLS")
	c.cmd("MAIL FROM:<a@example.org> REQUIRETLS", "555 5.5.4")
	c.cmd("STARTTLS", "220 ")
	c.startTLS(cliCfg)
	assert.Contains(t, c.cmd("EHLO client.test", "250 "), "250-REQUIRETLS")
	c.cmd("MAIL FROM:<a@example.org> REQUIRETLS=yes", "501 5.5.4")
	c.cmd("MAIL FROM:<a@example.org> REQUIRETLS", "250 ")
	c.cmd("RCPT TO:<b@example.org>", "250 ")
	c.cmd("DATA", "354")
	c.send("x", ".")
	c.expect("250")
	require.Len(t, b.Messages(), 1)
	assert.True(t, b.Messages()[0].Opts.RequireTLS)
}
