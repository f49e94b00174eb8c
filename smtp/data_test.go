package smtp

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// srvGreeted dials, reads the greeting and sends EHLO.
func srvGreeted(t *testing.T, addr string) *srvClient {
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	return c
}

// srvEnvelope opens a transaction with one recipient.
func (c *srvClient) envelope() {
	c.t.Helper()
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("RCPT TO:<b@example.org>", "250 ")
}

// Bodies as sent on the wire (after 354, up to and including the final
// dot) and as the session must see them (RFC 5321 section 4.5.2).
func TestDataTransparency(t *testing.T) {
	tests := []struct{ name, wire, want string }{
		{"empty", ".\r\n", ""},
		{"one line", "a\r\n.\r\n", "a\r\n"},
		{"stuffed dot", "..\r\n.\r\n", ".\r\n"},
		{"stuffed dots", "...x\r\n..\r\n.\r\n", "..x\r\n.\r\n"},
		{"dot inside", "a.b\r\n.c\r\n.\r\n", "a.b\r\nc\r\n"},
		{"empty lines", "\r\n\r\n.\r\n", "\r\n\r\n"},
		{"8bit", "caf\xc3\xa9\r\n.\r\n", "caf\xc3\xa9\r\n"},
		{"long line", strings.Repeat("x", 5000) + "\r\n.\r\n", strings.Repeat("x", 5000) + "\r\n"},
	}
	b := &srvBackend{}
	_, addr := srvStart(t, b, nil)
	c := srvGreeted(t, addr)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.envelope()
			c.cmd("DATA", "354 ")
			c.raw(tt.wire)
			c.expect("250 2.0.0")
			msgs := b.Messages()
			require.Len(t, msgs, i+1)
			assert.Equal(t, tt.want, msgs[i].Body)
		})
	}
}

// A session that returns before the end of the body: the server reads the
// rest itself and stays in step.
func TestDataSessionReturnsEarly(t *testing.T) {
	b := &srvBackend{earlyStop: true}
	_, addr := srvStart(t, b, nil)
	c := srvGreeted(t, addr)
	c.envelope()
	c.cmd("DATA", "354 ")
	c.send("0123456789abcdef", "QUIT", "more", ".")
	c.expect("250 2.0.0")
	c.cmd("NOOP", "250 2.0.0")
	require.Len(t, b.Messages(), 1)
	assert.Equal(t, "0123456789", b.Messages()[0].Body)

	// The same with BDAT over several chunks.
	c.envelope()
	c.raw("BDAT 12\r\n0123456789ab")
	c.expect("250 2.0.0")
	c.raw("BDAT 6\r\nQUIT\r\n")
	c.expect("250 2.0.0")
	c.raw("BDAT 3 LAST\r\nend")
	c.expect("250 2.0.0")
	c.cmd("NOOP", "250 2.0.0")
	require.Len(t, b.Messages(), 2)
}

func TestDataAllowBareLineEndings(t *testing.T) {
	b := &srvBackend{}
	_, addr := srvStart(t, b, func(s *Server) { s.AllowBareLineEndings = true })
	c := srvGreeted(t, addr)
	c.envelope()
	c.cmd("DATA", "354 ")
	// "\n.\n" and ".\n" end nothing: only CRLF.CRLF does.
	c.raw("a\nb\rc\n.\n\r\n.x\r\n.\r\n")
	c.expect("250 2.0.0")
	require.Len(t, b.Messages(), 1)
	assert.Equal(t, "a\nb\rc\n.\n\r\nx\r\n", b.Messages()[0].Body)
	c.raw("NOOP\n")
	c.expect("250 2.0.0")
}

func TestDataMaxBodyLineLength(t *testing.T) {
	b := &srvBackend{}
	_, addr := srvStart(t, b, func(s *Server) { s.MaxBodyLineLength = 998 })
	c := srvGreeted(t, addr)
	c.envelope()
	c.cmd("DATA", "354 ")
	c.send(strings.Repeat("x", 998), ".")
	c.expect("250 2.0.0")
	c.envelope()
	c.cmd("DATA", "354 ")
	c.send(strings.Repeat("x", 999), "QUIT", ".")
	c.expect("500 5.5.6")
	c.cmd("NOOP", "250 2.0.0")
	require.Len(t, b.Messages(), 1)
}

// BODY=BINARYMIME needs BDAT (RFC 3030 section 3).
func TestBinaryMIMERequiresBDAT(t *testing.T) {
	b := &srvBackend{}
	_, addr := srvStart(t, b, func(s *Server) { s.EnableBINARYMIME = true })
	c := srvDial(t, addr)
	c.expect("220 ")
	assert.Contains(t, c.cmd("EHLO client.test", "250 "), "250-BINARYMIME")
	c.cmd("MAIL FROM:<a@example.org> BODY=BINARYMIME", "250 ")
	c.cmd("RCPT TO:<b@example.org>", "250 ")
	c.cmd("DATA", "503 5.5.1")
	c.raw("BDAT 4 LAST\r\n\x00\x01\r\n")
	c.expect("250 2.0.0")
	require.Len(t, b.Messages(), 1)
	assert.Equal(t, BodyBinaryMIME, b.Messages()[0].Opts.Body)
	assert.Equal(t, "\x00\x01\r\n", b.Messages()[0].Body)
}

