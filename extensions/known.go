package extensions

// Extension describes one known service extension: the RFC that defines
// it, the MAIL and RCPT parameters it brings, and how many octets it adds to
// the longest allowed command line for MAIL and RCPT (RFC 5321 section
// 4.5.3.1.4 and each extension's own text).
type Extension struct {
	Keyword           string
	RFC               string
	MailParams        []string
	RcptParams        []string
	MailLineIncrement int
	RcptLineIncrement int
}

// Lookup returns the known extension with keyword (case-insensitive).
func Lookup(keyword string) (Extension, bool) { return Extension{}, false } // TODO(foundation)

// MailParamAllowed reports whether the MAIL parameter keyword
// (case-insensitive) is brought by an extension in s. AUTH= (RFC 4954
// section 5) is allowed when AUTH is in s.
func (s Set) MailParamAllowed(keyword string) bool { return false } // TODO(foundation)

// RcptParamAllowed reports whether the RCPT parameter keyword is brought by
// an extension in s.
func (s Set) RcptParamAllowed(keyword string) bool { return false } // TODO(foundation)

// CommandLineLimits returns the longest MAIL and RCPT command lines,
// CRLF included, allowed when s is in force: 512 plus each extension's
// increment.
func (s Set) CommandLineLimits() (mail, rcpt int) { return 512, 512 } // TODO(foundation)
