package textproto

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireBadValue checks that err is the 501 5.5.4 a server sends for a
// bad value of kw.
func requireBadValue(t *testing.T, err error, kw string) {
	t.Helper()
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 501, pe.Code)
	assert.Equal(t, EnhancedCode{5, 5, 4}, pe.Enhanced)
	assert.Contains(t, pe.Msg, kw)
}

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		v    string
		want int64
	}{
		{"0", 0}, {"1000", 1000}, {"007", 7},
		{"9223372036854775807", math.MaxInt64},
		{"9223372036854775808", math.MaxInt64},  // over int64: still a size, larger than any limit
		{"99999999999999999999", math.MaxInt64}, // 20 digits
	} {
		n, err := ParseSize(tt.v)
		require.NoError(t, err, tt.v)
		assert.Equal(t, tt.want, n, tt.v)
	}
	for _, v := range []string{"", "-1", "+5", "1k", "999999999999999999999", " 1"} {
		_, err := ParseSize(v)
		requireBadValue(t, err, "SIZE")
	}
}

func TestAppendSize(t *testing.T) {
	b, err := AppendSize([]byte("MAIL FROM:<>"), 999)
	require.NoError(t, err)
	assert.Equal(t, "MAIL FROM:<> SIZE=999", string(b))
	b, err = AppendSize([]byte("x"), -1)
	require.Error(t, err)
	assert.Equal(t, "x", string(b))
}

func TestBody(t *testing.T) {
	for v, want := range map[string]BodyType{"7BIT": Body7Bit, "8bitmime": Body8BitMIME, "BinaryMIME": BodyBinaryMIME} {
		b, err := ParseBody(v)
		require.NoError(t, err, v)
		assert.Equal(t, want, b)
	}
	for _, v := range []string{"", "9BIT", "8BITMIMEX", "8BİTMIME"} {
		_, err := ParseBody(v)
		requireBadValue(t, err, "BODY")
	}
	b, err := AppendBody(nil, Body8BitMIME)
	require.NoError(t, err)
	assert.Equal(t, " BODY=8BITMIME", string(b))
	_, err = AppendBody(nil, "8bitmime")
	require.Error(t, err, "only the constants are written")
}

func TestFlag(t *testing.T) {
	require.NoError(t, ParseFlag("SMTPUTF8", ""))
	requireBadValue(t, ParseFlag("REQUIRETLS", "yes"), "REQUIRETLS")
	assert.Equal(t, "x SMTPUTF8", string(AppendFlag([]byte("x"), "SMTPUTF8")))
}

func TestRet(t *testing.T) {
	for v, want := range map[string]DSNReturn{"FULL": DSNReturnFull, "hdrs": DSNReturnHeaders} {
		r, err := ParseRet(v)
		require.NoError(t, err, v)
		assert.Equal(t, want, r)
	}
	for _, v := range []string{"", "ALL", "HDR"} {
		_, err := ParseRet(v)
		requireBadValue(t, err, "RET")
	}
	b, err := AppendRet(nil, DSNReturnHeaders)
	require.NoError(t, err)
	assert.Equal(t, " RET=HDRS", string(b))
	_, err = AppendRet(nil, "ALL")
	require.Error(t, err)
}

func TestEnvID(t *testing.T) {
	for v, want := range map[string]string{
		"QQ314159":               "QQ314159",
		"abc+2Bdef":              "abc+def",
		"a+20b":                  "a b",
		"+3D":                    "=",
		strings.Repeat("x", 100): strings.Repeat("x", 100),
	} {
		id, err := ParseEnvID(v)
		require.NoError(t, err, v)
		assert.Equal(t, want, id)
	}
	for _, v := range []string{
		"", "a+zz", "a+2b", "a=b", "é",
		"+C3+A9",                 // decodes to non-ASCII: RFC 3461 section 4.4 wants printable US-ASCII
		"a+0D+0A",                // a control character
		strings.Repeat("x", 101), // over 100 characters
		strings.Repeat("+2B", 101),
	} {
		_, err := ParseEnvID(v)
		requireBadValue(t, err, "ENVID")
	}
	b, err := AppendEnvID(nil, "QQ+x=y z")
	require.NoError(t, err)
	assert.Equal(t, " ENVID=QQ+2Bx+3Dy+20z", string(b))
	for _, bad := range []string{"", "é", "a\r\nRCPT TO:<x@y>", strings.Repeat("x", 101)} {
		b, err := AppendEnvID([]byte("x"), bad)
		require.Error(t, err, bad)
		assert.Equal(t, "x", string(b))
	}
}