// LMTP with BDAT: one reply per recipient after the LAST chunk.
func TestLMTPWithBDAT(t *testing.T) {
	b := &srvBackend{lmtp: true}
	_, addr := srvStart(t, b, func(s *Server) { s.LMTP = true })
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("LHLO client.test", "250 ")
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("RCPT TO:<lmtpfail@example.org>", "250 ")
	c.cmd("RCPT TO:<ok@example.org>", "250 ")
	c.raw("BDAT 2\r\nab")
	c.expect("250 2.0.0")
	c.raw("BDAT 2 LAST\r\ncd")
	c.expect("550 5.2.1")
	c.expect("250 2.0.0")
	require.Len(t, b.Messages(), 1)
	assert.Equal(t, "abcd", b.Messages()[0].Body)
}

// A broken body in LMTP fails every recipient.
func TestLMTPBrokenBody(t *testing.T) {
	b := &srvBackend{lmtp: true}
	_, addr := srvStart(t, b, func(s *Server) { s.LMTP = true })
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("LHLO client.test", "250 ")
	c.envelope()
	c.cmd("RCPT TO:<c@example.org>", "250 ")
	c.cmd("DATA", "354")
	c.raw("bare\nLF\r\n.\r\n")
	c.expect("550 5.5.2")
	c.expect("550 5.5.2")
	c.cmd("NOOP", "250")
	require.Empty(t, b.Messages())
}

// MAIL parameters reach the session typed, when their extension is on.
func TestMailParameters(t *testing.T) {
	b := &srvBackend{auth: true}
	_, addr := srvStart(t, b, func(s *Server) {
		s.EnableDSN, s.EnableMTPriority, s.EnableDeliverBy = true, true, true
		s.EnableBINARYMIME, s.AllowInsecureAuth = true, true
		s.MaxMessageBytes = 1 << 20
	})
	c := srvGreeted(t, addr)
	prio := 3
	user := "user@example.org"
	empty := ""
	tests := []struct {
		line  string
		reply string
		want  MailOptions
	}{
		{"MAIL FROM:<a@example.org> SIZE=1000 BODY=8BITMIME", "250", MailOptions{Size: 1000, Body: Body8BitMIME}},
		{"MAIL FROM:<a@example.org> body=7bit", "250", MailOptions{Body: Body7Bit}},
		{"MAIL FROM:<a@example.org> BODY=BINARYMIME", "250", MailOptions{Body: BodyBinaryMIME}},
		{"MAIL FROM:<a@example.org> BODY=9BIT", "501 5.5.4", MailOptions{}},
		{"MAIL FROM:<a@example.org> SIZE=-1", "501 5.5.4", MailOptions{}},
		{"MAIL FROM:<a@example.org> SIZE=2000000", "552 5.3.4", MailOptions{}},
		{"MAIL FROM:<a@example.org> SIZE=99999999999999999999", "552 5.3.4", MailOptions{}}, // 1*20DIGIT, RFC 1870 section 6
		{"MAIL FROM:<a@example.org> SIZE=+5", "501 5.5.4", MailOptions{}},
		{"MAIL FROM:<a@example.org> SMTPUTF8", "250", MailOptions{UTF8: true}},
		{"MAIL FROM:<a@example.org> SMTPUTF8=yes", "501 5.5.4", MailOptions{}},
		{"MAIL FROM:<a@example.org> RET=FULL ENVID=abc+2Bdef", "250", MailOptions{Return: DSNReturnFull, EnvelopeID: "abc+def"}},
		{"MAIL FROM:<a@example.org> AUTH=user+40example.org", "250", MailOptions{Auth: &user}},
		{"MAIL FROM:<a@example.org> AUTH=<>", "250", MailOptions{Auth: &empty}},
		{"MAIL FROM:<a@example.org> MT-PRIORITY=3", "250", MailOptions{MTPriority: &prio}},
		{"MAIL FROM:<a@example.org> MT-PRIORITY=10", "501 5.5.4", MailOptions{}},
		{"MAIL FROM:<a@example.org> MT-PRIORITY=03", "501 5.5.4", MailOptions{}}, // one DIGIT, RFC 6710 section 3
		{"MAIL FROM:<a@example.org> MT-PRIORITY=+3", "250", MailOptions{MTPriority: &prio}},
		{"MAIL FROM:<a@example.org> BY=+120;R", "250", MailOptions{DeliverBy: &DeliverByOptions{Time: 120 * time.Second, Mode: DeliverByReturn}}},
		{"MAIL FROM:<a@example.org> BY=1000000000;R", "501 5.5.4", MailOptions{}}, // 1*9DIGIT, RFC 2852 section 4
		{"MAIL FROM:<a@example.org> BY=120;R", "250", MailOptions{DeliverBy: &DeliverByOptions{Time: 120 * time.Second, Mode: DeliverByReturn}}},
		{"MAIL FROM:<a@example.org> BY=-10;NT", "250", MailOptions{DeliverBy: &DeliverByOptions{Time: -10 * time.Second, Mode: DeliverByNotify, Trace: true}}},
		{"MAIL FROM:<a@example.org> BY=0;R", "501 5.5.4", MailOptions{}},
		{"MAIL FROM:<a@example.org> BY=1_0;N", "501 5.5.4", MailOptions{}},
		{"MAIL FROM:<a@example.org> BY=+-5;N", "501 5.5.4", MailOptions{}},
		{"MAIL FROM:<a@example.org> BY=1a;N", "501 5.5.4", MailOptions{}},
		{"MAIL FROM:<a@example.org> REQUIRETLS", "555 5.5.4", MailOptions{}},
		{"MAIL FROM:<a@example.org> HOLDFOR=10", "555 5.5.4", MailOptions{}},
		{"MAIL FROM:<a@example.org> X-UNKNOWN", "555 5.5.4", MailOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			c.t = t
			c.cmd(tt.line, tt.reply)
			if tt.reply != "250" {
				return
			}
			c.cmd("RCPT TO:<b@example.org>", "250")
			c.raw("BDAT 1 LAST\r\nx")
			c.expect("250")
			msgs := b.Messages()
			tt.want.FromALabels = "a@example.org"
			assert.Equal(t, tt.want, msgs[len(msgs)-1].Opts)
		})
	}
}

