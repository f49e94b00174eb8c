package ascii

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEqualFold(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"SIZE", "size", true},
		{"Postmaster", "POSTMASTER", true},
		{"8bitMIME", "8BITMIME", true},
		{"", "", true},
		{"SIZE", "SIZ", false},
		{"ſIZE", "SIZE", false},         // U+017F folds to s in Unicode only
		{"\u212a", "k", false},          // KELVIN SIGN
		{"8bıtmime", "8BITMIME", false}, // U+0131 upper-cases to I in Unicode only
		{"é", "É", false},
		{"é", "é", true},
		{"[", "{", false}, // differ by 0x20 but are not letters
		{"@", "`", false},
	} {
		assert.Equal(t, c.want, EqualFold(c.a, c.b), "%q %q", c.a, c.b)
		assert.Equal(t, c.want, EqualFold(c.b, c.a), "%q %q", c.b, c.a)
	}
}

func TestToUpperToLower(t *testing.T) {
	for _, c := range []struct{ in, upper, lower string }{
		{"", "", ""},
		{"size", "SIZE", "size"},
		{"Size 10", "SIZE 10", "size 10"},
		{"İ", "İ", "İ"}, // Unicode would lower it to two runes
		{"ı", "ı", "ı"}, // Unicode would upper it to I
		{"é-x", "é-X", "é-x"},
		{"a\x00Z", "A\x00Z", "a\x00z"},
		{"{[`@]}", "{[`@]}", "{[`@]}"},
	} {
		assert.Equal(t, c.upper, ToUpper(c.in), "%q", c.in)
		assert.Equal(t, c.lower, ToLower(c.in), "%q", c.in)
	}
}

func TestFields(t *testing.T) {
	assert.Equal(t, []string{"PLAIN", "LOGIN"}, Fields("  PLAIN   LOGIN "))
	assert.Equal(t, []string{"a\u00a0b", "c\u0085d", "e\tf"}, Fields("a\u00a0b c\u0085d e\tf"),
		"only SP separates")
	assert.Empty(t, Fields("   "))
}

func TestNoCopyWhenUnchanged(t *testing.T) {
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = ToUpper("ALREADY-UPPER 123") }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = ToLower("already-lower 123") }))
}

func FuzzCase(f *testing.F) {
	for _, s := range []string{"", "SIZE", "İ", "ſ", "\u212a", "a\xffb", "[@", "é"} {
		f.Add(s, "size")
	}
	f.Fuzz(func(t *testing.T, s, other string) {
		up, low := ToUpper(s), ToLower(s)
		assert.Len(t, up, len(s))
		assert.Len(t, low, len(s))
		assert.True(t, EqualFold(s, up))
		assert.True(t, EqualFold(s, low))
		assert.True(t, EqualFold(up, low))
		assert.Equal(t, up, ToUpper(low))
		assert.Equal(t, low, ToLower(up))
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 || (s[i]|0x20 < 'a' || s[i]|0x20 > 'z') {
				assert.Equal(t, s[i], up[i], "a non-letter octet changed at %d", i)
			}
		}
		// EqualFold agrees with comparing the lower-cased forms.
		assert.Equal(t, low == ToLower(other), EqualFold(s, other), "%q %q", s, other)
		assert.Equal(t, EqualFold(s, other), EqualFold(other, s))
	})
}
