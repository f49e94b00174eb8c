// Package extensions is the set of SMTP service extensions a server
// advertises in its EHLO reply (RFC 5321 section 4.1.1.1): parse it from the
// reply's lines, format it for a server, read typed values from it, and know
// which MAIL and RCPT parameters each extension brings.
package extensions

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
	Help                = "HELP"                // RFC 5321 section 4.1.1.8
)

// Set is an ordered set of EHLO keywords, each with its parameter text
// (everything after the keyword and one space; "" if none). The zero value
// is an empty set.
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
func Parse(lines []string) (Set, error) { return Set{}, nil } // TODO(foundation)

// Add appends keyword with its parameter text, replacing an earlier entry of
// the same keyword.
func (s *Set) Add(keyword, params string) {} // TODO(foundation)

// Has reports whether keyword was advertised (case-insensitive).
func (s Set) Has(keyword string) bool { return false } // TODO(foundation)

// Params returns the parameter text of keyword and whether it was advertised.
func (s Set) Params(keyword string) (string, bool) { return "", false } // TODO(foundation)

// Lines formats the set for a server's EHLO reply, one "KEYWORD params"
// string per extension, in the order added.
func (s Set) Lines() []string { return nil } // TODO(foundation)

// Keywords returns the advertised keywords, upper-cased, in order.
func (s Set) Keywords() []string { return nil } // TODO(foundation)

// MaxSize returns the SIZE limit (RFC 1870 section 4): ok is false when SIZE
// was not advertised; 0 with ok true means no fixed limit.
func (s Set) MaxSize() (n int64, ok bool) { return 0, false } // TODO(foundation)

// AuthMechanisms returns the SASL mechanisms of AUTH (RFC 4954 section 3),
// upper-cased.
func (s Set) AuthMechanisms() []string { return nil } // TODO(foundation)
