package smtp

import "github.com/postwire/postwire/textproto"

// state is where a connection stands in the SMTP dialogue (RFC 5321
// section 4.1.4 orders the commands; RFC 3030 section 2 adds BDAT).
type state uint8

const (
	// stateConnected: the greeting was sent, no HELO/EHLO/LHLO yet (and
	// again after STARTTLS, RFC 3207 section 4.2).
	stateConnected state = iota
	// stateGreeted: HELO/EHLO/LHLO accepted, no transaction.
	stateGreeted
	// stateMail: MAIL accepted, no recipient yet.
	stateMail
	// stateRcpt: MAIL and at least one RCPT accepted.
	stateRcpt
	// stateBDAT: BDAT chunks are arriving, the LAST one not yet.
	stateBDAT
	numStates
)

var stateNames = [numStates]string{"connected", "greeted", "mail", "rcpt", "bdat"}

func (s state) String() string { return stateNames[s] }

// inTransaction reports whether a mail transaction is open.
func (s state) inTransaction() bool { return s >= stateMail }

// numVerbs bounds textproto.Verb for the table.
const numVerbs = int(textproto.VerbXCLIENT) + 1

// allowed is THE table of which command may be sent in which state. A
// command that is not allowed gets 503 5.5.1 (RFC 5321 section 4.3.2)
// and changes nothing; handlers never re-check the order of commands.
//
// Column notes:
//   - HELO, EHLO and LHLO may come at any time but between BDAT chunks;
//     they abort a transaction (RFC 5321 section 4.1.4).
//   - MAIL needs a greeting and no open transaction (section 4.1.1.2,
//     3.3); RCPT needs MAIL; DATA and BDAT need an accepted recipient
//     (section 3.3, RFC 3030 section 2), in LMTP too (RFC 2033 section
//     4.2: 503).
//   - Between BDAT chunks only BDAT, RSET, QUIT, NOOP and HELP make sense
//     (RFC 3030 section 3); RSET and QUIT abort the message.
//   - STARTTLS and AUTH are refused inside a transaction (RFC 3207
//     section 4, RFC 4954 section 4); AUTH also needs EHLO, checked by its
//     handler against what was advertised.
//   - XCLIENT may come at any time but inside a transaction
//     (XCLIENT_README); whether the client may use it is its handler's
//     business (550 5.7.0).
//   - Commands that are only ever answered 502 (ETRN, TURN, ...) are
//     allowed everywhere but between BDAT chunks, so that their answer
//     does not depend on the state.
var allowed = func() (t [numStates][numVerbs]bool) {
	anyTime := []textproto.Verb{textproto.VerbRSET, textproto.VerbNOOP, textproto.VerbQUIT, textproto.VerbHELP}
	outsideBDAT := []textproto.Verb{
		textproto.VerbHELO, textproto.VerbEHLO, textproto.VerbLHLO,
		textproto.VerbVRFY, textproto.VerbEXPN,
		textproto.VerbETRN, textproto.VerbTURN, textproto.VerbATRN,
		textproto.VerbSEND, textproto.VerbSOML, textproto.VerbSAML,
	}
	for s := range numStates {
		for _, v := range anyTime {
			t[s][v] = true
		}
		if s != stateBDAT {
			for _, v := range outsideBDAT {
				t[s][v] = true
			}
		}
	}
	for _, s := range []state{stateConnected, stateGreeted} {
		t[s][textproto.VerbSTARTTLS] = true
		t[s][textproto.VerbXCLIENT] = true
	}
	t[stateGreeted][textproto.VerbAUTH] = true
	t[stateGreeted][textproto.VerbMAIL] = true
	t[stateMail][textproto.VerbRCPT] = true
	t[stateRcpt][textproto.VerbRCPT] = true
	t[stateRcpt][textproto.VerbDATA] = true
	t[stateRcpt][textproto.VerbBDAT] = true
	t[stateBDAT][textproto.VerbBDAT] = true
	return t
}()

// refusal is the text of the 503 for a command out of sequence, chosen by
// what the state lacks.
func refusal(s state, v textproto.Verb) string {
	switch {
	case s == stateConnected && v != textproto.VerbAUTH:
		return "Send HELO/EHLO first"
	case s == stateBDAT:
		return "Only BDAT, RSET, NOOP, HELP or QUIT between BDAT chunks"
	}
	switch v {
	case textproto.VerbMAIL:
		return "Nested MAIL command"
	case textproto.VerbRCPT:
		return "Need MAIL before RCPT"
	case textproto.VerbDATA, textproto.VerbBDAT:
		// 503 in LMTP too: RFC 2033 section 4.2 says a DATA without an
		// accepted recipient "MUST fail with a 503 reply code".
		return "Need RCPT (recipient) first"
	case textproto.VerbAUTH:
		if s == stateConnected {
			return "Send EHLO first"
		}
		return "AUTH not allowed during a mail transaction"
	case textproto.VerbSTARTTLS:
		return "STARTTLS not allowed during a mail transaction"
	case textproto.VerbXCLIENT:
		return "XCLIENT not allowed during a mail transaction"
	}
	return "Bad sequence of commands"
}
