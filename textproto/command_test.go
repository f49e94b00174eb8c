package textproto

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line    string
		verb    Verb
		name    string
		args    string
		nilArgs bool
	}{
		{"NOOP", VerbNOOP, "NOOP", "", true},
		{"noop", VerbNOOP, "noop", "", true},
		{"NoOp ", VerbNOOP, "NoOp", "", true},
		{"QUIT   ", VerbQUIT, "QUIT", "", true},
		{"DATA", VerbDATA, "DATA", "", true},
		{"RSET", VerbRSET, "RSET", "", true},
		{"HELO client.example", VerbHELO, "HELO", "client.example", false},
		{"ehlo client.example", VerbEHLO, "ehlo", "client.example", false},
		{"LHLO x", VerbLHLO, "LHLO", "x", false},
		{"MAIL FROM:<a@b.example> SIZE=10", VerbMAIL, "MAIL", "FROM:<a@b.example> SIZE=10", false},
		{"RCPT TO:<a@b.example>  ", VerbRCPT, "RCPT", "TO:<a@b.example>", false},
		{"MAIL  FROM:<>", VerbMAIL, "MAIL", " FROM:<>", false},
		{"BDAT 100 LAST", VerbBDAT, "BDAT", "100 LAST", false},
		{"VRFY user", VerbVRFY, "VRFY", "user", false},
		{"EXPN list", VerbEXPN, "EXPN", "list", false},
		{"HELP", VerbHELP, "HELP", "", true},
		{"StartTLS", VerbSTARTTLS, "StartTLS", "", true},
		{"AUTH PLAIN AGFAAGI=", VerbAUTH, "AUTH", "PLAIN AGFAAGI=", false},
		{"ETRN example.org", VerbETRN, "ETRN", "example.org", false},
		{"TURN", VerbTURN, "TURN", "", true},
		{"ATRN", VerbATRN, "ATRN", "", true},
		{"SEND FROM:<>", VerbSEND, "SEND", "FROM:<>", false},
		{"SOML FROM:<>", VerbSOML, "SOML", "FROM:<>", false},
		{"SAML FROM:<>", VerbSAML, "SAML", "FROM:<>", false},
		{"xclient ADDR=1.2.3.4", VerbXCLIENT, "xclient", "ADDR=1.2.3.4", false},
		{"FOO bar", VerbUnknown, "FOO", "bar", false},
		{"X-PRIVATE", VerbUnknown, "X-PRIVATE", "", true},
		{"STARTTLX", VerbUnknown, "STARTTLX", "", true},
		{"NOO1", VerbUnknown, "NOO1", "", true},
		{"HELO1", VerbUnknown, "HELO1", "", true},
		{"HELO \xc3\xa9", VerbHELO, "HELO", "\xc3\xa9", false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			cmd, err := ParseCommand([]byte(tt.line))
			require.NoError(t, err)
			assert.Equal(t, tt.verb, cmd.Verb)
			assert.Equal(t, tt.name, string(cmd.Name))
			if tt.nilArgs {
				assert.Nil(t, cmd.Args)
			} else {
				assert.Equal(t, tt.args, string(cmd.Args))
			}
		})
	}
}

func TestParseCommandErrors(t *testing.T) {
	for _, line := range []string{
		"", " ", " NOOP", "1NOOP", "-X", "NOOP\t", "HELO\tx", "HELO x\ty",
		"HELO x\r", "HELO \x00", "MAIL:FROM:<>", "NOOP\x7f", "\x00",
		"DATA\r\n", "RCPT TO:<a@b>\n", "QUIT\x1b[0m", "\xc3\xa9",
	} {
		t.Run(line, func(t *testing.T) {
			_, err := ParseCommand([]byte(line))
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, 500, pe.Code)
			assert.Equal(t, EnhancedCode{5, 5, 2}, pe.Enhanced)
			assert.Equal(t, -1, indexControl(pe.Msg), "message must not echo control bytes")
		})
	}
}

func TestVerbString(t *testing.T) {
	for v := VerbUnknown; v <= VerbXCLIENT; v++ {
		name := v.String()
		require.NotEmpty(t, name)
		if v == VerbUnknown {
			assert.Equal(t, "UNKNOWN", name)
			continue
		}
		cmd, err := ParseCommand([]byte(name))
		require.NoError(t, err)
		assert.Equal(t, v, cmd.Verb, "String and the parser must agree on %s", name)
	}
	assert.Equal(t, "UNKNOWN", Verb(200).String())
}

func TestParseCommandZeroAlloc(t *testing.T) {
	for _, line := range []string{"NOOP", "DATA", "QUIT", "RSET", "STARTTLS", "HELP", "noop  "} {
		b := []byte(line)
		var sink Command
		allocs := testing.AllocsPerRun(100, func() {
			sink, _ = ParseCommand(b)
		})
		assert.Zero(t, allocs, "ParseCommand(%q) allocates", line)
		assert.NotEqual(t, VerbUnknown, sink.Verb)
	}
	b := []byte("RCPT TO:<a@b.example>")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _ = ParseCommand(b) }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = VerbSTARTTLS.String() }))
}

func BenchmarkParseCommandNoArgs(b *testing.B) {
	line := []byte("NOOP")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCommand(line); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"NOOP", "MAIL FROM:<a@b>", "RCPT TO:<x@y> NOTIFY=NEVER", "", " ", "HELO\tx", "xclient a=b", "DATA  ", "\xff", "STARTTLS\r"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		cmd, err := ParseCommand(line)
		if err != nil {
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, 500, pe.Code)
			return
		}
		require.NotEmpty(t, cmd.Name)
		require.Equal(t, -1, indexControl(string(line)))
		if cmd.Args != nil {
			require.NotEmpty(t, cmd.Args)
			require.NotEqual(t, byte(' '), cmd.Args[len(cmd.Args)-1])
		}
		if cmd.Verb != VerbUnknown {
			require.Len(t, cmd.Name, len(cmd.Verb.String()))
		}
	})
}
