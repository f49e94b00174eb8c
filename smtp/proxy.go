package smtp

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"time"
)

// DefaultProxyHeaderTimeout bounds the wait for a PROXY protocol header, as
// Postfix's smtpd_upstream_proxy_timeout does. proxy-protocol.txt section
// 2 asks for "at least 3 seconds to cover a TCP retransmit".
const DefaultProxyHeaderTimeout = 5 * time.Second

// errProxyUntrusted refuses a connection from a source outside
// Server.ProxyTrusted.
var errProxyUntrusted = errors.New("smtp: PROXY protocol expected from a trusted proxy; source not in Server.ProxyTrusted")

// readProxyHeader reads the PROXY protocol header (HAProxy's
// proxy-protocol.txt, versions 1 and 2) that precedes the greeting when
// Server.ProxyProtocol is set, and records the client's address in
// c.remote and the proxy's destination in c.local (both under c.mu). An
// error closes the connection without a greeting.
//
// It runs on the connection's goroutine before anything else. On a plain
// connection it reads through a bufio.Reader from srv.readerPool, which it
// keeps as c.r when the client's first octets came with the header, so
// that none is lost. With implicit TLS it reads the raw connection below
// the *tls.Conn without ever reading past the header, since the handshake
// reads that connection itself.
func (c *Conn) readProxyHeader() error {
	s := c.srv
	if !addrInPrefixes(c.raw.RemoteAddr(), s.ProxyTrusted, true) {
		return errProxyUntrusted
	}
	var deadline time.Time // none when the setting is negative
	if timeout := setting(s.ProxyHeaderTimeout, DefaultProxyHeaderTimeout); timeout > 0 {
		deadline = time.Now().Add(timeout)
	}

	var h proxyHeader
	var err error
	if tc, ok := c.nc.(*tls.Conn); ok {
		raw := tc.NetConn()
		raw.SetReadDeadline(deadline)
		h, err = parseProxyHeader(&exactPeeker{r: raw})
		raw.SetReadDeadline(time.Time{})
	} else {
		c.nc.SetReadDeadline(deadline)
		src := &proxySource{c: c, header: true}
		r := s.readerPool.Get().(*bufio.Reader)
		r.Reset(src)
		c.r = r
		h, err = parseProxyHeader(r)
		if err == nil {
			r.Discard(h.size)
		}
		// From now on the reader (if kept for octets after the header)
		// refills from the connection as waitForInput's does.
		src.header = false
		c.releaseReader()
		c.readDL = time.Time{} // the command deadline is set before the next read
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if !h.local {
		c.mu.Lock()
		c.remote, c.local = h.src, h.dst
		c.mu.Unlock()
	}
	return nil
}

// proxySource is what the bufio.Reader reading a PROXY header reads from:
// the raw connection while the header is read (under the header's own
// deadline), then the connection's usual source, c.in.
type proxySource struct {
	c      *Conn
	header bool
}

func (p *proxySource) Read(b []byte) (int, error) {
	if p.header {
		return p.c.nc.Read(b)
	}
	return p.c.in.Read(b)
}

// exactPeeker reads exactly the octets asked for, never more: the PROXY
// header ahead of implicit TLS is read this way (a version 1 line octet by
// octet past its first 15 octets).
type exactPeeker struct {
	r   io.Reader
	buf []byte
}

func (p *exactPeeker) Buffered() int { return len(p.buf) }

func (p *exactPeeker) Peek(n int) ([]byte, error) {
	if have := len(p.buf); n > have {
		p.buf = slices.Grow(p.buf, n-have)[:n]
		m, err := io.ReadFull(p.r, p.buf[have:])
		p.buf = p.buf[:have+m]
		if err != nil {
			return p.buf, err
		}
	}
	return p.buf[:n], nil
}

// addrInPrefixes reports whether addr is a TCP address within one of the
// prefixes (an IPv4-mapped IPv6 address counts as IPv4). An empty list
// holds every address when emptyMeansAll is set, none otherwise.
func addrInPrefixes(addr net.Addr, prefixes []netip.Prefix, emptyMeansAll bool) bool {
	if len(prefixes) == 0 {
		return emptyMeansAll
	}
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
