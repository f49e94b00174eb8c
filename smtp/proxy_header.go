package smtp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"net"
	"net/netip"
)

// This file parses the PROXY protocol header, versions 1 (text) and 2
// (binary), as HAProxy's proxy-protocol.txt specifies it; proxy.go reads
// it from the connection.

// ErrProxyHeader is wrapped by every error about a malformed PROXY protocol
// header; the connection is closed without a greeting (proxy-protocol.txt
// sections 2.1 and 2.2: "the receiver must abort the connection").
var ErrProxyHeader = errors.New("smtp: bad PROXY protocol header")

const (
	// proxyV1MaxLine is the longest version 1 line, CRLF included
	// (proxy-protocol.txt section 2.1: "PROXY UNKNOWN" with two full IPv6
	// addresses and ports).
	proxyV1MaxLine = 107
	// proxyV1MinLine is the shortest, "PROXY UNKNOWN\r\n".
	proxyV1MinLine = 15
	// proxyV2Fixed is the fixed part of a version 2 header: signature,
	// version and command, family and protocol, length (section 2.2).
	proxyV2Fixed = 16
	// proxyV2MaxHeader bounds a whole version 2 header, TLVs included. The
	// format allows 16+65535 octets; a proxy's own TLVs (ALPN, SNI, SSL,
	// unique ID of at most 128 octets) stay far below this, and a longer
	// header is refused rather than buffered.
	proxyV2MaxHeader = 4096
)

// proxyV2Signature opens every version 2 header (section 2.2).
var proxyV2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// Version 2 address families and transports (section 2.2, 14th octet).
const (
	proxyAFUnspec = 0x0
	proxyAFInet   = 0x1
	proxyAFInet6  = 0x2
	proxyAFUnix   = 0x3

	proxyTransportUnspec = 0x0
	proxyTransportStream = 0x1
	proxyTransportDgram  = 0x2

	proxyTLVCRC32C = 0x03 // section 2.2.3
)

// proxyV2AddrLen is the length of a family's address block (section 2.2):
// source and destination address, then for IP source and destination port.
var proxyV2AddrLen = [...]int{proxyAFInet: 2*4 + 2*2, proxyAFInet6: 2*16 + 2*2, proxyAFUnix: 2 * 108}

// proxyHeader is a parsed PROXY protocol header.
type proxyHeader struct {
	// size is the header's length in octets: what to skip before SMTP.
	size int
	// version is 1 or 2.
	version int
	// local is set when the connection's own endpoints stand: a version 2
	// LOCAL command (a proxy's health check), version 1 "UNKNOWN", or a
	// version 2 UNSPEC family or transport (sections 2.1 and 2.2).
	local bool
	// src and dst are the client's and the proxy's destination addresses
	// when local is false: *net.TCPAddr, or *net.UnixAddr for AF_UNIX.
	src, dst net.Addr
}

// proxyPeeker is what the parser reads from: a bufio.Reader, or a reader
// that never reads past what was asked (for implicit TLS, whose handshake
// reads the connection itself). Peek(n) blocks until n octets are there.
type proxyPeeker interface {
	Peek(n int) ([]byte, error)
	Buffered() int
}

func proxyErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProxyHeader}, args...)...)
}

// parseProxyHeader reads a PROXY protocol header of either version from r,
// telling them apart by the first octet ("P" for version 1, CR for version
// 2's signature, section 2.2), and returns it without consuming it: the
// caller discards h.size octets. It never asks r for more than
// proxyV2MaxHeader octets, and never for octets past the header.
func parseProxyHeader(r proxyPeeker) (proxyHeader, error) {
	b, err := r.Peek(1)
	if err != nil {
		return proxyHeader{}, err
	}
	switch b[0] {
	case 'P':
		return parseProxyV1(r)
	case '\r':
		return parseProxyV2(r)
	}
	return proxyHeader{}, proxyErr("neither version 1 nor version 2")
}

// parseProxyV1 reads the text header of section 2.1:
//
//	"PROXY" SP ( "TCP4" / "TCP6" ) SP srcaddr SP dstaddr SP srcport SP dstport CRLF
//	"PROXY" SP "UNKNOWN" *anything-but-CRLF CRLF
//
// at most 107 octets, CRLF included; no bare CR or LF ends it.
func parseProxyV1(r proxyPeeker) (proxyHeader, error) {
	b, err := peekProxyV1Line(r)
	if err != nil {
		return proxyHeader{}, err
	}
	h := proxyHeader{size: len(b), version: 1}

	line, ok := bytes.CutSuffix(b, []byte("\r\n"))
	if !ok || bytes.IndexByte(line, '\r') >= 0 {
		return proxyHeader{}, proxyErr("version 1 line not ended by CRLF")
	}
	line = line[len("PROXY "):]
	if rest, ok := bytes.CutPrefix(line, []byte("UNKNOWN")); ok && (len(rest) == 0 || rest[0] == ' ') {
		h.local = true // "the receiver must ignore anything presented before the CRLF"
		return h, nil
	}

	if h.src, h.dst, err = parseProxyV1Addrs(line); err != nil {
		return proxyHeader{}, err
	}
	return h, nil
}

