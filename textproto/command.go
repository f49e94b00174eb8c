package textproto

// Verb identifies an SMTP command. Unknown verbs are VerbUnknown; the verb as
// sent is then in Command.Name.
type Verb uint8

// The verbs of RFC 5321 section 4.1 and its extensions.
const (
	VerbUnknown Verb = iota
	VerbHELO
	VerbEHLO
	VerbLHLO // RFC 2033
	VerbMAIL
	VerbRCPT
	VerbDATA
	VerbBDAT // RFC 3030
	VerbRSET
	VerbNOOP
	VerbQUIT
	VerbVRFY
	VerbEXPN
	VerbHELP
	VerbSTARTTLS // RFC 3207
	VerbAUTH     // RFC 4954
	VerbETRN     // RFC 1985
	VerbTURN     // RFC 821
	VerbATRN     // RFC 2645
	VerbSEND
	VerbSOML
	VerbSAML
	VerbXCLIENT // Postfix XCLIENT
)

// String returns the verb's canonical upper-case name ("UNKNOWN" for
// VerbUnknown). It does not allocate.
func (v Verb) String() string { return "" } // TODO(foundation)

// Command is one parsed command line (RFC 5321 section 4.1.1). Name and Args
// alias the line passed to ParseCommand and are valid only as long as it is.
type Command struct {
	Verb Verb
	Name []byte // the verb as sent
	Args []byte // everything after the single SP that follows the verb; nil if none
}

// ParseCommand splits one command line (without its CRLF) into verb and
// arguments. It rejects control bytes and a line that does not start with a
// verb, returning a *ParseError carrying the reply to send (500 5.5.2). It
// does not allocate.
func ParseCommand(line []byte) (Command, error) {
	return Command{}, nil // TODO(foundation)
}
