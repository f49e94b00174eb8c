package smtp

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every ending that some receiver has taken for the end of data (the SMTP
// smuggling family, CVE-2023-51764 and kin) ends nothing here: only
// CRLF.CRLF does. By default the body is refused with 550 5.5.2 after the
// real end and the smuggled commands are never run; with
// AllowBareLineEndings they are part of the one message delivered.
func TestSmugglingVariants(t *testing.T) {
	const smuggled = "MAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nsmuggled\r\n"
	for _, end := range []string{"\n.\n", "\r.\n", "\n.\r\n", "\r\n.\n", "\r\n.\r", "\r.\r", "\n.\r", "\r.\r\n", "\r\n.\r\r\n", "\r\n.\n\r\n"} {
		for _, lenient := range []bool{false, true} {
			name := strings.NewReplacer("\r", "CR", "\n", "LF").Replace(end)
			if lenient {
				name += " lenient"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				b := &srvBackend{}
				_, addr := srvStart(t, b, func(s *Server) { s.AllowBareLineEndings = lenient })
				c := srvDial(t, addr)
				c.expect("220 ")
				c.cmd("EHLO client.test", "250 ")
				c.cmd("MAIL FROM:<a@example.org>", "250 ")
				c.cmd("RCPT TO:<b@example.org>", "250 ")
				c.cmd("DATA", "354 ")
				c.raw("Subject: x\r\n\r\nbody" + end + smuggled + "\r\n.\r\n")
				if lenient {
					c.expect("250 ")
				} else {
					c.expect("550 5.5.2")
				}
				c.cmd("NOOP", "250 ") // the smuggled lines got no replies of their own
				msgs := b.Messages()
				for _, m := range msgs {
					assert.NotEqual(t, "evil@example.net", m.From, "a smuggled transaction ran")
				}
				if !lenient {
					require.Empty(t, msgs)
					return
				}
				require.Len(t, msgs, 1)
				assert.Contains(t, msgs[0].Body, "MAIL FROM:<evil@example.net>")
			})
		}
	}
}
