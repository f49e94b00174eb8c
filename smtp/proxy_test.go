package smtp

import (
	"bufio"
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// proxyConnAddrs returns the addresses the backend's last Conn reports.
func proxyConnAddrs(b *srvBackend) (remote, local string) {
	c := b.LastConn()
	return c.RemoteAddr().String(), c.LocalAddr().String()
}

func TestProxyServerHeaders(t *testing.T) {
	for _, tc := range []struct {
		name, header       string
		wantRemote, wantLo string // "" for the connection's own
	}{
		{"v1 TCP4", "PROXY TCP4 192.0.2.7 198.51.100.1 51234 25\r\n", "192.0.2.7:51234", "198.51.100.1:25"},
		{"v1 TCP6", "PROXY TCP6 2001:db8::7 2001:db8::1 40000 587\r\n", "[2001:db8::7]:40000", "[2001:db8::1]:587"},
		{"v1 UNKNOWN", "PROXY UNKNOWN\r\n", "", ""},
		{"v2 TCP4", string(proxyV2TCP(netip.MustParseAddrPort("203.0.113.9:6000"), netip.MustParseAddrPort("198.51.100.1:25"))), "203.0.113.9:6000", "198.51.100.1:25"},
		{"v2 TCP6 with TLVs", string(proxyV2TCP(netip.MustParseAddrPort("[2001:db8::9]:6000"), netip.MustParseAddrPort("[2001:db8::1]:25"), proxyTLV(0x02, []byte("mx.example")))), "[2001:db8::9]:6000", "[2001:db8::1]:25"},
		{"v2 LOCAL", string(proxyV2(0, 0, nil)), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := &srvBackend{}
			_, addr := srvStart(t, b, func(s *Server) { s.ProxyProtocol = true })
			c := srvDial(t, addr)
			c.raw(tc.header)
			c.expect("220 mx.test ")
			c.cmd("EHLO client.test", "250 ")
			remote, local := proxyConnAddrs(b)
			if tc.wantRemote == "" {
				tc.wantRemote, tc.wantLo = c.nc.LocalAddr().String(), c.nc.RemoteAddr().String()
			}
			assert.Equal(t, tc.wantRemote, remote)
			assert.Equal(t, tc.wantLo, local)
			c.envelope()
			c.cmd("DATA", "354 ")
			c.send("hello", ".")
			c.expect("250 ")
			require.Len(t, b.Messages(), 1)
		})
	}
}

// Octets the client sent with the header (here a whole pipelined
// session) are not lost: with AllowEarlyCommands they are served, without
// it they are seen as the client talking before the greeting.
func TestProxyServerKeepsOctetsAfterHeader(t *testing.T) {
	for _, header := range []string{
		"PROXY TCP4 192.0.2.7 198.51.100.1 51234 25\r\n",
		string(proxyV2TCP(netip.MustParseAddrPort("192.0.2.7:51234"), netip.MustParseAddrPort("198.51.100.1:25"))),
	} {
		_, strict := srvStart(t, &srvBackend{}, func(s *Server) { s.ProxyProtocol = true })
		early := srvDial(t, strict)
		early.raw(header + "EHLO client.test\r\n")
		early.expect("421 4.7.0")
		early.expectClosed()

		b := &srvBackend{}
		_, addr := srvStart(t, b, func(s *Server) { s.ProxyProtocol, s.AllowEarlyCommands = true, true })
		c := srvDial(t, addr)
		c.raw(header + "EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
		c.expect("220 ")
		c.expect("250 ")
		c.expect("250 2.1.0")
		c.expect("250 2.1.5")
		c.expect("354 ")
		c.send("kept", ".", "QUIT")
		c.expect("250 ")
		c.expect("221 ")
		msgs := b.Messages()
		require.Len(t, msgs, 1)
		assert.Equal(t, "kept\r\n", msgs[0].Body)
		remote, _ := proxyConnAddrs(b)
		assert.Equal(t, "192.0.2.7:51234", remote)
	}
}

// lockedBuffer collects the server's log across goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A missing, malformed, late or untrusted header closes the connection
// without a greeting, and says why in the log.
func TestProxyServerRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, send string
		trusted    string
		logs       string
	}{
		{"SMTP without header", "EHLO client.test\r\n", "", "neither version"},
		{"bad v1", "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", "", "bad version 1 port"},
		{"bad v2", string(proxyV2(3, 0x11, nil)), "", "command"},
		{"no header in time", "", "", "timeout"},
		{"incomplete header in time", "PROXY TCP4 1.2.3.4", "", "timeout"},
		{"untrusted source", "PROXY TCP4 192.0.2.7 198.51.100.1 1 25\r\n", "10.0.0.0/8", "ProxyTrusted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log := &lockedBuffer{}
			b := &srvBackend{}
			_, addr := srvStart(t, b, func(s *Server) {
				s.ProxyProtocol = true
				s.ProxyHeaderTimeout = 200 * time.Millisecond
				s.Logger = slog.New(slog.NewTextHandler(log, nil))
				if tc.trusted != "" {
					s.ProxyTrusted = []netip.Prefix{netip.MustParsePrefix(tc.trusted)}
				}
			})
			c := srvDial(t, addr)
			if tc.send != "" {
				c.raw(tc.send)
			}
			c.expectClosed()
			b.mu.Lock()
			assert.Zero(t, b.sessions, "no session for a refused connection")
			b.mu.Unlock()
			require.Eventually(t, func() bool { return strings.Contains(log.String(), "PROXY protocol header refused") }, 5*time.Second, 5*time.Millisecond)
			assert.Contains(t, log.String(), tc.logs)
		})
	}
}

