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

func (e *ParseError) Error() string { return e.Msg }

// Reply returns the reply a server sends for e.
func (e *ParseError) Reply() Reply {
	return Reply{Code: e.Code, Enhanced: e.Enhanced, Lines: []string{e.Msg}}
}
