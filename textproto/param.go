package textproto

import (
	"strings"
	"unicode/utf8"

	"github.com/postwire/postwire/internal/ascii"
)

// Param is one ESMTP parameter of MAIL or RCPT (RFC 5321 section 4.1.2,
// esmtp-param): a keyword, upper-cased, and its value when it has one.
type Param struct {
	Keyword  string
	Value    string
	HasValue bool
}

// Params are the parameters of one command, in the order sent. A keyword
// appears at most once: a repeat is a parse error.
type Params []Param

// Get returns the value of keyword (case-insensitive) and whether it was
// present.
func (ps Params) Get(keyword string) (value string, ok bool) {
	for _, p := range ps {
		if ascii.EqualFold(p.Keyword, keyword) {
			return p.Value, true
		}
	}
	return "", false
}

// parseParams parses SP esmtp-param *(SP esmtp-param) from s[i:], where s[i]
// is the first SP (RFC 5321 section 4.1.2):
//
//	esmtp-param   = esmtp-keyword ["=" esmtp-value]
//	esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
//	esmtp-value   = 1*(%d33-60 / %d62-126)   ; =/ UTF8-non-ascii (RFC 6531)
//
// Strictly one SP separates parameters; the lenient mode takes runs of
// spaces. Keywords are upper-cased; a malformed or repeated parameter is
// 501 5.5.4.
func parseParams(s string, i int, opt ParseOptions) (Params, *ParseError) {
	params := make(Params, 0, strings.Count(s[i:], " "))
	for i < len(s) {
		i++ // the SP
		if opt.Lenient {
			for i < len(s) && s[i] == ' ' {
				i++
			}
			if i == len(s) {
				break
			}
		}
		start := i
		for i < len(s) && (isLetDig(s[i]) || s[i] == '-' && i > start) {
			i++
		}
		if i == start || i < len(s) && s[i] != '=' && s[i] != ' ' {
			return nil, errArgs("malformed parameter")
		}
		p := Param{Keyword: upperKeyword(s[start:i])}
		if i < len(s) && s[i] == '=' {
			i++
			v := i
			for i < len(s) && s[i] != ' ' {
				c := s[i]
				switch {
				case c >= utf8.RuneSelf:
					r, n := utf8.DecodeRuneInString(s[i:])
					if !opt.SMTPUTF8 || r == utf8.RuneError && n <= 1 || r < 0xa0 {
						return nil, ErrBadParameterValue(p.Keyword)
					}
					i += n
				case c < 33 || c == '=' || c > 126:
					return nil, ErrBadParameterValue(p.Keyword)
				default:
					i++
				}
			}
			if i == v {
				return nil, ErrBadParameterValue(p.Keyword)
			}
			p.Value, p.HasValue = s[v:i], true
		}
		if _, dup := params.Get(p.Keyword); dup {
			return nil, &ParseError{501, enhArgs, "repeated parameter " + safeToken(p.Keyword)}
		}
		params = append(params, p)
	}
	if len(params) == 0 {
		return nil, nil
	}
	return params, nil
}

// knownKeywords are the MAIL and RCPT parameters of the extensions this
// module knows, so that a keyword sent in lower case costs no allocation.
var knownKeywords = [...]string{
	"SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "NOTIFY", "ORCPT",
	"REQUIRETLS", "MT-PRIORITY", "BY", "AUTH", "HOLDFOR", "HOLDUNTIL",
}

// upperKeyword returns kw in upper case, allocating only for an unknown
// keyword not already in upper case.
func upperKeyword(kw string) string {
	upper := true
	for i := 0; i < len(kw) && upper; i++ {
		upper = !('a' <= kw[i] && kw[i] <= 'z')
	}
	if upper {
		return kw
	}
	for _, k := range knownKeywords {
		if ascii.EqualFold(k, kw) {
			return k
		}
	}
	return ascii.ToUpper(kw)
}
