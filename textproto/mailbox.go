package textproto

import (
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/postwire/postwire/internal/ascii"
)

// This file holds the mailbox grammar of RFC 5321 section 4.1.2, extended
// by RFC 6531 section 3.3 when SMTPUTF8 is in force:
//
//	Mailbox        = Local-part "@" ( Domain / address-literal )
//	Local-part     = Dot-string / Quoted-string
//	Dot-string     = Atom *("."  Atom)
//	Quoted-string  = DQUOTE *QcontentSMTP DQUOTE
//	Domain         = sub-domain *("." sub-domain)
//	sub-domain     = Let-dig [Ldh-str]        ; =/ U-label (RFC 6531)
//	address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
//	                  General-address-literal ) "]"
//
// The parsers work on a string and return the index where they stopped, so
// that the caller (a path in angle brackets, a bare mailbox) decides what
// may follow. Results are substrings of the input wherever possible.

// mailboxParser parses one mailbox of s starting at i.
type mailboxParser struct {
	s   string
	opt ParseOptions
	// noLimits leaves out the local-part limit of RFC 5321 section
	// 4.5.3.1.1, for a mailbox that is no path (the AUTH parameter).
	noLimits bool
	// udomain is the last domain parsed as it was written, when it had
	// U-labels and was converted to A-labels; "" otherwise.
	udomain string
}

// mailbox parses Local-part "@" ( Domain / address-literal ) at i.
func (p *mailboxParser) mailbox(i int) (local, domain string, end int, err *ParseError) {
	local, i, err = p.localPart(i)
	if err != nil {
		return "", "", 0, err
	}
	if i >= len(p.s) || p.s[i] != '@' {
		return "", "", 0, errAddress("address must be local-part@domain")
	}
	i++
	p.udomain = ""
	if i < len(p.s) && p.s[i] == '[' {
		domain, i, err = p.addressLiteral(i)
	} else {
		start := i
		domain, i, err = p.domain(i)
		if err == nil && domain != p.s[start:i] {
			p.udomain = p.s[start:i]
		}
	}
	if err != nil {
		return "", "", 0, err
	}
	return local, domain, i, nil
}

// localPart parses a Dot-string or a Quoted-string and returns it unquoted.
// RFC 5321 section 4.5.3.1.1 limits it to 64 octets as sent.
func (p *mailboxParser) localPart(i int) (string, int, *ParseError) {
	start := i
	var local string
	if i < len(p.s) && p.s[i] == '"' {
		var err *ParseError
		local, i, err = p.quotedString(i)
		if err != nil {
			return "", 0, err
		}
	} else {
		for {
			atom := i
			for i < len(p.s) {
				if c := p.s[i]; c < utf8.RuneSelf {
					if !isAtext(c) {
						break
					}
					i++
				} else if n, err := p.utf8Char(i); err != nil {
					return "", 0, err
				} else {
					i += n
				}
			}
			if i == atom {
				return "", 0, errAddress("bad local part syntax")
			}
			if i >= len(p.s) || p.s[i] != '.' {
				break
			}
			i++
		}
		local = p.s[start:i]
	}
	if i-start > MaxLocalPart && !p.noLimits {
		return "", 0, errAddress("local part too long")
	}
	return local, i, nil
}

// quotedString parses DQUOTE *QcontentSMTP DQUOTE, where qtextSMTP is
// %d32-33 / %d35-91 / %d93-126 and quoted-pairSMTP is "\" %d32-126.
func (p *mailboxParser) quotedString(i int) (string, int, *ParseError) {
	i++ // opening DQUOTE
	start, escaped := i, false
	for {
		if i >= len(p.s) {
			return "", 0, errAddress("unterminated quoted string")
		}
		c := p.s[i]
		switch {
		case c == '"':
			if !escaped {
				return p.s[start:i], i + 1, nil
			}
			return unquote(p.s[start:i]), i + 1, nil
		case c == '\\':
			if i+1 >= len(p.s) || p.s[i+1] < 32 || p.s[i+1] > 126 {
				return "", 0, errAddress("bad quoted pair")
			}
			escaped = true
			i += 2
		case c >= utf8.RuneSelf:
			n, err := p.utf8Char(i)
			if err != nil {
				return "", 0, err
			}
			i += n
		case c < 32 || c == 127:
			return "", 0, errAddress("control character in address")
		default:
			i++
		}
	}
}