// peekProxyV1Line returns the version 1 line, up to and including its
// first LF, without consuming it: it asks r for one more octet at a time,
// so as never to read past the line, and gives up past proxyV1MaxLine.
func peekProxyV1Line(r proxyPeeker) ([]byte, error) {
	b, err := r.Peek(proxyV1MinLine)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(b, []byte("PROXY ")) {
		return nil, proxyErr("version 1 line does not start with \"PROXY \"")
	}
	for {
		n := min(r.Buffered(), proxyV1MaxLine)
		b, err = r.Peek(n)
		if err != nil {
			return nil, err
		}
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return b[:i+1], nil
		}
		if n == proxyV1MaxLine {
			return nil, proxyErr("version 1 line longer than %d octets", proxyV1MaxLine)
		}
		if _, err = r.Peek(n + 1); err != nil {
			return nil, err
		}
	}
}

// parseProxyV1Addrs parses the rest of a TCP4 or TCP6 line, after
// "PROXY " and without its CRLF: protocol SP srcaddr SP dstaddr SP srcport
// SP dstport.
func parseProxyV1Addrs(line []byte) (src, dst net.Addr, err error) {
	var fields [5][]byte
	for i := range len(fields) - 1 {
		f, rest, ok := bytes.Cut(line, []byte(" "))
		if !ok {
			return nil, nil, proxyErr("version 1 line has too few fields")
		}
		fields[i], line = f, rest
	}
	fields[len(fields)-1] = line // a further SP makes it a bad port

	var want4 bool
	switch string(fields[0]) {
	case "TCP4":
		want4 = true
	case "TCP6":
	default:
		return nil, nil, proxyErr("version 1 protocol %q is not TCP4, TCP6 or UNKNOWN", fields[0])
	}

	srcIP, err1 := parseProxyV1Addr(fields[1], want4)
	dstIP, err2 := parseProxyV1Addr(fields[2], want4)
	sport, err3 := parseProxyV1Port(fields[3])
	dport, err4 := parseProxyV1Port(fields[4])
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, nil, err
	}
	src = net.TCPAddrFromAddrPort(netip.AddrPortFrom(srcIP, sport))
	dst = net.TCPAddrFromAddrPort(netip.AddrPortFrom(dstIP, dport))
	return src, dst, nil
}

// parseProxyV1Addr parses an address of the family TCP4 or TCP6 names.
func parseProxyV1Addr(b []byte, want4 bool) (netip.Addr, error) {
	a, ok := parseIPText(string(b), want4)
	if !ok {
		return netip.Addr{}, proxyErr("bad version 1 address %q", b)
	}
	return a, nil
}

// parseProxyV1Port parses a version 1 port.
func parseProxyV1Port(b []byte) (uint16, error) {
	p, ok := parsePort(string(b))
	if !ok {
		return 0, proxyErr("bad version 1 port %q", b)
	}
	return p, nil
}

// parseIPText parses an IP address as the PROXY version 1 header and
// XCLIENT write it: IPv4 dotted decimal without leading zeros when want4,
// IPv6 text otherwise; no zone.
func parseIPText(s string, want4 bool) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	return a, err == nil && a.Zone() == "" && a.Is4() == want4
}

