package textproto

// ParseError is a syntax or address error found on the wire, carrying the
// reply a server should send for it (RFC 5321 section 4.2, RFC 3463):
// 500 5.5.2 or 501 5.5.4 for syntax, 553 5.1.3 for a bad address, 555 5.5.4
// for an unknown MAIL/RCPT parameter, 501 5.5.4 for a bad parameter value.
type ParseError struct {
	Code     int
	Enhanced EnhancedCode
	Msg      string
}

// Error returns the reply text, without code or enhanced code.
func (e *ParseError) Error() string { return e.Msg }

// Reply returns the reply a server sends for e.
func (e *ParseError) Reply() Reply {
	return Reply{Code: e.Code, Enhanced: e.Enhanced, Lines: []string{e.Msg}}
}

// Enhanced status codes of RFC 3463 that the parser uses.
var (
	enhSyntax     = EnhancedCode{5, 5, 2} // 5.5.2 syntax error (command line)
	enhArgs       = EnhancedCode{5, 5, 4} // 5.5.4 invalid command arguments
	enhBadAddress = EnhancedCode{5, 1, 3} // 5.1.3 bad destination mailbox address syntax
	enhNonASCII   = EnhancedCode{5, 6, 7} // 5.6.7 non-ASCII addresses not permitted (RFC 6531)
)

// errLine is 500 5.5.2: the command line itself is unrecognisable (RFC 5321
// section 4.2.2, "Syntax error, command unrecognized").
func errLine(msg string) *ParseError { return &ParseError{500, enhSyntax, msg} }

// errArgs is 501 5.5.4: a syntax error in the arguments (RFC 5321 section
// 4.2.2, "Syntax error in parameters or arguments").
func errArgs(msg string) *ParseError { return &ParseError{501, enhArgs, msg} }

// errAddress is 553 5.1.3: the address breaks RFC 5321 section 4.1.2 or the
// limits of section 4.5.3.1 ("mailbox name not allowed").
func errAddress(msg string) *ParseError { return &ParseError{553, enhBadAddress, msg} }

// errNeedSMTPUTF8 is 553 5.6.7: a non-ASCII address in a transaction that did
// not ask for SMTPUTF8 (RFC 6531 section 3.5; X.6.7 is registered in its
// section 4.2 for 550 and 553).
func errNeedSMTPUTF8() *ParseError {
	return &ParseError{553, enhNonASCII, "non-ASCII address requires SMTPUTF8"}
}

// ErrUnknownParameter returns the 555 5.5.4 error a server sends for a
// MAIL or RCPT parameter it did not advertise (RFC 5321 section 4.1.1.11,
// RFC 3463 5.5.4). kw is cleaned of anything unsafe and shortened before it
// goes into the text.
func ErrUnknownParameter(kw string) *ParseError {
	return &ParseError{555, enhArgs, "unsupported parameter " + safeToken(kw)}
}

// ErrBadParameterValue returns the 501 5.5.4 error for a parameter whose
// value the server cannot accept (RFC 5321 section 4.2.2, RFC 3463 5.5.4).
// kw is cleaned and shortened as for ErrUnknownParameter.
func ErrBadParameterValue(kw string) *ParseError {
	return &ParseError{501, enhArgs, "bad value for parameter " + safeToken(kw)}
}

// safeToken returns s limited to 32 printable ASCII octets, other octets
// replaced by '?', so that a peer's bytes never reach a reply unchecked.
func safeToken(s string) string {
	const max = 32
	clean := len(s) <= max
	for i := 0; clean && i < len(s); i++ {
		clean = s[i] > ' ' && s[i] < 0x7f
	}
	if clean {
		return s
	}
	n := min(len(s), max)
	b := make([]byte, n)
	for i := range n {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			c = '?'
		}
		b[i] = c
	}
	if len(s) > max {
		return string(b) + "..."
	}
	return string(b)
}
