package smtp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// proxyV2 builds a version 2 header: command (0 LOCAL, 1 PROXY), the
// family/transport octet, the address block and TLVs.
func proxyV2(command, famTransport byte, block []byte, tlvs ...[]byte) []byte {
	b := append([]byte(nil), proxyV2Signature...)
	b = append(b, 0x20|command, famTransport, 0, 0)
	b = append(b, block...)
	for _, t := range tlvs {
		b = append(b, t...)
	}
	binary.BigEndian.PutUint16(b[14:], uint16(len(b)-proxyV2Fixed))
	return b
}

// proxyV2Block is the address block for two TCP endpoints of one family.
func proxyV2Block(src, dst netip.AddrPort) []byte {
	b := append(src.Addr().AsSlice(), dst.Addr().AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}

// proxyV2TCP builds a PROXY header for TCP over IPv4 or IPv6.
func proxyV2TCP(src, dst netip.AddrPort, tlvs ...[]byte) []byte {
	fam := byte(0x11)
	if src.Addr().Is6() {
		fam = 0x21
	}
	return proxyV2(1, fam, proxyV2Block(src, dst), tlvs...)
}

func proxyTLV(typ byte, val []byte) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{typ}, uint16(len(val))), val...)
}

// withCRC32C fills in the value of the CRC32c TLV that ends hdr.
func withCRC32C(hdr []byte) []byte {
	sum := crc32.Checksum(hdr, crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(hdr[len(hdr)-4:], sum)
	return hdr
}

func parseProxyBytes(b []byte) (proxyHeader, error) {
	return parseProxyHeader(bufio.NewReaderSize(bytes.NewReader(b), 4096))
}

func TestParseProxyHeaderValid(t *testing.T) {
	v4src, v4dst := netip.MustParseAddrPort("192.0.2.7:51234"), netip.MustParseAddrPort("198.51.100.1:25")
	v6src, v6dst := netip.MustParseAddrPort("[2001:db8::7]:40000"), netip.MustParseAddrPort("[2001:db8::1]:587")
	unix := make([]byte, 216)
	copy(unix, "/run/client.sock")
	copy(unix[108:], "\x00abstract")
	for _, tc := range []struct {
		name     string
		in       string
		version  int
		local    bool
		src, dst string
	}{
		{"v1 TCP4", "PROXY TCP4 192.0.2.7 198.51.100.1 51234 25\r\n", 1, false, "192.0.2.7:51234", "198.51.100.1:25"},
		{"v1 TCP6", "PROXY TCP6 2001:db8::7 2001:db8::1 40000 587\r\n", 1, false, "[2001:db8::7]:40000", "[2001:db8::1]:587"},
		{"v1 TCP6 mapped", "PROXY TCP6 ::ffff:192.0.2.7 ::1 1 2\r\n", 1, false, "192.0.2.7:1", "[::1]:2"},
		{"v1 ports 0 and 65535", "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", 1, false, "0.0.0.0:0", "255.255.255.255:65535"},
		{"v1 UNKNOWN short", "PROXY UNKNOWN\r\n", 1, true, "", ""},
		{"v1 UNKNOWN long", "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n", 1, true, "", ""},
		{"v2 TCP4", string(proxyV2TCP(v4src, v4dst)), 2, false, "192.0.2.7:51234", "198.51.100.1:25"},
		{"v2 TCP6", string(proxyV2TCP(v6src, v6dst)), 2, false, "[2001:db8::7]:40000", "[2001:db8::1]:587"},
		{"v2 LOCAL empty", string(proxyV2(0, 0, nil)), 2, true, "", ""},
		{"v2 LOCAL with an address block", string(proxyV2(0, 0x11, proxyV2Block(v4src, v4dst))), 2, true, "", ""},
		{"v2 PROXY UNSPEC", string(proxyV2(1, 0x00, []byte("ignored"))), 2, true, "", ""},
		{"v2 UDP falls back", string(proxyV2(1, 0x12, proxyV2Block(v4src, v4dst))), 2, true, "", ""},
		{"v2 UNIX", string(proxyV2(1, 0x31, unix)), 2, false, "/run/client.sock", "@abstract"},
		{"v2 TLVs skipped", string(proxyV2TCP(v4src, v4dst, proxyTLV(0x02, []byte("mx.example")), proxyTLV(0x04, nil), proxyTLV(0x20, make([]byte, 40)))), 2, false, "192.0.2.7:51234", "198.51.100.1:25"},
		{"v2 CRC32c", string(withCRC32C(proxyV2TCP(v6src, v6dst, proxyTLV(0x05, []byte("id-1")), proxyTLV(0x03, make([]byte, 4))))), 2, false, "[2001:db8::7]:40000", "[2001:db8::1]:587"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const after = "EHLO x\r\n"
			r := bufio.NewReaderSize(strings.NewReader(tc.in+after), 4096)
			h, err := parseProxyHeader(r)
			require.NoError(t, err)
			assert.Equal(t, tc.version, h.version)
			assert.Equal(t, len(tc.in), h.size)
			assert.Equal(t, tc.local, h.local)
			if !tc.local {
				assert.Equal(t, tc.src, h.src.String())
				assert.Equal(t, tc.dst, h.dst.String())
			}
			// What follows the header is still there.
			_, err = r.Discard(h.size)
			require.NoError(t, err)
			rest, _ := io.ReadAll(r)
			assert.Equal(t, after, string(rest))
		})
	}
}

