// Package ascii holds the case rules of the mail protocols: keywords,
// verbs, parameter names and values, mechanism names and "Postmaster" are
// case-insensitive in ASCII only (RFC 5321 section 2.4, RFC 4954 section 3).
//
// Unicode case mapping, as in strings.EqualFold and strings.ToUpper, would
// make "ſIZE" (U+017F) equal "SIZE" and turn "ı" (U+0131) into "I", and
// its round trip is not stable ("İ" lowers to two runes). Octets above 127
// are therefore left as they are and compare only to themselves.
package ascii

import "strings"

// EqualFold reports whether a and b are equal when ASCII letters are
// compared without case. Any other octet must match exactly.
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		// Only a letter's two cases differ by 0x20 alone.
		if l := x | 0x20; l != y|0x20 || l < 'a' || l > 'z' {
			return false
		}
	}
	return true
}

// ToUpper returns s with the ASCII letters a-z upper-cased and every other
// octet unchanged. It returns s itself, without allocating, when there is
// nothing to change.
func ToUpper(s string) string {
	return mapASCII(s, 'a', 'z', 'A'-'a')
}

// ToLower returns s with the ASCII letters A-Z lower-cased and every other
// octet unchanged. It returns s itself, without allocating, when there is
// nothing to change.
func ToLower(s string) string {
	return mapASCII(s, 'A', 'Z', 'a'-'A')
}

// Fields splits s around each run of spaces (SP, 0x20), the only separator
// of SMTP's command and EHLO grammars (RFC 5321 section 4.1.1.1).
// strings.Fields would also split at U+0085 and U+00A0 inside UTF-8 text.
func Fields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' })
}

func mapASCII(s string, from, to byte, shift int) string {
	i := 0
	for i < len(s) && (s[i] < from || s[i] > to) {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if b[i] >= from && b[i] <= to {
			b[i] = byte(int(b[i]) + shift)
		}
	}
	return string(b)
}
