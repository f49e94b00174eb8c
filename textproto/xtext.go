package textproto

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// ErrXtext is returned for malformed xtext, utf-8-addr-xtext or
// utf-8-addr-unitext, and for text that decodes to a control character.
var ErrXtext = errors.New("textproto: malformed xtext")

const upperHex = "0123456789ABCDEF"

// DecodeXtext decodes xtext (RFC 3461 section 4). Any decoded control
// character is an error.
//
//	xtext   = *( xchar / hexchar )
//	xchar   = %d33-126 except "+" and "="
//	hexchar = "+" 2(%x30-39 / %x41-46)   ; upper-case hex only
//
// Errors are ErrXtext.
func DecodeXtext(s string) (string, error) {
	plus := strings.IndexByte(s, '+')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 33 || c > 126 || c == '=' {
			return "", ErrXtext
		}
	}
	if plus < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '+' {
			if i+2 >= len(s) {
				return "", ErrXtext
			}
			hi, lo := upperHexValue(s[i+1]), upperHexValue(s[i+2])
			if hi < 0 || lo < 0 {
				return "", ErrXtext
			}
			c = byte(hi<<4 | lo)
			if isControl(c) {
				return "", ErrXtext
			}
			i += 2
		}
		b = append(b, c)
	}
	return string(b), nil
}

// EncodeXtext encodes s as xtext (RFC 3461 section 4).
//
// Octets from "!" to "~" other than "+" and "=" stand for themselves; every
// other octet is "+" and two upper-case hex digits.
func EncodeXtext(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !isXchar(s[i]) {
			n += 2
		}
	}
	if n == 0 {
		return s
	}
	return string(appendXtext(make([]byte, 0, len(s)+n), s))
}

// appendXtext appends s encoded as xtext to dst, as EncodeXtext does.
func appendXtext(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; isXchar(c) {
			dst = append(dst, c)
		} else {
			dst = append(dst, '+', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst
}

func isXchar(c byte) bool { return c >= 33 && c <= 126 && c != '+' && c != '=' }

func upperHexValue(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// isQchar reports whether c is QCHAR of RFC 6533 section 3: printable ASCII
// but SP, "\", "+" and "=".
func isQchar(c byte) bool { return isXchar(c) && c != '\\' }

// DecodeUTF8AddrXtext decodes utf-8-addr-xtext (RFC 6533 section 3).
//
//	utf-8-addr-xtext    = 1*(QCHAR / EmbeddedUnicodeChar)
//	EmbeddedUnicodeChar = "\x{" HEXPOINT "}"
//
// HEXPOINT must be in the form the RFC allows: no leading zeros, a Unicode
// scalar value (no surrogates, at most 10FFFF), and for one- and two-digit
// values only the characters QCHAR excludes ("\", SP, "+", "=") or those
// above 7F. Anything that decodes to a control character (C0, DEL, C1) is
// an error too, even where the grammar would allow it. Errors are ErrXtext.
func DecodeUTF8AddrXtext(s string) (string, error) { return decodeUTF8Addr(s, false) }

// DecodeUTF8AddrUnitext decodes utf-8-addr-unitext (RFC 6533 section 3):
// as utf-8-addr-xtext, and UTF-8 characters above U+009F may also stand for
// themselves (QUCHAR). Invalid UTF-8 is an error.
func DecodeUTF8AddrUnitext(s string) (string, error) { return decodeUTF8Addr(s, true) }

func decodeUTF8Addr(s string, unitext bool) (string, error) {
	if s == "" {
		return "", ErrXtext
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case isQchar(c):
			b = append(b, c)
			i++
		case c == '\\':
			r, n := parseHexpoint(s[i:])
			if n == 0 {
				return "", ErrXtext
			}
			b = utf8.AppendRune(b, r)
			i += n
		case c >= utf8.RuneSelf && unitext:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n <= 1 || r < 0xa0 {
				return "", ErrXtext
			}
			b = append(b, s[i:i+n]...)
			i += n
		default:
			return "", ErrXtext
		}
	}
	return string(b), nil
}

// parseHexpoint parses "\x{" HEXPOINT "}" at the start of s and returns
// the character and the length of the escape, or 0 if it is malformed or
// stands for a character an address may not hold.
func parseHexpoint(s string) (rune, int) {
	if len(s) < 5 || s[1] != 'x' || s[2] != '{' {
		return 0, 0
	}
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return 0, 0
	}
	hex := s[3:end]
	if len(hex) < 2 || len(hex) > 6 {
		return 0, 0
	}
	var r rune
	for i := 0; i < len(hex); i++ {
		v := hexValue(hex[i])
		if v < 0 {
			return 0, 0
		}
		r = r<<4 | rune(v)
	}
	switch {
	case len(hex) == 2:
		// Two-digit forms: the xtext specials and 80-FF. Of the
		// specials, only those that are not control characters pass.
		if r != '\\' && r != ' ' && r != '+' && r != '=' && r < 0xa0 {
			return 0, 0
		}
	case hex[0] == '0', // not minimal
		len(hex) == 6 && r > utf8.MaxRune,
		0xd800 <= r && r <= 0xdfff:
		return 0, 0
	}
	return r, end + 1
}

// hexValue accepts either case: HEXDIG of RFC 5234 is case-insensitive,
// unlike xtext's hexchar.
func hexValue(c byte) int {
	if 'a' <= c && c <= 'f' {
		return int(c-'a') + 10
	}
	return upperHexValue(c)
}

// EncodeUTF8AddrXtext encodes s as utf-8-addr-xtext (RFC 6533 section 3):
// QCHAR stands for itself, everything else is "\x{HEX}" with upper-case hex
// in the shortest form. An invalid UTF-8 octet is encoded as U+FFFD. s is
// meant to be an address: a control character, which no address holds, is
// encoded in two-digit form, which DecodeUTF8AddrXtext rejects.
func EncodeUTF8AddrXtext(s string) string { return encodeUTF8Addr(s, false) }

// EncodeUTF8AddrUnitext encodes s as utf-8-addr-unitext (RFC 6533 section
// 3): as EncodeUTF8AddrXtext, but characters above U+009F stay UTF-8.
func EncodeUTF8AddrUnitext(s string) string { return encodeUTF8Addr(s, true) }

func encodeUTF8Addr(s string, unitext bool) string {
	return string(appendUTF8AddrXtext(make([]byte, 0, len(s)+8), s, unitext))
}

// appendUTF8AddrXtext appends s encoded as utf-8-addr-xtext, or as
// utf-8-addr-unitext when unitext is set, to dst.
func appendUTF8AddrXtext(dst []byte, s string, unitext bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if isQchar(c) {
			dst = append(dst, c)
			i++
			continue
		}
		r, n := rune(c), 1
		if c >= utf8.RuneSelf {
			r, n = utf8.DecodeRuneInString(s[i:])
		}
		if unitext && r >= 0xa0 && !(r == utf8.RuneError && n == 1) {
			dst = append(dst, s[i:i+n]...)
		} else {
			dst = appendHexpoint(dst, r)
		}
		i += n
	}
	return dst
}

func appendHexpoint(b []byte, r rune) []byte {
	b = append(b, `\x{`...)
	digits := 2
	for r>>(4*digits) != 0 {
		digits++
	}
	for k := digits - 1; k >= 0; k-- {
		b = append(b, upperHex[r>>(4*k)&15])
	}
	return append(b, '}')
}
