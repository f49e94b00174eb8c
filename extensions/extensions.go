// Package extensions is the set of SMTP service extensions a server
// advertises in its EHLO reply (RFC 5321 section 4.1.1.1): parse it from the
// reply's lines, format it for a server, read typed values from it, and know
// which MAIL and RCPT parameters each extension brings.
package extensions

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/postwire/postwire/internal/ascii"
)

// Keywords of the extensions the library knows (see Known).
const (
	Pipelining          = "PIPELINING"          // RFC 2920
	EightBitMIME        = "8BITMIME"            // RFC 6152
	Size                = "SIZE"                // RFC 1870
	EnhancedStatusCodes = "ENHANCEDSTATUSCODES" // RFC 2034
	StartTLS            = "STARTTLS"            // RFC 3207
	Auth                = "AUTH"                // RFC 4954
	Chunking            = "CHUNKING"            // RFC 3030
	BinaryMIME          = "BINARYMIME"          // RFC 3030
	SMTPUTF8            = "SMTPUTF8"            // RFC 6531
	DSN                 = "DSN"                 // RFC 3461
	RequireTLS          = "REQUIRETLS"          // RFC 8689
	MTPriority          = "MT-PRIORITY"         // RFC 6710
	DeliverBy           = "DELIVERBY"           // RFC 2852
	Limits              = "LIMITS"              // RFC 9422
	VRFY                = "VRFY"                // RFC 5321 section 3.5
	ETRN                = "ETRN"                // RFC 1985
	ATRN                = "ATRN"                // RFC 2645 section 4
	Help                = "HELP"                // RFC 5321 section 4.1.1.8
	EXPN                = "EXPN"                // RFC 5321 section 3.5
	XClient             = "XCLIENT"             // Postfix XCLIENT_README
)

// ErrMalformedLine is returned by Parse for an EHLO line holding a control
// character: such a reply is broken or hostile, not merely unusual.
var ErrMalformedLine = errors.New("extensions: control character in EHLO line")

// Set is an ordered set of EHLO keywords, each with its parameter text
// (everything after the keyword and one space; "" if none). The zero value
// is an empty set. A copy of a Set is independent of the original.
type Set struct {
	entries []entry
}

type entry struct {
	keyword string // upper-cased
	params  string
}

// Parse reads the extension lines of an EHLO reply: every line but the
// first (the first is the server's name and greeting). Keywords are
// case-insensitive; unknown keywords are kept.
//
// Parse is lenient with what real servers send: spaces around the
// parameters are trimmed, empty lines are skipped, a keyword outside the
// grammar of RFC 5321 section 4.1.1.1 is kept as it is (upper-cased), and
// the old "AUTH=PLAIN LOGIN" form (RFC 2554 era) adds its mechanisms to
// AUTH. A repeated keyword keeps its first place and its last parameters.
// Only a control character (CR, LF, NUL, DEL, ...) is an error,
// ErrMalformedLine; the lines before it are in the Set returned with it.
func Parse(lines []string) (Set, error) {
	var s Set
	for _, line := range lines {
		if hasControl(line) {
			return s, ErrMalformedLine
		}
		line = strings.Trim(line, " ")
		if line == "" {
			continue
		}
		keyword, params, _ := strings.Cut(line, " ")
		params = strings.Trim(params, " ")
		keyword = ascii.ToUpper(keyword)
		if mechs, ok := strings.CutPrefix(keyword, "AUTH="); ok {
			s.addAuthMechanisms(strings.Trim(mechs+" "+params, " "))
			continue
		}
		s.set(keyword, params)
	}
	return s, nil
}

// addAuthMechanisms adds the mechanisms of an "AUTH=" line to AUTH, or
// makes them AUTH's when there is none.
func (s *Set) addAuthMechanisms(mechs string) {
	have, ok := s.Params(Auth)
	if !ok {
		s.set(Auth, mechs)
		return
	}
	known := ascii.Fields(ascii.ToUpper(have))
	for _, m := range ascii.Fields(mechs) {
		if !slices.Contains(known, ascii.ToUpper(m)) {
			have = strings.Trim(have+" "+m, " ")
			known = append(known, ascii.ToUpper(m))
		}
	}
	s.set(Auth, have)
}

