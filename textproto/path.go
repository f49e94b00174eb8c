package textproto

import (
	"strings"
	"unicode/utf8"

	"github.com/postwire/postwire/internal/ascii"
)

// Path is a reverse-path or forward-path of RFC 5321 section 4.1.2 with any
// source route dropped (appendix C). The null path "<>" has Null set and
// empty Local and Domain.
type Path struct {
	Null   bool
	Local  string // the local part, unquoted: `"a b"@x` has Local `a b`
	Domain string // a domain (A-labels, as on the wire unless converted) or an address literal with its brackets, "[192.0.2.1]"
	// UDomain is the domain as it was written when it had U-labels
	// (RFC 5890 section 2.3.2.1; with SMTPUTF8, RFC 6531 section 3.3),
	// before Domain took its A-label form; "" when the domain was ASCII.
	UDomain string
}

// Sent returns the path as a mailbox the way it was written: String's
// form, but with UDomain for the domain when it has U-labels. String
// gives the A-label form; both name the same mailbox (RFC 5890 section
// 2.3.2.1).
func (p Path) Sent() string {
	if p.UDomain != "" {
		p.Domain = p.UDomain
	}
	return p.String()
}

// String returns the path as a mailbox, local@domain, quoting the local
// part when it needs it; "" for the null path, "Postmaster" for a bare
// postmaster recipient.
//
// The local part is written as a Dot-string when it is one (non-ASCII
// octets count as atext, as RFC 6531 section 3.3 allows) and as a
// Quoted-string otherwise, with "\" before each DQUOTE and backslash.
func (p Path) String() string {
	if p.Null {
		return ""
	}
	if p.Domain == "" {
		return p.Local
	}
	if isDotString(p.Local) {
		return p.Local + "@" + p.Domain
	}
	var b strings.Builder
	b.Grow(len(p.Local) + len(p.Domain) + 4)
	b.WriteByte('"')
	for i := 0; i < len(p.Local); i++ {
		if c := p.Local[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(p.Local[i])
	}
	b.WriteString(`"@`)
	b.WriteString(p.Domain)
	return b.String()
}

// isDotString reports whether s is Atom *("." Atom), counting octets above
// 0x7F as atext.
func isDotString(s string) bool {
	atom := 0
	for i := 0; i <= len(s); i++ {
		switch {
		case i == len(s) || s[i] == '.':
			if atom == 0 {
				return false
			}
			atom = 0
		case s[i] >= 0x80 || isAtext(s[i]):
			atom++
		default:
			return false
		}
	}
	return true
}

// ParseOptions are the choices the grammar leaves to the server.
type ParseOptions struct {
	// SMTPUTF8 permits UTF-8 in addresses and parameter values (RFC
	// 6531 section 3.3); U-label domains are converted to A-labels.
	// Without it any octet above 127 in an address is 553 5.6.7 (RFC 6531
	// section 3.5; 501 5.5.4 in a parameter value).
	//
	// What it means depends on the command, because RFC 6531 section 3.4
	// lets the client ask for SMTPUTF8 on MAIL alone:
	//
	//   - ParseMail: the server advertises SMTPUTF8. The reverse-path and
	//     the parameter values may then be UTF-8 only when the parameters
	//     include SMTPUTF8; the parser finds that itself, so that a
	//     "SMTPUTF8" inside a quoted local part asks for nothing.
	//   - ParseRcpt: the transaction's MAIL carried SMTPUTF8.
	//   - ParseMailbox: UTF-8 is permitted.
	SMTPUTF8 bool
	// Lenient accepts a space after the colon and a path without angle
	// brackets, as Postfix does with strict_rfc821_envelopes=no.
	Lenient bool
}

// Limits of RFC 5321 section 4.5.3.1.
const (
	MaxLocalPart = 64
	MaxDomain    = 255
	MaxPath      = 256
)

// ParseMail parses the arguments of MAIL ("FROM:<path> params", as found in
// Command.Args). Errors are *ParseError.
//
// "FROM:" is matched without regard to case. The path is "<>" (the null
// reverse-path) or "<" [ A-d-l ":" ] Mailbox ">"; a source route (A-d-l) is
// checked and dropped (RFC 5321 section 4.1.2 and appendix C). Errors: 501
// 5.5.4 when the arguments are not shaped like FROM:<...> params (including
// a space after the colon or missing angle brackets unless opt.Lenient),
// 553 5.1.3 when the address inside the brackets is malformed or breaks a
// limit of section 4.5.3.1 (local part 64, domain 255, path 256 octets
// counting its angle brackets and source route), and 501 5.5.4 for a
// malformed or repeated parameter. Unknown parameter keywords are not an
// error here: the server checks them against the extensions it offers and
// answers ErrUnknownParameter.
//
// The path and parameters are substrings of one copy of args: parsing
// "FROM:<a@b.example> SIZE=1000" makes two allocations, that copy and the
// Params slice.
func ParseMail(args []byte, opt ParseOptions) (Path, Params, error) {
	return parseEnvelope(args, "FROM:", false, opt)
}

// ParseRcpt parses the arguments of RCPT ("TO:<path> params"). "<>" is an
// error; "<Postmaster>" (any case) is accepted with Local "Postmaster" and an
// empty Domain. Errors are *ParseError.
//
// The grammar, errors and limits are those of ParseMail. "RCPT TO:<>" is
// 553 5.1.3, like any other address that is not a mailbox: the null path is
// a reverse-path only (RFC 5321 section 4.1.1.3).
func ParseRcpt(args []byte, opt ParseOptions) (Path, Params, error) {
	return parseEnvelope(args, "TO:", true, opt)
}

// ParseMailbox parses a bare mailbox, local@domain, without angle brackets:
// for VRFY arguments and for a client checking the addresses it was given.
// Errors are 553 5.1.3 *ParseError; the mailbox may be at most MaxPath-2
// octets, so that it fits a path.
func ParseMailbox(s string, opt ParseOptions) (Path, error) {
	if i := indexControl(s); i >= 0 {
		return Path{}, errAddress("control character in address")
	}
	p := mailboxParser{s: s, opt: opt}
	local, domain, end, err := p.mailbox(0)
	if err != nil {
		return Path{}, err
	}
	if end != len(s) {
		return Path{}, errAddress("bad address syntax")
	}
	if len(s) > MaxPath-2 {
		return Path{}, errAddress("address too long")
	}
	return Path{Local: local, Domain: domain, UDomain: p.udomain}, nil
}

func parseEnvelope(args []byte, prefix string, rcpt bool, opt ParseOptions) (Path, Params, error) {
	if len(args) < len(prefix) || !ascii.EqualFold(string(args[:len(prefix)]), prefix) {
		if rcpt {
			return Path{}, nil, errArgs("syntax: RCPT TO:<address>")
		}
		return Path{}, nil, errArgs("syntax: MAIL FROM:<address>")
	}
	var seen byte // every octet of args or'ed together: bit 7 set means non-ASCII
	for _, c := range args {
		if isControl(c) {
			return Path{}, nil, errArgs("control character in arguments")
		}
		seen |= c
	}
	s := string(args)
	i := len(prefix)
	if i < len(s) && s[i] == ' ' {
		if !opt.Lenient {
			return Path{}, nil, errArgs("syntax: no space allowed after the colon")
		}
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	var path Path
	var err *ParseError
	if i < len(s) && s[i] == '<' {
		path, i, err = parseBracketed(s, i, rcpt, opt)
	} else if opt.Lenient && i < len(s) {
		path, i, err = parseBare(s, i, rcpt, opt)
	} else {
		err = errArgs("syntax: address must be in angle brackets")
	}
	if err != nil {
		return Path{}, nil, err
	}
	pathEnd := i
	var params Params
	if i < len(s) {
		if s[i] != ' ' {
			return Path{}, nil, errArgs("syntax: unexpected text after address")
		}
		if params, err = parseParams(s, i, opt); err != nil {
			return Path{}, nil, err
		}
	}
	if !rcpt && opt.SMTPUTF8 && seen >= utf8.RuneSelf {
		if err := checkSMTPUTF8Requested(s[:pathEnd], params); err != nil {
			return Path{}, nil, err
		}
	}
	return path, params, nil
}

// checkSMTPUTF8Requested refuses a MAIL command whose reverse-path or
// parameter values are not ASCII unless its parameters include SMTPUTF8
// (RFC 6531 section 3.4): 553 5.6.7 for the path (section 3.5), 501
// 5.5.4 for a value, the errors the parser gives when SMTPUTF8 is not
// offered at all. It is called only for arguments with a non-ASCII octet.
func checkSMTPUTF8Requested(path string, params Params) *ParseError {
	if _, ok := params.Get("SMTPUTF8"); ok {
		return nil
	}
	if !isASCII(path) {
		return errNeedSMTPUTF8()
	}
	for _, p := range params {
		if !isASCII(p.Value) {
			return ErrBadParameterValue(p.Keyword)
		}
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// parseBracketed parses "<" [ A-d-l ":" ] Mailbox ">", "<>", or for a
// recipient "<Postmaster>", starting at the "<".
func parseBracketed(s string, start int, rcpt bool, opt ParseOptions) (Path, int, *ParseError) {
	i := start + 1
	var path Path
	switch {
	case i < len(s) && s[i] == '>':
		if rcpt {
			return Path{}, 0, errAddress("null path is not a recipient")
		}
		return Path{Null: true}, i + 1, nil
	case rcpt && len(s)-i >= 11 && ascii.EqualFold(s[i:i+11], "postmaster>"):
		return Path{Local: "Postmaster"}, i + 11, nil
	}
	p := mailboxParser{s: s, opt: opt}
	if i < len(s) && s[i] == '@' {
		var err *ParseError
		if i, err = p.sourceRoute(i); err != nil {
			return Path{}, 0, err
		}
	}
	local, domain, i, err := p.mailbox(i)
	if err != nil {
		return Path{}, 0, err
	}
	if i >= len(s) {
		return Path{}, 0, errArgs("syntax: missing > after address")
	}
	if s[i] != '>' {
		return Path{}, 0, errAddress("bad address syntax")
	}
	i++
	if i-start > MaxPath {
		return Path{}, 0, errAddress("path too long")
	}
	path.Local, path.Domain, path.UDomain = local, domain, p.udomain
	return path, i, nil
}

// sourceRoute checks and skips A-d-l ":", A-d-l = At-domain *( ","
// At-domain ), At-domain = "@" Domain (RFC 5321 section 4.1.2). Appendix C
// says to accept it and ignore it.
func (p *mailboxParser) sourceRoute(i int) (int, *ParseError) {
	for {
		if i >= len(p.s) || p.s[i] != '@' {
			return 0, errAddress("bad source route")
		}
		var err *ParseError
		if _, i, err = p.domain(i + 1); err != nil {
			return 0, err
		}
		if i < len(p.s) && p.s[i] == ':' {
			return i + 1, nil
		}
		if i >= len(p.s) || p.s[i] != ',' {
			return 0, errAddress("bad source route")
		}
		i++
	}
}

// parseBare parses a mailbox (or Postmaster) without angle brackets, as the
// lenient mode allows; it ends at SP or at the end of the arguments.
func parseBare(s string, i int, rcpt bool, opt ParseOptions) (Path, int, *ParseError) {
	end := strings.IndexByte(s[i:], ' ')
	if end < 0 {
		end = len(s)
	} else {
		end += i
	}
	if rcpt && ascii.EqualFold(s[i:end], "postmaster") {
		return Path{Local: "Postmaster"}, end, nil
	}
	p := mailboxParser{s: s[:end], opt: opt}
	local, domain, j, err := p.mailbox(i)
	if err != nil {
		return Path{}, 0, err
	}
	if j != end {
		return Path{}, 0, errAddress("bad address syntax")
	}
	if end-i+2 > MaxPath {
		return Path{}, 0, errAddress("path too long")
	}
	return Path{Local: local, Domain: domain, UDomain: p.udomain}, end, nil
}

func indexControl(s string) int {
	for i := 0; i < len(s); i++ {
		if isControl(s[i]) {
			return i
		}
	}
	return -1
}
