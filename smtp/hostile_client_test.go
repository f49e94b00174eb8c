package smtp

import (
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The families of hostile client input, each answered as the RFCs ask and
// with the session in step (or closed where the limits say). The
// transcripts cover single cases; these tests, with smuggling_test.go,
// send each variant as a real attack.

// Framing: a line of a megabyte without CRLF is refused and then the
// connection is cut; NUL and 8-bit octets in commands, and bare CR or LF
// line ends, are 500 and the session goes on.
func TestHostileFraming(t *testing.T) {
	_, addr := srvStart(t, &srvBackend{}, nil)

	c := srvGreeted(t, addr)
	c.raw(strings.Repeat("x", 2<<20))
	c.expect("500 5.5.6")
	c.expectClosed()

	c = srvGreeted(t, addr)
	for _, line := range []string{"NO\x00OP", "MAIL FROM:<a\x00b@example.org>", "VRFY \x01", "\xff\xfe NOOP"} {
		c.raw(line + "\r\n")
		c.expect("50")
	}
	c.raw("NOOP\n")
	c.expect("500 5.5.2")
	c.raw("NOOP\rNOOP\r\n")
	c.expect("500 ")
	c.cmd("NOOP", "250 2.0.0")
	c.envelope()
	c.cmd("DATA", "354 ")
	c.raw("8-bit \xe9\xff text\r\n.\r\n")
	c.expect("250 2.0.0")
}

// A connection that breaks mid-command or mid-body delivers nothing: a
// reset (RST), a half-close (FIN with the server still writing), in
// DATA and in BDAT.
func TestBrokenConnectionsDeliverNothing(t *testing.T) {
	b := &srvBackend{}
	_, addr := srvStart(t, b, nil)
	for _, tc := range []struct {
		name, sent string
		reset      bool
	}{
		{"reset mid-command", "MAIL FROM:<a@exa", true},
		{"half-close mid-command", "MAIL FROM:<a@exa", false},
		{"reset mid-DATA", "DATA\r\nSubject: cut\r\n\r\nhalf a body", true},
		{"half-close mid-DATA", "DATA\r\nSubject: cut\r\n\r\nhalf a body\r\n", false},
		{"half-close before the dot", "DATA\r\nSubject: cut\r\n\r\nbody\r\n", false},
		{"half-close mid-BDAT", "BDAT 100 LAST\r\nonly this", false},
		{"reset mid-BDAT", "BDAT 100 LAST\r\nonly this", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := srvGreeted(t, addr)
			if strings.HasPrefix(tc.sent, "DATA") || strings.HasPrefix(tc.sent, "BDAT") {
				c.envelope()
			}
			c.raw(tc.sent)
			tcp := c.nc.(*net.TCPConn)
			if tc.reset {
				tcp.SetLinger(0)
				tcp.Close()
			} else {
				tcp.CloseWrite()
				tcp.SetReadDeadline(time.Now().Add(5 * time.Second))
				var buf [512]byte
				for { // the server ends its side too
					if _, err := tcp.Read(buf[:]); err != nil {
						break
					}
				}
			}
		})
	}
	// A new connection is served after them all, and nothing was
	// delivered.
	c := srvGreeted(t, addr)
	c.cmd("QUIT", "221 ")
	assert.Empty(t, b.Messages())
}

// AUTH edge cases (RFC 4954): a response of 12,288 octets is taken, one
// longer refused; bad base64 padding and PLAIN without its NULs are 501;
// no password reaches the log; the session stays in step throughout.
func TestHostileClientAuth(t *testing.T) {
	log := &lockedBuffer{}
	b := &srvBackend{auth: true}
	_, addr := srvStart(t, b, func(s *Server) {
		s.AllowInsecureAuth = true
		s.MaxAuthFailures = 20
		s.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	c := srvGreeted(t, addr)

	// 12,288 octets of base64 (9,216 octets decoded): the line is read
	// whole and the mechanism judges it (a refusal, not "too long"); one
	// octet more is "line too long".
	long := srvB64("\x00user\x00" + strings.Repeat("p", 9216-6))
	require.Len(t, long, 12288)
	c.cmd("AUTH PLAIN", "334 ")
	lines := c.cmd(long, "5")
	assert.NotContains(t, lines[0], "5.5.6", "12,288 octets are within RFC 4954's limit")
	c.cmd("AUTH PLAIN", "334 ")
	c.cmd(long+"AAAA", "500 5.5.6")

	c.cmd("AUTH PLAIN AHVzZXIAcGFzcw", "501 5.5.2")          // no padding
	c.cmd("AUTH PLAIN AHVzZXIAcGFzcw===", "501 5.5.2")       // too much
	c.cmd("AUTH PLAIN "+srvB64("userpass-secret"), "501")    // no NUL at all
	c.cmd("AUTH PLAIN "+srvB64("\x00user-pass-secret"), "5") // one NUL
	c.cmd("NOOP", "250 2.0.0")
	c.cmd("AUTH PLAIN "+srvB64("\x00user\x00pass"), "235 2.7.0")
	assert.NotContains(t, log.String(), "pass-secret")
	assert.NotContains(t, log.String(), "ppppppp")
}
