package dotstuff

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The sequences of SMTP smuggling (CVE-2023-51764, CVE-2023-51765,
// CVE-2023-51766): each ends a body for some receiver, and must not end it
// here. Only CRLF.CRLF does.
var smuggling = []struct {
	seq string
	// loose is what AllowBareLineEndings delivers for "A" + seq + "B\r\n"
	// followed by the real terminator: the lines split at CRLF only, and
	// a leading dot dropped from each.
	loose string
	// clean is set when the sequence has no bare CR or LF, so that strict
	// mode delivers loose too.
	clean bool
}{
	{seq: "\n.\n", loose: "A\n.\nB\r\n"},
	{seq: "\n.\r\n", loose: "A\n.\r\nB\r\n"},
	{seq: "\r\n.\n", loose: "A\r\n\nB\r\n"},
	{seq: "\r.\r", loose: "A\r.\rB\r\n"},
	{seq: "\r.\n", loose: "A\r.\nB\r\n"},
	{seq: "\n.\r", loose: "A\n.\rB\r\n"},
	{seq: "\r.\r\n", loose: "A\r.\r\nB\r\n"},
	{seq: "\r\n.\r", loose: "A\r\n\rB\r\n"},
	{seq: "\r\r\n.\r\r\n", loose: "A\r\r\n\r\r\nB\r\n"},
	{seq: "\r\n\x00.\r\n", loose: "A\r\n\x00.\r\nB\r\n", clean: true},
	{seq: "\r\n.\x00\r\n", loose: "A\r\n\x00\r\nB\r\n", clean: true},
}

const smuggled = "MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\n"

func TestSmugglingSequenceDoesNotEndBody(t *testing.T) {
	for _, sm := range smuggling {
		input := "A" + sm.seq + "B\r\n.\r\nNOOP\r\n"
		for _, s := range setups {
			t.Run(q(sm.seq)+"/"+s.name+"/allow", func(t *testing.T) {
				got := decodeWith(t, s, []byte(input), true, 0)
				assert.NoError(t, got.err)
				assert.Equal(t, sm.loose, got.body)
				assert.NoError(t, got.drainErr)
				assert.Equal(t, "NOOP\r\n", got.rest)
			})
			t.Run(q(sm.seq)+"/"+s.name+"/strict", func(t *testing.T) {
				got := decodeWith(t, s, []byte(input), false, 0)
				if sm.clean {
					assert.NoError(t, got.err)
					assert.Equal(t, sm.loose, got.body)
				} else {
					assert.ErrorIs(t, got.err, ErrBareLineEnding)
					assert.NotContains(t, got.body, "B", "delivered past the sequence")
				}
				assert.Equal(t, got.err, got.drainErr, "Drain returns the first error")
				assert.Equal(t, "NOOP\r\n", got.rest, "Drain stops at the real terminator")
			})
		}
	}
}

// TestSmugglingAttack puts a whole smuggled transaction after each
// sequence, at the start of the body and in the middle, and checks that the
// smuggled commands stay inside the body.
func TestSmugglingAttack(t *testing.T) {
	for _, sm := range smuggling {
		for _, prefix := range []string{"", "Subject: x\r\n\r\nHello", "line one\r\n"} {
			input := prefix + sm.seq + smuggled + "smuggled body\r\n.\r\nQUIT\r\n"
			for _, allow := range []bool{false, true} {
				for _, s := range setups {
					name := q(sm.seq) + "/" + q(prefix) + "/" + s.name
					if allow {
						name += "/allow"
					}
					t.Run(name, func(t *testing.T) {
						got := decodeWith(t, s, []byte(input), allow, 0)
						if got.err == nil {
							// The body ran to the real terminator.
							assert.Contains(t, got.body, "smuggled body\r\n")
							assert.True(t, strings.HasSuffix(got.body, "smuggled body\r\n"))
						} else {
							assert.ErrorIs(t, got.err, ErrBareLineEnding)
							assert.False(t, allow, "allow mode failed")
						}
						assert.Equal(t, got.err, got.drainErr)
						assert.Equal(t, "QUIT\r\n", got.rest)
						want := refDecode([]byte(input), allow, 0)
						assert.Equal(t, len(input)-len("QUIT\r\n"), want.consumed, "model disagrees")
					})
				}
			}
		}
	}
}

// q names a subtest after a string with its control octets spelt out.
func q(s string) string {
	r := strings.NewReplacer("\r", "CR", "\n", "LF", "\x00", "NUL", " ", "_")
	if s == "" {
		return "empty"
	}
	return r.Replace(s)
}
