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

var verbNames = [...]string{
	VerbUnknown:  "UNKNOWN",
	VerbHELO:     "HELO",
	VerbEHLO:     "EHLO",
	VerbLHLO:     "LHLO",
	VerbMAIL:     "MAIL",
	VerbRCPT:     "RCPT",
	VerbDATA:     "DATA",
	VerbBDAT:     "BDAT",
	VerbRSET:     "RSET",
	VerbNOOP:     "NOOP",
	VerbQUIT:     "QUIT",
	VerbVRFY:     "VRFY",
	VerbEXPN:     "EXPN",
	VerbHELP:     "HELP",
	VerbSTARTTLS: "STARTTLS",
	VerbAUTH:     "AUTH",
	VerbETRN:     "ETRN",
	VerbTURN:     "TURN",
	VerbATRN:     "ATRN",
	VerbSEND:     "SEND",
	VerbSOML:     "SOML",
	VerbSAML:     "SAML",
	VerbXCLIENT:  "XCLIENT",
}

// String returns the verb's canonical upper-case name ("UNKNOWN" for
// VerbUnknown). It does not allocate.
func (v Verb) String() string {
	if int(v) < len(verbNames) {
		return verbNames[v]
	}
	return verbNames[VerbUnknown]
}

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
// does not allocate, except for the error it returns.
//
// The verb is ALPHA *(ALPHA / DIGIT / "-"), the shape of every command and
// extension keyword of RFC 5321 section 4.1.1 and 2.2.2, matched without
// regard to case. It ends the line or is followed by exactly one SP and the
// arguments. Trailing spaces are dropped from the arguments, and arguments
// that are nothing but spaces count as none, so "NOOP " and "QUIT  " parse
// as NOOP and QUIT (as Postfix accepts them). A second SP right after the
// verb is kept in Args, for the command's own grammar to judge.
//
// Every octet below 0x20 and DEL (0x7F) is an error, horizontal tab
// included: RFC 5321's command grammar separates with SP only and its
// quoted strings (qtextSMTP, quoted-pairSMTP) admit %d32-126 only, so a tab
// has no legal place on a command line. Octets above 0x7F are left to the
// command's grammar (RFC 6531 admits UTF-8 in some arguments).
func ParseCommand(line []byte) (Command, error) {
	if len(line) == 0 {
		return Command{}, errLine("empty command line")
	}
	n := 0
	for n < len(line) && isVerbByte(line[n], n == 0) {
		n++
	}
	if n == 0 {
		return Command{}, errLine("syntax error: command must start with a verb")
	}
	cmd := Command{Name: line[:n]}
	if n < len(line) {
		if line[n] != ' ' {
			if isControl(line[n]) {
				return Command{}, errLine("syntax error: control character in command")
			}
			return Command{}, errLine("syntax error: verb must be followed by a space")
		}
		rest := line[n+1:]
		for _, c := range rest {
			if isControl(c) {
				return Command{}, errLine("syntax error: control character in command")
			}
		}
		end := lastNonSpace(rest)
		if end > 0 {
			cmd.Args = rest[:end]
		}
	}
	cmd.Verb = lookupVerb(cmd.Name)
	return cmd, nil
}

// lastNonSpace returns one past the index of the last octet of b that is
// not SP, or 0 if there is none.
func lastNonSpace(b []byte) int {
	for i := len(b); i > 0; i-- {
		if b[i-1] != ' ' {
			return i
		}
	}
	return 0
}

func isVerbByte(c byte, first bool) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		return true
	case first:
		return false
	default:
		return '0' <= c && c <= '9' || c == '-'
	}
}

// isControl reports whether c is an ASCII control character (C0 or DEL).
func isControl(c byte) bool { return c < 0x20 || c == 0x7f }

