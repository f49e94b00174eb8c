package extensions

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/internal/ascii"
)

// Real EHLO replies, first line (the greeting) included.
var (
	postfixEHLO = []string{
		"mail.example.com",
		"PIPELINING",
		"SIZE 10240000",
		"VRFY",
		"ETRN",
		"STARTTLS",
		"AUTH PLAIN LOGIN CRAM-MD5",
		"ENHANCEDSTATUSCODES",
		"8BITMIME",
		"DSN",
		"SMTPUTF8",
		"CHUNKING",
	}
	gmailEHLO = []string{
		"smtp.gmail.com at your service, [192.0.2.7]",
		"SIZE 35882577",
		"8BITMIME",
		"AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH",
		"ENHANCEDSTATUSCODES",
		"PIPELINING",
		"CHUNKING",
		"SMTPUTF8",
	}
	exchangeEHLO = []string{
		"mx.example.net Hello [192.0.2.8]",
		"SIZE",
		"PIPELINING",
		"DSN",
		"ENHANCEDSTATUSCODES",
		"AUTH GSSAPI NTLM",
		"AUTH=LOGIN",
		"X-EXPS GSSAPI NTLM",
		"8BITMIME",
		"BINARYMIME",
		"CHUNKING",
		"XEXCH50",
	}
)

func TestParsePostfix(t *testing.T) {
	s, err := Parse(postfixEHLO[1:])
	require.NoError(t, err)
	assert.Equal(t, []string{"PIPELINING", "SIZE", "VRFY", "ETRN", "STARTTLS", "AUTH",
		"ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"}, s.Keywords())
	assert.Equal(t, 11, s.Len())
	n, ok := s.MaxSize()
	assert.True(t, ok)
	assert.Equal(t, int64(10240000), n)
	assert.Equal(t, []string{"PLAIN", "LOGIN", "CRAM-MD5"}, s.AuthMechanisms())
	assert.True(t, s.Has("pipelining"), "case-insensitive")
	assert.True(t, s.Has(Chunking))
	assert.False(t, s.Has(BinaryMIME))
	assert.False(t, s.Has("mail.example.com"), "the greeting is not a keyword")
	p, ok := s.Params("auth")
	assert.True(t, ok)
	assert.Equal(t, "PLAIN LOGIN CRAM-MD5", p)
	p, ok = s.Params(StartTLS)
	assert.True(t, ok)
	assert.Equal(t, "", p)
	_, ok = s.Params(RequireTLS)
	assert.False(t, ok)
}

func TestParseGmail(t *testing.T) {
	s, err := Parse(gmailEHLO[1:])
	require.NoError(t, err)
	n, ok := s.MaxSize()
	assert.True(t, ok)
	assert.Equal(t, int64(35882577), n)
	assert.Equal(t, []string{"LOGIN", "PLAIN", "XOAUTH2", "PLAIN-CLIENTTOKEN", "OAUTHBEARER", "XOAUTH"}, s.AuthMechanisms())
	assert.False(t, s.Has(StartTLS))
	assert.True(t, s.Has(SMTPUTF8))
}

func TestParseExchangeAuthEquals(t *testing.T) {
	s, err := Parse(exchangeEHLO[1:])
	require.NoError(t, err)
	assert.Equal(t, []string{"GSSAPI", "NTLM", "LOGIN"}, s.AuthMechanisms(), "AUTH= folded into AUTH")
	assert.False(t, s.Has("AUTH=LOGIN"))
	assert.True(t, s.Has("X-EXPS"), "unknown keywords kept")
	assert.True(t, s.Has("xexch50"))
	n, ok := s.MaxSize()
	assert.True(t, ok)
	assert.Equal(t, int64(0), n, "SIZE without a number: no fixed limit")
}

func TestParseAuthForms(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		mechs []string
	}{
		{"no AUTH", []string{"PIPELINING"}, nil},
		{"AUTH alone", []string{"AUTH"}, nil},
		{"old form only", []string{"AUTH=PLAIN LOGIN"}, []string{"PLAIN", "LOGIN"}},
		{"old form lower case", []string{"auth=login plain"}, []string{"LOGIN", "PLAIN"}},
		{"old form first", []string{"AUTH=LOGIN", "AUTH PLAIN LOGIN"}, []string{"PLAIN", "LOGIN"}},
		{"both, merged", []string{"AUTH CRAM-MD5", "AUTH=LOGIN PLAIN"}, []string{"CRAM-MD5", "LOGIN", "PLAIN"}},
		{"lower-case mechanisms", []string{"AUTH plain Login"}, []string{"PLAIN", "LOGIN"}},
		{"repeated mechanism", []string{"AUTH PLAIN PLAIN plain"}, []string{"PLAIN"}},
		{"extra spaces", []string{"AUTH  PLAIN   LOGIN "}, []string{"PLAIN", "LOGIN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.lines)
			require.NoError(t, err)
			assert.Equal(t, tt.mechs, s.AuthMechanisms())
		})
	}
}