// Add appends keyword with its parameter text, replacing an earlier entry of
// the same keyword (in its place).
//
// Add is for a server building its EHLO reply, so it takes only what may go
// on the wire: a keyword of RFC 5321 section 4.1.1.1, (ALPHA / DIGIT)
// *(ALPHA / DIGIT / "-"), and parameters of printable US-ASCII and spaces.
// Anything else is ignored (see ValidKeyword and ValidParams).
func (s *Set) Add(keyword, params string) {
	if !ValidKeyword(keyword) || !ValidParams(params) {
		return
	}
	s.set(ascii.ToUpper(keyword), params)
}

// set stores keyword (already upper-cased) without checking it. It never
// writes into an array another Set may share.
func (s *Set) set(keyword, params string) {
	for i, e := range s.entries {
		if e.keyword == keyword {
			entries := make([]entry, len(s.entries))
			copy(entries, s.entries)
			entries[i].params = params
			s.entries = entries
			return
		}
	}
	n := len(s.entries)
	s.entries = append(s.entries[:n:n], entry{keyword: keyword, params: params})
}

// ValidKeyword reports whether k is an ehlo-keyword (RFC 5321 section
// 4.1.1.1): a letter or digit, then letters, digits and hyphens.
func ValidKeyword(k string) bool {
	if k == "" || k[0] == '-' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ValidParams reports whether p can follow a keyword in an EHLO line:
// ehlo-params (RFC 5321 section 4.1.1.1, octets 33 to 126) separated by
// spaces.
func ValidParams(p string) bool {
	for i := 0; i < len(p); i++ {
		if p[i] < ' ' || p[i] > '~' {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// Has reports whether keyword was advertised (case-insensitive).
func (s Set) Has(keyword string) bool {
	_, ok := s.Params(keyword)
	return ok
}

// Params returns the parameter text of keyword and whether it was advertised.
func (s Set) Params(keyword string) (string, bool) {
	for _, e := range s.entries {
		if ascii.EqualFold(e.keyword, keyword) {
			return e.params, true
		}
	}
	return "", false
}

// Lines formats the set for a server's EHLO reply, one "KEYWORD params"
// string per extension, in the order added.
func (s Set) Lines() []string {
	lines := make([]string, len(s.entries))
	for i, e := range s.entries {
		lines[i] = e.keyword
		if e.params != "" {
			lines[i] += " " + e.params
		}
	}
	return lines
}

// Keywords returns the advertised keywords, upper-cased, in order.
func (s Set) Keywords() []string {
	keywords := make([]string, len(s.entries))
	for i, e := range s.entries {
		keywords[i] = e.keyword
	}
	return keywords
}

// Len returns the number of extensions in s.
func (s Set) Len() int { return len(s.entries) }

// MaxSize returns the SIZE limit (RFC 1870 section 4): ok is false when SIZE
// was not advertised; 0 with ok true means no fixed limit. That is so for
// "SIZE" alone and "SIZE 0", and also for a value that is not a number
// (which a client can only ignore).
func (s Set) MaxSize() (n int64, ok bool) {
	params, ok := s.Params(Size)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(firstField(params), 10, 64)
	if err != nil || n < 0 {
		return 0, true
	}
	return n, true
}

// AuthMechanisms returns the SASL mechanisms of AUTH (RFC 4954 section 3),
// upper-cased, each once, in the order advertised. The old "AUTH=..." form
// is folded into AUTH by Parse.
func (s Set) AuthMechanisms() []string {
	params, ok := s.Params(Auth)
	if !ok {
		return nil
	}
	var mechs []string
	for _, m := range ascii.Fields(params) {
		m = ascii.ToUpper(m)
		if !slices.Contains(mechs, m) {
			mechs = append(mechs, m)
		}
	}
	return mechs
}

func firstField(s string) string {
	s, _, _ = strings.Cut(strings.Trim(s, " "), " ")
	return s
}