func TestMailAuth(t *testing.T) {
	long := strings.Repeat("u", 560) + "@example.org"
	for v, want := range map[string]string{
		"<>":                      "",
		"+3C+3E":                  "",
		"e+3Dmc2@example.org":     "e=mc2@example.org",
		"user+40example.org":      "user@example.org",
		"a@[192.0.2.1]":           "a@[192.0.2.1]",
		`"a+20b"@example.org`:     `"a b"@example.org`,
		long:                      long, // no 64-octet limit: RFC 4954 section 3 grants 500 octets
		"sender+2B1@example.org":  "sender+1@example.org",
		"first.last@example.org":  "first.last@example.org",
		"postmaster@example.org":  "postmaster@example.org",
		"x@xn--bcher-kva.example": "x@xn--bcher-kva.example",
	} {
		got, err := ParseMailAuth(v)
		require.NoError(t, err, v)
		assert.Equal(t, want, got, v)
	}
	for _, v := range []string{"", "bad+zz", "user", "a b@example.org", "+C3+A9@example.org", "é@example.org", "a@b+0D+0A", "a@", "<a@b>"} {
		_, err := ParseMailAuth(v)
		requireBadValue(t, err, "AUTH")
	}
	b, err := AppendMailAuth(nil, "")
	require.NoError(t, err)
	assert.Equal(t, " AUTH=<>", string(b))
	b, err = AppendMailAuth(nil, "sender+1=x@example.org")
	require.NoError(t, err)
	assert.Equal(t, " AUTH=sender+2B1+3Dx@example.org", string(b))
	for _, bad := range []string{"<>", "user", "jörg@example.org", "a@b\r\nDATA"} {
		_, err := AppendMailAuth(nil, bad)
		require.Error(t, err, bad)
	}
}

func TestMTPriority(t *testing.T) {
	for v, want := range map[string]int{"0": 0, "3": 3, "+3": 3, "-4": -4, "-9": -9, "9": 9, "-0": 0} {
		p, err := ParseMTPriority(v)
		require.NoError(t, err, v)
		assert.Equal(t, want, p, v)
	}
	for _, v := range []string{"", "10", "03", "-10", "+", "a", "--1", "+-1", "١"} {
		_, err := ParseMTPriority(v)
		requireBadValue(t, err, "MT-PRIORITY")
	}
	b, err := AppendMTPriority(nil, -4)
	require.NoError(t, err)
	assert.Equal(t, " MT-PRIORITY=-4", string(b))
	for _, bad := range []int{10, -10} {
		_, err := AppendMTPriority(nil, bad)
		require.Error(t, err)
	}
}

func TestDeliverBy(t *testing.T) {
	for v, want := range map[string]DeliverBy{
		"120;R":        {120 * time.Second, DeliverByReturn, false},
		"+120;r":       {120 * time.Second, DeliverByReturn, false},
		"-10;NT":       {-10 * time.Second, DeliverByNotify, true},
		"0;n":          {0, DeliverByNotify, false},
		"999999999;Rt": {999999999 * time.Second, DeliverByReturn, true},
		"-999999999;N": {-999999999 * time.Second, DeliverByNotify, false},
	} {
		by, err := ParseDeliverBy(v)
		require.NoError(t, err, v)
		assert.Equal(t, want, by, v)
	}
	for _, v := range []string{
		"", ";R", "10;", "10", "10;X", "10;T", "10;RTT", "10;TR", "0;R", "-5;R",
		"1000000000;N", "1_0;N", "+-5;N", "1a;N", "+;N", " 10;N", "10;N ",
	} {
		_, err := ParseDeliverBy(v)
		requireBadValue(t, err, "BY")
	}
	b, err := AppendDeliverBy(nil, DeliverBy{Time: 120 * time.Second, Mode: DeliverByReturn, Trace: true})
	require.NoError(t, err)
	assert.Equal(t, " BY=120;RT", string(b))
	b, err = AppendDeliverBy(nil, DeliverBy{Time: -1500 * time.Millisecond, Mode: DeliverByNotify})
	require.NoError(t, err)
	assert.Equal(t, " BY=-1;N", string(b), "whole seconds, the fraction dropped")
	for _, bad := range []DeliverBy{
		{Time: time.Minute, Mode: "X"},
		{Time: time.Minute, Mode: "n"},
		{Time: -time.Minute, Mode: DeliverByReturn},
		{Time: 500 * time.Millisecond, Mode: DeliverByReturn}, // 0 whole seconds
		{Time: (MaxDeliverBySeconds + 1) * time.Second, Mode: DeliverByNotify},
		{Time: -(MaxDeliverBySeconds + 1) * time.Second, Mode: DeliverByNotify},
	} {
		_, err := AppendDeliverBy(nil, bad)
		require.Error(t, err, "%+v", bad)
	}
}

// The server path parses without allocating where nothing is decoded.
func TestMailParamsParseAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = ParseSize("1000")
		_, _ = ParseBody("8bitmime")
		_, _ = ParseRet("hdrs")
		_, _ = ParseEnvID("QQ314159")
		_, _ = ParseMailAuth("a@example.org")
		_, _ = ParseMTPriority("-4")
		_, _ = ParseDeliverBy("120;rt")
		_ = ParseFlag("SMTPUTF8", "")
	})
	assert.Zero(t, allocs)
}