func TestRcptParameters(t *testing.T) {
	b := &srvBackend{}
	_, addr := srvStart(t, b, func(s *Server) { s.EnableDSN = true })
	c := srvGreeted(t, addr)
	c.cmd("MAIL FROM:<a@example.org>", "250")
	c.cmd("RCPT TO:<b@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;b+2Bx@example.org", "250")
	c.cmd("RCPT TO:<c@example.org> NOTIFY=NEVER", "250")
	c.cmd("RCPT TO:<d@example.org> NOTIFY=SUCCESS,SUCCESS", "501 5.5.4")
	c.cmd("RCPT TO:<d@example.org> NOTIFY=SOMETIMES", "501 5.5.4")
	c.cmd("RCPT TO:<d@example.org> ORCPT=x400;foo", "501 5.5.4")
	c.cmd("RCPT TO:<d@example.org> SIZE=10", "555 5.5.4")
	c.cmd("DATA", "354")
	c.send("x", ".")
	c.expect("250")
	m := b.Messages()[0]
	require.Len(t, m.RcptOpts, 2)
	assert.Equal(t, RcptOptions{Notify: []DSNNotify{DSNNotifySuccess, DSNNotifyDelayed}, OriginalRecipientType: DSNAddressTypeRFC822, OriginalRecipient: "b+x@example.org", ToALabels: "b@example.org"}, m.RcptOpts[0])
	assert.Equal(t, []DSNNotify{DSNNotifyNever}, m.RcptOpts[1].Notify)
}

// MAIL may be longer than 512 octets by what the advertised extensions
// add (AUTH= adds 500, RFC 4954 section 3); other commands may not.
func TestLineLimitsFollowExtensions(t *testing.T) {
	b := &srvBackend{auth: true}
	_, addr := srvStart(t, b, func(s *Server) { s.AllowInsecureAuth = true })
	long := "MAIL FROM:<a@example.org> AUTH=" + strings.Repeat("u", 560) + "@example.org"
	require.Greater(t, len(long)+2, 512)
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("HELO client.test", "250 ")
	c.cmd(long, "500 5.5.6") // after HELO nothing extends the line
	c.cmd("EHLO client.test", "250 ")
	c.cmd(long, "250 ")
	c.cmd("NOOP "+strings.Repeat("n", 520), "500 5.5.6")
	c.cmd("RSET", "250")
}

// After an accepted message the error count starts again.
func TestMaxErrorsCountsUntilSuccess(t *testing.T) {
	_, addr := srvStart(t, &srvBackend{}, func(s *Server) { s.MaxErrors = 3 })
	c := srvGreeted(t, addr)
	c.cmd("FOO", "500")
	c.cmd("BAR", "500")
	c.envelope()
	c.cmd("DATA", "354")
	c.send("x", ".")
	c.expect("250")
	c.cmd("FOO", "500")
	c.cmd("BAR", "500")
	c.cmd("NOOP", "250")
	c.cmd("BAZ", "500")
	c.expect("421 4.7.0")
	c.expectClosed()
}

// A command line that never ends is read and thrown away up to 1 MiB, then
// the connection is closed; it is never held in memory whole.
func TestEndlessLineCloses(t *testing.T) {
	_, addr := srvStart(t, &srvBackend{}, nil)
	c := srvGreeted(t, addr)
	go func() {
		chunk := []byte(strings.Repeat("z", 64<<10))
		for range 40 {
			if _, err := c.nc.Write(chunk); err != nil {
				return
			}
		}
	}()
	c.expect("500 5.5.6")
	c.expectClosed()
}
