package smtp

import (
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/postwire/postwire/sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseXCLIENT(t *testing.T) {
	cmd, err := parseXCLIENT([]byte("name=spike.porcupine.org ADDR=IPV6:2001:DB8::1 Port=4711 PROTO=esmtp HELO=a+2Bb LOGIN=user+40example.org DESTADDR=192.0.2.25 DESTPORT=25"))
	require.NoError(t, err)
	var a XCLIENTAttributes
	cmd.mergeInto(&a)
	assert.Equal(t, XCLIENTAttributes{
		Name: "spike.porcupine.org", Addr: "2001:db8::1", Port: "4711", Proto: "ESMTP",
		HELO: "a+b", Login: "user@example.org", DestAddr: "192.0.2.25", DestPort: "25",
	}, a)

	cmd, err = parseXCLIENT([]byte("NAME=[tempunavail]  ADDR=[Unavailable] PORT=[UNAVAILABLE] HELO=[UNAVAILABLE] LOGIN=[UNAVAILABLE]"))
	require.NoError(t, err)
	a = XCLIENTAttributes{Proto: "SMTP"}
	cmd.mergeInto(&a)
	assert.Equal(t, XCLIENTAttributes{Name: "[TEMPUNAVAIL]", Addr: "[UNAVAILABLE]", Port: "[UNAVAILABLE]", Proto: "SMTP", HELO: "[UNAVAILABLE]", Login: "[UNAVAILABLE]"}, a)

	// A later occurrence wins, the port it gives included.
	cmd, err = parseXCLIENT([]byte("ADDR=192.0.2.1 PORT=25 PORT=[UNAVAILABLE] DESTPORT=[UNAVAILABLE] DESTPORT=587"))
	require.NoError(t, err)
	old := net.TCPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:2525"))
	assert.Equal(t, "192.0.2.1:0", cmd.endpoint(old, xAddr, xPort).String())
	assert.Equal(t, "127.0.0.1:587", cmd.endpoint(old, xDestAddr, xDestPort).String())

	for _, bad := range []string{
		"", "   ", "ADDR", "ADDR=", "FOO=bar", "NAME=a b", "NAME=bad..name", "NAME=" + strings.Repeat("a", 64) + ".example",
		"NAME=x+2Fy", "NAME=[TEMPUNAVAIL]x", "ADDR=2001:db8::1", "ADDR=IPV6:192.0.2.1", "ADDR=01.2.3.4", "ADDR=IPV6:fe80::1%25eth0",
		"ADDR=[192.0.2.1]", "PORT=65536", "PORT=-1", "PORT=x", "PROTO=LMTP", "HELO=a+20b", "LOGIN=a+0Db",
		"LOGIN=+FF", "HELO=a+2b", "DESTADDR=localhost", "DESTPORT=99999", "ADDR=1.2.3.4=5",
	} {
		_, err := parseXCLIENT([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}
}

// xclientServer starts a server that trusts loopback with XCLIENT.
func xclientServer(t *testing.T, b *srvBackend, configure func(*Server)) *srvClient {
	t.Helper()
	_, addr := srvStart(t, b, func(s *Server) {
		s.XCLIENTTrusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		if configure != nil {
			configure(s)
		}
	})
	c := srvDial(t, addr)
	c.expect("220 mx.test ")
	return c
}

// Without XCLIENTTrusted XCLIENT is off: not offered, 502.
func TestXCLIENTOff(t *testing.T) {
	b := &srvBackend{}
	_, addr := srvStart(t, b, nil)
	c := srvDial(t, addr)
	c.expect("220 ")
	lines := c.cmd("EHLO proxy.test", "250 ")
	assert.NotContains(t, strings.Join(lines, "\n"), "XCLIENT")
	c.cmd("XCLIENT ADDR=192.0.2.1", "502 5.5.1")
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	assert.Equal(t, "127.0.0.1", strings.Split(b.LastConn().RemoteAddr().String(), ":")[0])
	_, used := b.LastConn().XCLIENT()
	assert.False(t, used)
}

func TestXCLIENTOverridesAndRestarts(t *testing.T) {
	b := &srvBackend{auth: true}
	c := xclientServer(t, b, func(s *Server) { s.RequireAuth = true; s.AllowInsecureAuth = true })
	lines := c.cmd("EHLO proxy.test", "250 ")
	assert.Contains(t, lines, "250 XCLIENT NAME ADDR PORT PROTO HELO LOGIN DESTADDR DESTPORT")
	c.cmd("XCLIENT NAME=spike.porcupine.org ADDR=168.100.189.2 PORT=4711 HELO=spike.porcupine.org LOGIN=wietse PROTO=ESMTP", "220 mx.test ")

	conn := b.LastConn()
	assert.Equal(t, "168.100.189.2:4711", conn.RemoteAddr().String())
	assert.Equal(t, "spike.porcupine.org", conn.Hostname())
	id, mech, ok := conn.AuthIdentity()
	require.True(t, ok)
	assert.Equal(t, sasl.Identity{Authentication: "wietse"}, id)
	assert.Equal(t, XCLIENTMechanism, mech)
	attrs, used := conn.XCLIENT()
	assert.True(t, used)
	assert.Equal(t, "spike.porcupine.org", attrs.Name)
	assert.Equal(t, "ESMTP", attrs.Proto)
	b.mu.Lock()
	assert.Equal(t, 2, b.sessions, "a new session after XCLIENT")
	assert.Equal(t, 1, b.logouts, "the old one logged out")
	b.mu.Unlock()

	// Back at the greeting stage: EHLO first.
	c.cmd("MAIL FROM:<a@example.org>", "503 5.5.1")
	lines = c.cmd("EHLO other-name.test", "250 ")
	joined := strings.Join(lines, "\n")
	assert.Contains(t, joined, "XCLIENT", "still offered to the trusted client")
	assert.Contains(t, joined, "AUTH", "still advertised, for AUTH= on MAIL (RFC 4954 section 5)")
	assert.Equal(t, "spike.porcupine.org", conn.Hostname(), "the XCLIENT HELO stands")
	c.cmd("AUTH PLAIN", "503 5.5.1")
	// RequireAuth is satisfied by the XCLIENT login.
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("XCLIENT ADDR=192.0.2.1", "503 5.5.1")
	c.cmd("RCPT TO:<b@example.org>", "250 ")
	c.cmd("XCLIENT ADDR=192.0.2.1", "503 5.5.1")
	c.cmd("DATA", "354 ")
	c.send("hi", ".")
	c.expect("250 ")
	require.Len(t, b.Messages(), 1)

	// A second XCLIENT changes only what it names; the rest persists.
	c.cmd("XCLIENT ADDR=IPV6:2001:db8::1", "220 ")
	conn = b.LastConn()
	assert.Equal(t, "[2001:db8::1]:0", conn.RemoteAddr().String(), "a new address without a port")
	c.cmd("XCLIENT PORT=25 DESTADDR=192.0.2.25 DESTPORT=587", "220 ")
	conn = b.LastConn()
	assert.Equal(t, "[2001:db8::1]:25", conn.RemoteAddr().String())
	assert.Equal(t, "192.0.2.25:587", conn.LocalAddr().String())
	assert.Equal(t, "spike.porcupine.org", conn.Hostname())
	_, _, ok = conn.AuthIdentity()
	assert.True(t, ok, "the login persists")

	c.cmd("XCLIENT ADDR=[UNAVAILABLE] LOGIN=[UNAVAILABLE] HELO=[UNAVAILABLE] NAME=[TEMPUNAVAIL]", "220 ")
	conn = b.LastConn()
	assert.Equal(t, "[UNAVAILABLE]", conn.RemoteAddr().String())
	_, _, ok = conn.AuthIdentity()
	assert.False(t, ok)
	c.cmd("EHLO again.test", "250 ")
	assert.Equal(t, "again.test", conn.Hostname())
	c.cmd("MAIL FROM:<a@example.org>", "530 5.7.0")
	attrs, _ = conn.XCLIENT()
	assert.Equal(t, "[TEMPUNAVAIL]", attrs.Name)
}

func TestXCLIENTSyntaxErrorsChangeNothing(t *testing.T) {
	b := &srvBackend{}
	c := xclientServer(t, b, nil)
	c.cmd("EHLO proxy.test", "250 ")
	for _, bad := range []string{"XCLIENT", "XCLIENT FOO=1", "XCLIENT ADDR=999.1.1.1", "XCLIENT NAME=ok.test ADDR=::1", "XCLIENT HELO=a+zz"} {
		c.cmd(bad, "501 5.5.4")
	}
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	conn := b.LastConn()
	_, used := conn.XCLIENT()
	assert.False(t, used)
	assert.Equal(t, "proxy.test", conn.Hostname())
	b.mu.Lock()
	assert.Equal(t, 1, b.sessions)
	b.mu.Unlock()
}

// Pipelined behind XCLIENT, the client's EHLO and transaction run in the
// new session.
func TestXCLIENTPipelined(t *testing.T) {
	b := &srvBackend{}
	c := xclientServer(t, b, nil)
	c.cmd("EHLO proxy.test", "250 ")
	c.send("XCLIENT ADDR=192.0.2.9 PORT=1234", "EHLO client.test", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "DATA")
	c.expect("220 ")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("250 ")
	c.expect("354 ")
	c.send("x", ".")
	c.expect("250 ")
	assert.Equal(t, "192.0.2.9:1234", b.LastConn().RemoteAddr().String())
}

// The Backend sees the new address in NewSession and may refuse it.
func TestXCLIENTBackendRefusesNewSession(t *testing.T) {
	b := &srvBackend{}
	_, addr := srvStart(t, b, func(s *Server) {
		s.XCLIENTTrusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		s.Backend = BackendFunc(func(c *Conn) (Session, error) {
			if strings.HasPrefix(c.RemoteAddr().String(), "192.0.2.66:") {
				return nil, &Error{Code: 554, Enhanced: EnhancedCode{5, 7, 1}, Message: "Blocked client"}
			}
			return b.NewSession(c)
		})
	})
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("XCLIENT ADDR=192.0.2.66", "554 5.7.1 Blocked client")
	c.expectClosed()
	b.mu.Lock()
	assert.Equal(t, 1, b.logouts)
	b.mu.Unlock()
}

// A client outside XCLIENTTrusted is not offered XCLIENT and gets 550.
func TestXCLIENTUntrusted(t *testing.T) {
	b := &srvBackend{}
	c := xclientServer(t, b, func(s *Server) { s.XCLIENTTrusted = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	lines := c.cmd("EHLO proxy.test", "250 ")
	assert.NotContains(t, strings.Join(lines, "\n"), "XCLIENT")
	c.cmd("XCLIENT ADDR=192.0.2.1", "550 5.7.0")
	c.cmd("XCLIENT", "550 5.7.0")
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("XCLIENT ADDR=192.0.2.1", "503 5.5.1")
	assert.Equal(t, "127.0.0.1", strings.Split(b.LastConn().RemoteAddr().String(), ":")[0])
}

// Trust is judged on the address the PROXY header gave.
func TestXCLIENTTrustAfterProxy(t *testing.T) {
	for _, tc := range []struct {
		header, want string
	}{
		{"PROXY TCP4 192.0.2.7 198.51.100.1 1 25\r\n", "220 "},
		{"PROXY TCP4 203.0.113.1 198.51.100.1 1 25\r\n", "550 5.7.0"},
	} {
		b := &srvBackend{}
		_, addr := srvStart(t, b, func(s *Server) {
			s.ProxyProtocol = true
			s.XCLIENTTrusted = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
		})
		c := srvDial(t, addr)
		c.raw(tc.header)
		c.expect("220 ")
		c.cmd("XCLIENT ADDR=198.51.100.77", tc.want)
	}
}