// parsePort parses a TCP port as the PROXY version 1 header and XCLIENT
// write it: decimal, 0 to 65535, no leading zero.
func parsePort(s string) (uint16, bool) {
	if len(s) == 0 || len(s) > 5 || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// parseProxyV2 reads the binary header of section 2.2: the 12-octet
// signature, version 2 with the LOCAL or PROXY command, family and
// transport, the length of what follows, the addresses and any TLVs.
func parseProxyV2(r proxyPeeker) (proxyHeader, error) {
	b, err := r.Peek(proxyV2Fixed)
	if err != nil {
		return proxyHeader{}, err
	}
	command, family, transport, size, err := parseProxyV2Fixed(b)
	if err != nil {
		return proxyHeader{}, err
	}
	if b, err = r.Peek(size); err != nil {
		return proxyHeader{}, err
	}
	h := proxyHeader{size: size, version: 2}

	// LOCAL: "the receiver must accept this connection as valid and must
	// use the real connection endpoints and discard the protocol block".
	// UNSPEC family or transport, and datagrams (which SMTP does not
	// use): the section allows falling back to the real endpoints.
	if command == 0 || family == proxyAFUnspec || transport != proxyTransportStream {
		h.local = true
		return h, nil
	}

	if h.src, h.dst, err = parseProxyV2Addrs(b[proxyV2Fixed:], family); err != nil {
		return proxyHeader{}, err
	}
	if err := checkProxyTLVs(b, proxyV2Fixed+proxyV2AddrLen[family]); err != nil {
		return proxyHeader{}, err
	}
	return h, nil
}

// parseProxyV2Fixed checks the fixed part of a version 2 header, b's 16
// octets (section 2.2), and returns its command, family, transport and the
// size of the whole header.
func parseProxyV2Fixed(b []byte) (command, family, transport byte, size int, err error) {
	if !bytes.Equal(b[:12], proxyV2Signature) {
		return 0, 0, 0, 0, proxyErr("bad version 2 signature")
	}
	if b[12]>>4 != 2 {
		return 0, 0, 0, 0, proxyErr("version %d, want 2", b[12]>>4)
	}
	command, family, transport = b[12]&0xf, b[13]>>4, b[13]&0xf
	size = proxyV2Fixed + int(binary.BigEndian.Uint16(b[14:16]))
	if command > 1 {
		return 0, 0, 0, 0, proxyErr("version 2 command %#x is neither LOCAL nor PROXY", command)
	}
	if family > proxyAFUnix || transport > proxyTransportDgram {
		return 0, 0, 0, 0, proxyErr("version 2 family and transport %#02x", b[13])
	}
	if size > proxyV2MaxHeader {
		return 0, 0, 0, 0, proxyErr("version 2 header of %d octets, more than %d", size, proxyV2MaxHeader)
	}
	return command, family, transport, size, nil
}

// parseProxyV2Addrs reads the address block that starts block, for the
// family AF_INET, AF_INET6 or AF_UNIX (section 2.2).
func parseProxyV2Addrs(block []byte, family byte) (src, dst net.Addr, err error) {
	addrLen := proxyV2AddrLen[family]
	if len(block) < addrLen {
		return nil, nil, proxyErr("version 2 address block of %d octets, want %d", len(block), addrLen)
	}
	switch family {
	case proxyAFInet, proxyAFInet6:
		n := (addrLen - 4) / 2
		srcIP, _ := netip.AddrFromSlice(block[:n])
		dstIP, _ := netip.AddrFromSlice(block[n : 2*n])
		ports := block[2*n:]
		src = net.TCPAddrFromAddrPort(netip.AddrPortFrom(srcIP, binary.BigEndian.Uint16(ports)))
		dst = net.TCPAddrFromAddrPort(netip.AddrPortFrom(dstIP, binary.BigEndian.Uint16(ports[2:])))
	case proxyAFUnix:
		src = &net.UnixAddr{Name: unixPath(block[:108]), Net: "unix"}
		dst = &net.UnixAddr{Name: unixPath(block[108:216]), Net: "unix"}
	}
	return src, dst, nil
}

// unixPath returns the path in a sun_path field: up to the first NUL, or
// "@" and the rest for a Linux abstract socket (leading NUL).
func unixPath(b []byte) string {
	abstract := b[0] == 0
	if abstract {
		b = b[1:]
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if abstract && len(b) > 0 {
		return "@" + string(b)
	}
	return string(b)
}

// checkProxyTLVs walks the TLVs after the address block (section 2.2:
// type, 16-bit length, value) and, when a PP2_TYPE_CRC32C is present,
// verifies the header's checksum as section 2.2.3 requires: CRC32c (RFC
// 4960 appendix B) over the whole header with the checksum's value
// zeroed. Other TLVs are skipped.
func checkProxyTLVs(hdr []byte, off int) error {
	for off < len(hdr) {
		if len(hdr)-off < 3 {
			return proxyErr("truncated version 2 TLV")
		}
		typ, n := hdr[off], int(binary.BigEndian.Uint16(hdr[off+1:off+3]))
		val := off + 3
		if len(hdr)-val < n {
			return proxyErr("version 2 TLV %#02x runs past the header", typ)
		}
		if typ == proxyTLVCRC32C {
			if n != 4 {
				return proxyErr("version 2 CRC32c TLV of %d octets", n)
			}
			want := binary.BigEndian.Uint32(hdr[val:])
			castagnoli := crc32.MakeTable(crc32.Castagnoli) // built on first use
			sum := crc32.Update(0, castagnoli, hdr[:val])
			sum = crc32.Update(sum, castagnoli, []byte{0, 0, 0, 0})
			sum = crc32.Update(sum, castagnoli, hdr[val+4:])
			if sum != want {
				return proxyErr("version 2 CRC32c mismatch")
			}
		}
		off = val + n
	}
	return nil
}
