package textproto

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestXtext(t *testing.T) {
	tests := []struct{ plain, xtext string }{
		{"", ""},
		{"QQ314159", "QQ314159"},
		{"a+b=c", "a+2Bb+3Dc"},
		{"rfc822;user@example.org", "rfc822;user@example.org"},
		{"a b", "a+20b"},
		{"\\~!", "\\~!"},
		{"é", "+C3+A9"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.xtext, EncodeXtext(tt.plain))
		got, err := DecodeXtext(tt.xtext)
		require.NoError(t, err, tt.xtext)
		assert.Equal(t, tt.plain, got)
	}
	// Hex that did not need encoding still decodes.
	got, err := DecodeXtext("+41+7E")
	require.NoError(t, err)
	assert.Equal(t, "A~", got)
	// Control characters are encoded, as xtext encodes any octet.
	assert.Equal(t, "+0D+0A+00+7F", EncodeXtext("\r\n\x00\x7f"))
}

func TestDecodeXtextErrors(t *testing.T) {
	for _, s := range []string{
		"+", "+4", "a+", "+2b", "+2G", "+G2", "++2B", "a=b", "a b", "\x00", "é",
		"+0D", "+0A", "+00", "+1F", "+7F", "+09", "a\tb",
	} {
		_, err := DecodeXtext(s)
		assert.ErrorIs(t, err, ErrXtext, "%q", s)
	}
}

func TestUTF8AddrXtext(t *testing.T) {
	tests := []struct{ plain, xtext, unitext string }{
		{"user@example.org", "user@example.org", "user@example.org"},
		{"a+b=c\\d e", `a\x{2B}b\x{3D}c\x{5C}d\x{20}e`, `a\x{2B}b\x{3D}c\x{5C}d\x{20}e`},
		{"é", `\x{E9}`, "é"},
		{"\u00a0", `\x{A0}`, "\u00a0"},
		{"ą", `\x{105}`, "ą"},
		{"用户@例子", `\x{7528}\x{6237}@\x{4F8B}\x{5B50}`, "用户@例子"},
		{"\U0001F600", `\x{1F600}`, "\U0001F600"},
		{"\U0010FFFF", `\x{10FFFF}`, "\U0010FFFF"},
		{"\uFFFD", `\x{FFFD}`, "\uFFFD"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.xtext, EncodeUTF8AddrXtext(tt.plain))
		assert.Equal(t, tt.unitext, EncodeUTF8AddrUnitext(tt.plain))
		got, err := DecodeUTF8AddrXtext(tt.xtext)
		require.NoError(t, err, tt.xtext)
		assert.Equal(t, tt.plain, got)
		got, err = DecodeUTF8AddrUnitext(tt.unitext)
		require.NoError(t, err, tt.unitext)
		assert.Equal(t, tt.plain, got)
		got, err = DecodeUTF8AddrUnitext(tt.xtext) // unitext admits the escapes too
		require.NoError(t, err, tt.xtext)
		assert.Equal(t, tt.plain, got)
	}
	// Lower-case hex is HEXDIG too (RFC 5234 strings are case-insensitive).
	got, err := DecodeUTF8AddrXtext(`\x{e9}`)
	require.NoError(t, err)
	assert.Equal(t, "é", got)
	// Invalid UTF-8 encodes as U+FFFD; C1 controls are escaped, and rejected on decoding.
	assert.Equal(t, `a\x{FFFD}`, EncodeUTF8AddrXtext("a\xff"))
	assert.Equal(t, `\x{85}`, EncodeUTF8AddrUnitext("\u0085"))
	_, err = DecodeUTF8AddrUnitext(EncodeUTF8AddrUnitext("\u0085"))
	assert.ErrorIs(t, err, ErrXtext)
}

func TestDecodeUTF8AddrErrors(t *testing.T) {
	bad := []string{
		"",             // 1*(...)
		"a b",          // SP
		"a+b",          // "+" is not QCHAR
		"a=b",          // "=" is not QCHAR
		`a\b`,          // lone backslash
		`\x`,           // truncated
		`\x{`,          // truncated
		`\x{E9`,        // unterminated
		`\x{}`,         // empty
		`\x{9}`,        // one digit
		`\X{E9}`,       // upper-case X
		`\x(E9)`,       // wrong brackets
		`\x{G9}`,       // not hex
		`\x{41}`,       // "A" is QCHAR: no two-digit form
		`\x{0A}`,       // LF: control
		`\x{0D}`,       // CR: control
		`\x{01}`,       // control, though the grammar has a form for it
		`\x{10}`,       // control
		`\x{7F}`,       // DEL
		`\x{85}`,       // C1 control
		`\x{9F}`,       // C1 control
		`\x{00E9}`,     // leading zero
		`\x{0E9}`,      // leading zero
		`\x{D800}`,     // surrogate
		`\x{DFFF}`,     // surrogate
		`\x{110000}`,   // beyond Unicode
		`\x{0010FFFF}`, // too many digits
		`\x{1000000}`,  // too many digits
		"é",            // raw UTF-8 in the 7-bit form
		"a\x00",        // raw control
	}
	for _, s := range bad {
		_, err := DecodeUTF8AddrXtext(s)
		assert.ErrorIs(t, err, ErrXtext, "xtext %q", s)
	}
	for _, s := range append(bad[:len(bad)-2], "\xff", "a\xc3", "\u0085", "\xed\xa0\x80") {
		_, err := DecodeUTF8AddrUnitext(s)
		assert.ErrorIs(t, err, ErrXtext, "unitext %q", s)
	}
}

func FuzzXtext(f *testing.F) {
	for _, s := range []string{"", "a+b=c", "é", "+2B", `\x{E9}`, "用户@例子", "\x00\r\n", "\xff", `\x{D800}`, "a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hasControl := false
		for _, r := range s {
			if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
				hasControl = true
			}
		}
		// decode∘encode is the identity for text without control characters.
		x := EncodeXtext(s)
		got, err := DecodeXtext(x)
		if indexControl(s) >= 0 {
			require.ErrorIs(t, err, ErrXtext)
		} else {
			require.NoError(t, err)
			require.Equal(t, s, got)
		}
		if s != "" && utf8.ValidString(s) {
			for _, codec := range []struct {
				enc func(string) string
				dec func(string) (string, error)
			}{{EncodeUTF8AddrXtext, DecodeUTF8AddrXtext}, {EncodeUTF8AddrUnitext, DecodeUTF8AddrUnitext}} {
				got, err := codec.dec(codec.enc(s))
				if hasControl {
					require.ErrorIs(t, err, ErrXtext)
				} else {
					require.NoError(t, err, "%q", s)
					require.Equal(t, s, got)
				}
			}
		}
		// Decoding anything never panics and never yields a control character.
		for _, dec := range []func(string) (string, error){DecodeXtext, DecodeUTF8AddrXtext, DecodeUTF8AddrUnitext} {
			if out, err := dec(s); err == nil {
				require.Equal(t, -1, indexControl(out))
			}
		}
	})
}
