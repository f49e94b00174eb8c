package textproto

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
	return "", false // TODO(foundation)
}