// unquote removes the backslash of each quoted-pair of s, which the caller
// has checked.
func unquote(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// utf8Char checks the non-ASCII character at i: allowed only with SMTPUTF8
// (RFC 6531 section 3.3), valid UTF-8, and not a C1 control character.
// It returns the character's length.
func (p *mailboxParser) utf8Char(i int) (int, *ParseError) {
	if !p.opt.SMTPUTF8 {
		return 0, errNeedSMTPUTF8()
	}
	r, n := utf8.DecodeRuneInString(p.s[i:])
	if r == utf8.RuneError && n <= 1 {
		return 0, errAddress("invalid UTF-8 in address")
	}
	if r < 0xa0 {
		return 0, errAddress("control character in address")
	}
	return n, nil
}

// domain parses Domain: sub-domains of Let-dig [Ldh-str], at most 63 octets
// each (RFC 1035 section 2.3.4), at most 255 octets in all (RFC 5321
// section 4.5.3.1.2). With SMTPUTF8 a domain with U-labels is checked and
// converted to A-labels by IDNA's lookup profile (RFC 5891, UTS #46), which
// also lower-cases it.
func (p *mailboxParser) domain(i int) (string, int, *ParseError) {
	start, ascii := i, true
	for i < len(p.s) {
		c := p.s[i]
		if c >= utf8.RuneSelf {
			ascii = false
		} else if !isLetDig(c) && c != '-' && c != '.' {
			break
		}
		i++
	}
	d := p.s[start:i]
	if d == "" {
		return "", 0, errAddress("missing domain")
	}
	if !ascii {
		if !p.opt.SMTPUTF8 {
			return "", 0, errNeedSMTPUTF8()
		}
		if !utf8.ValidString(d) {
			return "", 0, errAddress("invalid UTF-8 in address")
		}
		a, err := idna.Lookup.ToASCII(d)
		if err != nil {
			return "", 0, errAddress("bad internationalized domain")
		}
		d = a
	}
	if !validDomain(d) {
		return "", 0, errAddress("bad domain syntax")
	}
	if len(d) > MaxDomain {
		return "", 0, errAddress("domain too long")
	}
	return d, i, nil
}

// validDomain reports whether d is sub-domain *("." sub-domain) in ASCII.
func validDomain(d string) bool {
	label := 0
	for i := 0; i <= len(d); i++ {
		if i < len(d) && d[i] != '.' {
			label++
			continue
		}
		if label == 0 || label > 63 || !isLetDig(d[i-1]) || !isLetDig(d[i-label]) {
			return false
		}
		label = 0
	}
	return true
}

// addressLiteral parses "[" content "]" and returns it with its brackets.
func (p *mailboxParser) addressLiteral(i int) (string, int, *ParseError) {
	start := i
	i++
	for i < len(p.s) && isDcontent(p.s[i]) {
		i++
	}
	if i >= len(p.s) || p.s[i] != ']' {
		return "", 0, errAddress("bad address literal")
	}
	if !validLiteral(p.s[start+1 : i]) {
		return "", 0, errAddress("bad address literal")
	}
	i++
	if i-start > MaxDomain {
		return "", 0, errAddress("domain too long")
	}
	return p.s[start:i], i, nil
}

// validLiteral checks the content of an address literal (RFC 5321 section
// 4.1.3): an IPv4 dotted quad, "IPv6:" and an IPv6 address, or a
// General-address-literal, Standardized-tag ":" 1*dcontent. Tags other than
// IPv6 are accepted by syntax alone; whether to route to them is the
// server's business.
func validLiteral(c string) bool {
	colon := strings.IndexByte(c, ':')
	if colon < 0 {
		return validIPv4(c)
	}
	tag, content := c[:colon], c[colon+1:]
	if ascii.EqualFold(tag, "IPv6") {
		a, err := netip.ParseAddr(content)
		return err == nil && a.Is6() && a.Zone() == ""
	}
	if content == "" || tag == "" || !isLetDig(tag[len(tag)-1]) {
		return false
	}
	for i := 0; i < len(tag); i++ {
		if !isLetDig(tag[i]) && tag[i] != '-' {
			return false
		}
	}
	return true // content is dcontent, checked by the caller
}

// validIPv4 checks Snum 3("." Snum), Snum = 1*3DIGIT with a value of at most
// 255. Leading zeros are allowed, as the grammar allows them.
func validIPv4(s string) bool {
	parts, n, digits := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if digits == 0 || n > 255 {
				return false
			}
			parts++
			n, digits = 0, 0
			continue
		}
		if s[i] < '0' || s[i] > '9' || digits == 3 {
			return false
		}
		n = n*10 + int(s[i]-'0')
		digits++
	}
	return parts == 4
}

// isAtext reports whether c is atext of RFC 5322 section 3.2.3, the
// characters of an Atom (RFC 5321 section 4.1.2).
func isAtext(c byte) bool { return atext[c] }

var atext = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range []byte("!#$%&'*+-/=?^_`{|}~") {
		t[c] = true
	}
	return t
}()

func isLetDig(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isDcontent: %d33-90 / %d94-126, printable ASCII but "[", "\" and "]".
func isDcontent(c byte) bool { return 33 <= c && c <= 90 || 94 <= c && c <= 126 }