func TestParseLeniencyAndErrors(t *testing.T) {
	s, err := Parse([]string{"  size   100  ", "", "8bitmime", "SIZE 200", "X_ODD.KEY v"})
	require.NoError(t, err)
	assert.Equal(t, []string{"SIZE", "8BITMIME", "X_ODD.KEY"}, s.Keywords(), "a repeat keeps its first place")
	p, _ := s.Params(Size)
	assert.Equal(t, "200", p, "and its last parameters")

	for _, bad := range []string{"SIZE 1\r\nRCPT", "STARTTLS\n", "AUTH\x00PLAIN", "DSN\x7f", "PIPE\tLINING"} {
		s, err := Parse([]string{"PIPELINING", bad, "CHUNKING"})
		assert.ErrorIs(t, err, ErrMalformedLine, "%q", bad)
		assert.Equal(t, []string{"PIPELINING"}, s.Keywords(), "the lines before it are kept")
	}
	s, err = Parse(nil)
	require.NoError(t, err)
	assert.Equal(t, 0, s.Len())
}

func TestMaxSize(t *testing.T) {
	tests := []struct {
		line string // "" for no SIZE line
		n    int64
		ok   bool
	}{
		{"", 0, false},
		{"SIZE", 0, true},
		{"SIZE 0", 0, true},
		{"SIZE 1000", 1000, true},
		{"size 52428800", 52428800, true},
		{"SIZE 9223372036854775807", 9223372036854775807, true},
		{"SIZE 99999999999999999999", 0, true}, // past int64: no usable limit
		{"SIZE abc", 0, true},
		{"SIZE -5", 0, true},
		{"SIZE 10M", 0, true},
		{"SIZE 1000 extra", 1000, true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			var lines []string
			if tt.line != "" {
				lines = []string{tt.line}
			}
			s, err := Parse(append([]string{"PIPELINING"}, lines...))
			require.NoError(t, err)
			n, ok := s.MaxSize()
			assert.Equal(t, tt.n, n)
			assert.Equal(t, tt.ok, ok)
		})
	}
}

func TestLinesRoundTrip(t *testing.T) {
	for _, reply := range [][]string{postfixEHLO, gmailEHLO, exchangeEHLO} {
		s, err := Parse(reply[1:])
		require.NoError(t, err)
		again, err := Parse(s.Lines())
		require.NoError(t, err)
		assert.Equal(t, s.Lines(), again.Lines())
		assert.Equal(t, s.AuthMechanisms(), again.AuthMechanisms())
	}
	s, _ := Parse(postfixEHLO[1:])
	assert.Equal(t, postfixEHLO[1:], s.Lines(), "Postfix's lines are already canonical")
}

func TestAdd(t *testing.T) {
	var s Set
	s.Add("pipelining", "")
	s.Add(Size, "1000")
	s.Add(Auth, "PLAIN LOGIN")
	s.Add(Size, "2000") // replaces in place
	assert.Equal(t, []string{"PIPELINING", "SIZE 2000", "AUTH PLAIN LOGIN"}, s.Lines())

	for _, bad := range []struct{ k, p string }{
		{"", ""}, {"BAD KEY", ""}, {"-LEADING", ""}, {"AUTH=PLAIN", ""}, {"X\r\n250 FAKE", ""},
		{"SIZE", "1\r\n250 injected"}, {"AUTH", "PLAIN\x00"}, {"AUTH", "PLÄIN"},
	} {
		s.Add(bad.k, bad.p)
	}
	assert.Equal(t, []string{"PIPELINING", "SIZE 2000", "AUTH PLAIN LOGIN"}, s.Lines(), "invalid input ignored")
	for _, line := range s.Lines() {
		assert.NotContains(t, line, "\r")
	}
}