func TestProxyServerTrustedSource(t *testing.T) {
	b := &srvBackend{}
	_, addr := srvStart(t, b, func(s *Server) {
		s.ProxyProtocol = true
		s.ProxyTrusted = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.0/8")}
	})
	c := srvDial(t, addr)
	c.raw("PROXY TCP4 192.0.2.7 198.51.100.1 1 25\r\n")
	c.expect("220 ")
	c.cmd("HELO client.test", "250 ")
	remote, _ := proxyConnAddrs(b)
	assert.Equal(t, "192.0.2.7:1", remote)
}

// With implicit TLS the header comes before the handshake, which must see
// the ClientHello sent right behind the header.
func TestProxyServerImplicitTLS(t *testing.T) {
	srvCfg, cliCfg := srvTLSConfig(t)
	for _, header := range []string{
		"PROXY TCP6 2001:db8::7 2001:db8::1 40000 465\r\n",
		string(proxyV2TCP(netip.MustParseAddrPort("[2001:db8::7]:40000"), netip.MustParseAddrPort("[2001:db8::1]:465"))),
	} {
		b := &srvBackend{}
		s := &Server{Hostname: "mx.test", Backend: b, Logger: srvQuietLogger, ProxyProtocol: true}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- s.Serve(tls.NewListener(l, srvCfg)) }()

		nc, err := net.DialTimeout("tcp", l.Addr().String(), 5*time.Second)
		require.NoError(t, err)
		nc.SetDeadline(time.Now().Add(20 * time.Second))
		// The header and the ClientHello in one write.
		tc := tls.Client(&prefixWriter{Conn: nc, prefix: []byte(header)}, cliCfg)
		require.NoError(t, tc.Handshake())
		c := &srvClient{t: t, nc: tc, r: bufio.NewReader(tc)}
		c.expect("220 mx.test ")
		c.cmd("EHLO client.test", "250 ")
		remote, _ := proxyConnAddrs(b)
		assert.Equal(t, "[2001:db8::7]:40000", remote)
		_, ok := b.LastConn().TLSConnectionState()
		assert.True(t, ok)
		tc.Close()
		require.NoError(t, s.Close())
		require.ErrorIs(t, <-done, ErrServerClosed)
	}
}

// prefixWriter sends prefix ahead of the first write.
type prefixWriter struct {
	net.Conn
	prefix []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	if p.prefix != nil {
		_, err := p.Conn.Write(append(p.prefix, b...))
		p.prefix = nil
		if err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return p.Conn.Write(b)
}

// The header read leaves nothing behind: no goroutine, and a refused
// connection does not count against MaxConnections.
func TestProxyServerRefusalFreesSlot(t *testing.T) {
	b := &srvBackend{}
	srv, addr := srvStart(t, b, func(s *Server) {
		s.ProxyProtocol = true
		s.MaxConnections = 1
	})
	for range 3 {
		c := srvDial(t, addr)
		c.raw("garbage\r\n")
		c.expectClosed()
		// The slot is given back just after the close the client saw;
		// the next connection must not race it.
		require.Eventually(t, func() bool { return srv.active.Load() == 0 }, 5*time.Second, time.Millisecond)
	}
	c := srvDial(t, addr)
	c.raw("PROXY UNKNOWN\r\n")
	c.expect("220 ")
}
