package textproto

// Path is a reverse-path or forward-path of RFC 5321 section 4.1.2 with any
// source route dropped (appendix C). The null path "<>" has Null set and
// empty Local and Domain.
type Path struct {
	Null   bool
	Local  string // the local part, unquoted: `"a b"@x` has Local `a b`
	Domain string // a domain (A-labels, as on the wire unless converted) or an address literal with its brackets, "[192.0.2.1]"
}

// String returns the path as a mailbox, local@domain, quoting the local
// part when it needs it; "" for the null path, "Postmaster" for a bare
// postmaster recipient.
func (p Path) String() string { return "" } // TODO(foundation)

// ParseOptions are the choices the grammar leaves to the server.
type ParseOptions struct {
	// SMTPUTF8 accepts UTF-8 local parts and U-label domains (RFC 6531);
	// U-labels are converted to A-labels. Without it any octet above 127 is
	// an error.
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
func ParseMail(args []byte, opt ParseOptions) (Path, Params, error) {
	return Path{}, nil, nil // TODO(foundation)
}

// ParseRcpt parses the arguments of RCPT ("TO:<path> params"). "<>" is an
// error; "<Postmaster>" (any case) is accepted with Local "Postmaster" and an
// empty Domain. Errors are *ParseError.
func ParseRcpt(args []byte, opt ParseOptions) (Path, Params, error) {
	return Path{}, nil, nil // TODO(foundation)
}

// ParseMailbox parses a bare mailbox, local@domain, without angle brackets:
// for VRFY arguments and for a client checking the addresses it was given.
func ParseMailbox(s string, opt ParseOptions) (Path, error) {
	return Path{}, nil // TODO(foundation)
}