func TestParseProxyHeaderInvalid(t *testing.T) {
	v4 := proxyV2TCP(netip.MustParseAddrPort("192.0.2.7:1"), netip.MustParseAddrPort("192.0.2.8:2"))
	mutate := func(f func(b []byte) []byte) string { return string(f(append([]byte(nil), v4...))) }
	badCRC := withCRC32C(proxyV2TCP(netip.MustParseAddrPort("192.0.2.7:1"), netip.MustParseAddrPort("192.0.2.8:2"), proxyTLV(0x03, make([]byte, 4))))
	badCRC[20] ^= 1
	for _, tc := range []struct{ name, in string }{
		{"SMTP instead", "EHLO client.example\r\n"},
		{"lower case", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"},
		{"v1 no space", "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n"},
		{"v1 bare LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"},
		{"v1 bare CR inside", "PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n"},
		{"v1 too long", "PROXY UNKNOWN " + strings.Repeat("x", 93) + "\r\n"},
		{"v1 no CRLF in 107", "PROXY TCP4 " + strings.Repeat("1", 200)},
		{"v1 TCP5", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"},
		{"v1 family mismatch", "PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n"},
		{"v1 family mismatch 6", "PROXY TCP6 1.2.3.4 ::1 1 2\r\n"},
		{"v1 leading zero address", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"},
		{"v1 zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"},
		{"v1 leading zero port", "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"},
		{"v1 port too big", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"},
		{"v1 signed port", "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"},
		{"v1 too few fields", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"},
		{"v1 too many fields", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"},
		{"v1 double space", "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"},
		{"v1 trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"},
		{"v1 UNKNOWNX", "PROXY UNKNOWNX\r\n"},
		{"v2 bad signature", mutate(func(b []byte) []byte { b[7] = 'q'; return b })},
		{"v2 version 1", mutate(func(b []byte) []byte { b[12] = 0x11; return b })},
		{"v2 command 2", mutate(func(b []byte) []byte { b[12] = 0x22; return b })},
		{"v2 family 4", mutate(func(b []byte) []byte { b[13] = 0x41; return b })},
		{"v2 transport 3", mutate(func(b []byte) []byte { b[13] = 0x13; return b })},
		{"v2 short address block", string(proxyV2(1, 0x21, make([]byte, 12)))},
		{"v2 oversize", mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint16(b[14:], 5000)
			return append(b, make([]byte, 5000)...)
		})},
		{"v2 truncated TLV", string(proxyV2TCP(netip.MustParseAddrPort("192.0.2.7:1"), netip.MustParseAddrPort("192.0.2.8:2"), []byte{0x04, 0}))},
		{"v2 TLV past the end", string(proxyV2TCP(netip.MustParseAddrPort("192.0.2.7:1"), netip.MustParseAddrPort("192.0.2.8:2"), []byte{0x04, 0, 9, 1}))},
		{"v2 CRC32c wrong", string(badCRC)},
		{"v2 CRC32c short", string(proxyV2TCP(netip.MustParseAddrPort("192.0.2.7:1"), netip.MustParseAddrPort("192.0.2.8:2"), proxyTLV(0x03, []byte{1, 2})))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseProxyBytes([]byte(tc.in))
			require.ErrorIs(t, err, ErrProxyHeader)
		})
	}
}

// A header cut short is an I/O error (the connection ends or the header
// timeout strikes), not a header of another shape.
func TestParseProxyHeaderTruncated(t *testing.T) {
	full := []string{
		"PROXY TCP4 192.0.2.7 198.51.100.1 51234 25\r\n",
		string(proxyV2TCP(netip.MustParseAddrPort("[2001:db8::7]:1"), netip.MustParseAddrPort("[2001:db8::1]:2"))),
	}
	for _, f := range full {
		for n := 0; n < len(f); n++ {
			_, err := parseProxyBytes([]byte(f[:n]))
			require.ErrorIs(t, err, io.EOF, "%q", f[:n])
		}
	}
}

// exactPeeker, used ahead of implicit TLS, must leave every octet after
// the header unread.
func TestExactPeekerReadsNoFurther(t *testing.T) {
	for _, hdr := range []string{
		"PROXY TCP6 2001:db8::7 2001:db8::1 40000 587\r\n",
		"PROXY UNKNOWN\r\n",
		string(proxyV2TCP(netip.MustParseAddrPort("192.0.2.7:1"), netip.MustParseAddrPort("192.0.2.8:2"), proxyTLV(0x04, []byte("pad")))),
	} {
		r := strings.NewReader(hdr + "\x16\x03\x01 a TLS ClientHello")
		h, err := parseProxyHeader(&exactPeeker{r: r})
		require.NoError(t, err)
		assert.Equal(t, len(hdr), h.size)
		rest, _ := io.ReadAll(r)
		assert.Equal(t, "\x16\x03\x01 a TLS ClientHello", string(rest))
	}
}

func TestAddrInPrefixes(t *testing.T) {
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	tcp := func(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	assert.True(t, addrInPrefixes(tcp("10.1.2.3:5"), lb, false))
	assert.True(t, addrInPrefixes(tcp("[::ffff:10.1.2.3]:5"), lb, false), "IPv4-mapped")
	assert.True(t, addrInPrefixes(tcp("[2001:db8::5]:5"), lb, false))
	assert.False(t, addrInPrefixes(tcp("11.1.2.3:5"), lb, false))
	assert.False(t, addrInPrefixes(&net.UnixAddr{Name: "/s", Net: "unix"}, lb, true))
	assert.True(t, addrInPrefixes(tcp("11.1.2.3:5"), nil, true))
	assert.False(t, addrInPrefixes(tcp("11.1.2.3:5"), nil, false))
}

// FuzzProxyHeader feeds arbitrary octets to the parser: it must not panic,
// must never claim more octets than it was given nor more than the
// bounds, and what it accepts must parse the same once re-encoded.
func FuzzProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.7 198.51.100.1 51234 25\r\nEHLO x\r\n"))
	f.Add([]byte("PROXY TCP6 2001:db8::7 2001:db8::1 40000 587\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(proxyV2TCP(netip.MustParseAddrPort("192.0.2.7:1"), netip.MustParseAddrPort("192.0.2.8:2")))
	f.Add(withCRC32C(proxyV2TCP(netip.MustParseAddrPort("[::1]:1"), netip.MustParseAddrPort("[::2]:2"), proxyTLV(0x03, make([]byte, 4)))))
	f.Add(proxyV2(0, 0, nil))
	f.Add(proxyV2(1, 0x31, make([]byte, 216)))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseProxyBytes(data)
		if err != nil {
			return
		}
		require.LessOrEqual(t, h.size, len(data))
		switch h.version {
		case 1:
			require.LessOrEqual(t, h.size, proxyV1MaxLine)
		case 2:
			require.LessOrEqual(t, h.size, proxyV2MaxHeader)
		default:
			t.Fatalf("version %d", h.version)
		}
		if h.local {
			return
		}
		src, ok1 := h.src.(*net.TCPAddr)
		dst, ok2 := h.dst.(*net.TCPAddr)
		if !ok1 || !ok2 {
			return // AF_UNIX
		}
		again, err := parseProxyBytes(proxyV2TCP(src.AddrPort(), dst.AddrPort()))
		require.NoError(t, err)
		require.Equal(t, h.src, again.src)
		require.Equal(t, h.dst, again.dst)
	})
}

// BenchmarkProxyHeader measures parsing one header from a buffered reader,
// as a proxied connection does before its greeting.
func BenchmarkProxyHeader(b *testing.B) {
	for _, tc := range []struct{ name, hdr string }{
		{"v1", "PROXY TCP4 192.0.2.7 198.51.100.1 51234 25\r\n"},
		{"v2", string(proxyV2TCP(netip.MustParseAddrPort("192.0.2.7:51234"), netip.MustParseAddrPort("198.51.100.1:25")))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			src := strings.NewReader(tc.hdr)
			r := bufio.NewReaderSize(src, 4096)
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(tc.hdr)
				r.Reset(src)
				if _, err := parseProxyHeader(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