// lookupVerb maps a verb, in any case, to its Verb. It packs the upper-cased
// octets into one integer and switches on it, so it neither allocates nor
// loops over a table.
func lookupVerb(name []byte) Verb {
	if len(name) != 4 && len(name) != 7 && len(name) != 8 {
		return VerbUnknown
	}
	var key uint64
	for _, c := range name {
		key = key<<8 | uint64(c&^0x20) // letters only here: clearing 0x20 upper-cases
	}
	switch key {
	case keyHELO:
		return VerbHELO
	case keyEHLO:
		return VerbEHLO
	case keyLHLO:
		return VerbLHLO
	case keyMAIL:
		return VerbMAIL
	case keyRCPT:
		return VerbRCPT
	case keyDATA:
		return VerbDATA
	case keyBDAT:
		return VerbBDAT
	case keyRSET:
		return VerbRSET
	case keyNOOP:
		return VerbNOOP
	case keyQUIT:
		return VerbQUIT
	case keyVRFY:
		return VerbVRFY
	case keyEXPN:
		return VerbEXPN
	case keyHELP:
		return VerbHELP
	case keySTARTTLS:
		return VerbSTARTTLS
	case keyAUTH:
		return VerbAUTH
	case keyETRN:
		return VerbETRN
	case keyTURN:
		return VerbTURN
	case keyATRN:
		return VerbATRN
	case keySEND:
		return VerbSEND
	case keySOML:
		return VerbSOML
	case keySAML:
		return VerbSAML
	case keyXCLIENT:
		return VerbXCLIENT
	}
	return VerbUnknown
}

// Verb keys: the verb's octets packed big-endian, as lookupVerb builds them.
const (
	keyHELO     = 'H'<<24 | 'E'<<16 | 'L'<<8 | 'O'
	keyEHLO     = 'E'<<24 | 'H'<<16 | 'L'<<8 | 'O'
	keyLHLO     = 'L'<<24 | 'H'<<16 | 'L'<<8 | 'O'
	keyMAIL     = 'M'<<24 | 'A'<<16 | 'I'<<8 | 'L'
	keyRCPT     = 'R'<<24 | 'C'<<16 | 'P'<<8 | 'T'
	keyDATA     = 'D'<<24 | 'A'<<16 | 'T'<<8 | 'A'
	keyBDAT     = 'B'<<24 | 'D'<<16 | 'A'<<8 | 'T'
	keyRSET     = 'R'<<24 | 'S'<<16 | 'E'<<8 | 'T'
	keyNOOP     = 'N'<<24 | 'O'<<16 | 'O'<<8 | 'P'
	keyQUIT     = 'Q'<<24 | 'U'<<16 | 'I'<<8 | 'T'
	keyVRFY     = 'V'<<24 | 'R'<<16 | 'F'<<8 | 'Y'
	keyEXPN     = 'E'<<24 | 'X'<<16 | 'P'<<8 | 'N'
	keyHELP     = 'H'<<24 | 'E'<<16 | 'L'<<8 | 'P'
	keySTARTTLS = 'S'<<56 | 'T'<<48 | 'A'<<40 | 'R'<<32 | 'T'<<24 | 'T'<<16 | 'L'<<8 | 'S'
	keyAUTH     = 'A'<<24 | 'U'<<16 | 'T'<<8 | 'H'
	keyETRN     = 'E'<<24 | 'T'<<16 | 'R'<<8 | 'N'
	keyTURN     = 'T'<<24 | 'U'<<16 | 'R'<<8 | 'N'
	keyATRN     = 'A'<<24 | 'T'<<16 | 'R'<<8 | 'N'
	keySEND     = 'S'<<24 | 'E'<<16 | 'N'<<8 | 'D'
	keySOML     = 'S'<<24 | 'O'<<16 | 'M'<<8 | 'L'
	keySAML     = 'S'<<24 | 'A'<<16 | 'M'<<8 | 'L'
	keyXCLIENT  = 'X'<<48 | 'C'<<40 | 'L'<<32 | 'I'<<24 | 'E'<<16 | 'N'<<8 | 'T'
)