// Keywords are case-insensitive in ASCII only (RFC 5321 section 2.4):
// Unicode folding would read "ſIZE" (U+017F) as SIZE, and "İ" lowers to
// two runes that no longer match it.
func TestKeywordCaseIsASCII(t *testing.T) {
	s, err := Parse([]string{"\u017fIZE 10", "size 20", "\u0130", "k\u212a"})
	require.NoError(t, err)
	assert.Equal(t, []string{"\u017fIZE 10", "SIZE 20", "\u0130", "K\u212a"}, s.Lines(),
		"only ASCII letters are upper-cased, and \u017fIZE is not SIZE")
	n, ok := s.MaxSize()
	assert.True(t, ok)
	assert.Equal(t, int64(20), n)
	assert.True(t, s.Has("\u0130"))
	assert.False(t, s.Has("i\u0307"), "what Unicode lowers \u0130 to")
	assert.True(t, s.Has("k\u212a"))
	assert.False(t, s.Has("kk"), "KELVIN SIGN is not K")
}

// Only SP separates EHLO parameters (RFC 5321 section 4.1.1.1); a UTF-8
// NO-BREAK SPACE or NEXT LINE inside one does not split it.
func TestParamsSplitAtSPOnly(t *testing.T) {
	s, err := Parse([]string{"AUTH PLAIN\u00a0LOGIN  CRAM-MD5", "MT-PRIORITY\u0085MIXER"})
	require.NoError(t, err)
	assert.Equal(t, []string{"PLAIN\u00a0LOGIN", "CRAM-MD5"}, s.AuthMechanisms())
	assert.True(t, s.Has("MT-PRIORITY\u0085MIXER"))
	assert.False(t, s.Has(MTPriority))
}

func TestSetCopiesAreIndependent(t *testing.T) {
	var a Set
	a.Add(Pipelining, "")
	a.Add(Size, "1")
	b := a
	b.Add(Size, "2")
	b.Add(Chunking, "")
	c := a
	c.Add(DSN, "")
	assert.Equal(t, []string{"PIPELINING", "SIZE 1"}, a.Lines())
	assert.Equal(t, []string{"PIPELINING", "SIZE 2", "CHUNKING"}, b.Lines())
	assert.Equal(t, []string{"PIPELINING", "SIZE 1", "DSN"}, c.Lines())
}

func TestValidKeywordAndParams(t *testing.T) {
	for k, want := range map[string]bool{
		"SIZE": true, "8BITMIME": true, "MT-PRIORITY": true, "x-exps": true, "A": true,
		"": false, "-X": false, "AUTH=": false, "A B": false, "X_Y": false, "É": false,
	} {
		assert.Equal(t, want, ValidKeyword(k), "%q", k)
	}
	for p, want := range map[string]bool{
		"": true, "PLAIN LOGIN": true, "RCPTMAX=10": true, "~!": true,
		"a\tb": false, "a\r": false, "\x7f": false, "é": false,
	} {
		assert.Equal(t, want, ValidParams(p), "%q", p)
	}
}

func FuzzParse(f *testing.F) {
	for _, reply := range [][]string{postfixEHLO, gmailEHLO, exchangeEHLO} {
		f.Add(strings.Join(reply[1:], "\n"))
	}
	for _, seed := range []string{"", "AUTH=", "SIZE -1", "LIMITS RCPTMAX=0 MAILMAX=x", "DELIVERBY 99999999999999", "a\x00b", "AUTH=PLAIN\nAUTH LOGIN"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		lines := strings.Split(text, "\n")
		s, err := Parse(lines)
		if err != nil {
			assert.ErrorIs(t, err, ErrMalformedLine)
			assert.True(t, strings.ContainsFunc(text, func(r rune) bool { return r < ' ' && r != '\n' || r == 0x7f }))
		}
		for _, k := range s.Keywords() {
			assert.Equal(t, ascii.ToUpper(k), k)
			assert.True(t, s.Has(ascii.ToLower(k)))
			assert.NotContains(t, k, " ")
		}
		// The accessors take anything without panicking.
		s.MaxSize()
		s.AuthMechanisms()
		s.Limits()
		s.DeliverByMin()
		s.MTPriorityProfile()
		s.CommandLineLimits()
		again, err := Parse(s.Lines())
		require.NoError(t, err)
		assert.Equal(t, s.Lines(), again.Lines())
	})
}
