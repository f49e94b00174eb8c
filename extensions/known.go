package extensions

import (
	"slices"

	"github.com/postwire/postwire/internal/ascii"
)

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

// CommandLineBase is the longest command line, CRLF included, without
// extensions (RFC 5321 section 4.5.3.1.4).
const CommandLineBase = 512

// known is the one table of the extensions the library knows.
//
// The line increments are the extensions' own figures where their RFC
// gives one; TestLineIncrementsAreTheRFCs pins each to the RFC's sentence:
//   - SIZE: 26, RFC 1870 section 3 item (5), "the maximum length of a
//     MAIL FROM command line is increased by 26 characters by the possible
//     addition of the SIZE keyword and value".
//   - AUTH: 500, RFC 4954 section 3 item 5, the AUTH parameter "extends
//     the maximum line length of the MAIL FROM command by 500 characters".
//   - BINARYMIME: 16, RFC 3030 section 3 item 8, "The maximum length of a
//     MAIL FROM command line is increased by 16 characters by the possible
//     addition of the BODY=BINARYMIME keyword and value".
//   - SMTPUTF8: 10, RFC 6531 section 3.1 item 5, "The maximum length of a
//     MAIL command line is increased by 10 characters to accommodate the
//     possible addition of the SMTPUTF8 parameter."
//   - REQUIRETLS: 11, RFC 8689 section 2 item 5, "The maximum length of a
//     MAIL FROM command line is increased by 11 octets by the possible
//     addition of a space and the REQUIRETLS keyword."
//   - DSN, RCPT: 530, RFC 3461 section 5.4, "A conforming MTA MUST be able
//     to accept SMTP command-lines which are at least 1036 characters long
//     (530 characters for the ORCPT and NOTIFY parameters of the RCPT
//     command, in addition to the 512 characters required by [1])". The
//     RFC's total does not add up (512 + 530 is 1042); 530 is what its own
//     sizes give, ORCPT 500 and NOTIFY 28 each with a space before it.
//   - DSN, MAIL: 110. RFC 3461 gives no MAIL figure; section 5.4 has a
//     conforming MTA accept "(a) ENVID parameter: 100 characters" and
//     "(d) RET parameter: 8 characters", counted with the keyword and "="
//     (RET=FULL is 8, and item (b)'s NOTIFY 28 is
//     NOTIFY=SUCCESS,FAILURE,DELAY); with a space before each, 101 + 9.
//
// Where the RFC gives none, the increment is the length of the longest
// form of the parameter with its leading space, so that a server never
// refuses a line the extension allows:
//   - 8BITMIME: 14, " BODY=8BITMIME" (RFC 6152 section 2 defines BODY and
//     no line increment, as RFC 1652 section 2 before it).
//   - MT-PRIORITY: 15, " MT-PRIORITY=-9" (RFC 6710 section 3, values -9
//     to 9). RFC 6710's text was not at hand to check for a figure.
//   - DELIVERBY: 17, " BY=" and by-time (a sign and up to 9 digits), ";",
//     and by-mode with the trace flag, "RT" (RFC 2852 section 4). RFC
//     2852's text was not at hand to check for a figure.
var known = []Extension{
	{Keyword: Pipelining, RFC: "RFC 2920"},
	{Keyword: EightBitMIME, RFC: "RFC 6152", MailParams: []string{"BODY"},
		MailLineIncrement: 14}, // longest form " BODY=8BITMIME"; RFC 6152 section 2 gives none
	{Keyword: Size, RFC: "RFC 1870", MailParams: []string{"SIZE"},
		MailLineIncrement: 26}, // RFC 1870 section 3 item (5)
	{Keyword: EnhancedStatusCodes, RFC: "RFC 2034"},
	{Keyword: StartTLS, RFC: "RFC 3207"},
	{Keyword: Auth, RFC: "RFC 4954", MailParams: []string{"AUTH"},
		MailLineIncrement: 500}, // RFC 4954 section 3 item 5
	{Keyword: Chunking, RFC: "RFC 3030"},
	{Keyword: BinaryMIME, RFC: "RFC 3030", MailParams: []string{"BODY"},
		MailLineIncrement: 16}, // RFC 3030 section 3 item 8
	{Keyword: SMTPUTF8, RFC: "RFC 6531", MailParams: []string{"SMTPUTF8"},
		MailLineIncrement: 10}, // RFC 6531 section 3.1 item 5
	{Keyword: DSN, RFC: "RFC 3461", MailParams: []string{"RET", "ENVID"}, RcptParams: []string{"NOTIFY", "ORCPT"},
		MailLineIncrement: 110,  // RFC 3461 section 5.4 (a) and (d), each with its space
		RcptLineIncrement: 530}, // RFC 3461 section 5.4
	{Keyword: RequireTLS, RFC: "RFC 8689", MailParams: []string{"REQUIRETLS"},
		MailLineIncrement: 11}, // RFC 8689 section 2 item 5
	{Keyword: MTPriority, RFC: "RFC 6710", MailParams: []string{"MT-PRIORITY"},
		MailLineIncrement: 15}, // longest form " MT-PRIORITY=-9" (RFC 6710 section 3)
	{Keyword: DeliverBy, RFC: "RFC 2852", MailParams: []string{"BY"},
		MailLineIncrement: 17}, // longest form " BY=-999999999;RT" (RFC 2852 section 4)
	{Keyword: Limits, RFC: "RFC 9422"},
	{Keyword: VRFY, RFC: "RFC 5321"},
	{Keyword: EXPN, RFC: "RFC 5321"},
	{Keyword: Help, RFC: "RFC 5321"},
	{Keyword: ETRN, RFC: "RFC 1985"},
	{Keyword: ATRN, RFC: "RFC 2645"},
	{Keyword: XClient, RFC: "Postfix XCLIENT_README"},
}

// Known returns the table of known extensions, in a copy the caller may
// change.
func Known() []Extension {
	out := make([]Extension, len(known))
	for i, e := range known {
		out[i] = e.clone()
	}
	return out
}

func (e Extension) clone() Extension {
	e.MailParams = slices.Clone(e.MailParams)
	e.RcptParams = slices.Clone(e.RcptParams)
	return e
}

// lookup returns the table entry of keyword (case-insensitive), not copied.
func lookup(keyword string) *Extension {
	for i := range known {
		if ascii.EqualFold(known[i].Keyword, keyword) {
			return &known[i]
		}
	}
	return nil
}

// Lookup returns the known extension with keyword (case-insensitive).
func Lookup(keyword string) (Extension, bool) {
	if e := lookup(keyword); e != nil {
		return e.clone(), true
	}
	return Extension{}, false
}

// MailParamAllowed reports whether the MAIL parameter keyword
// (case-insensitive) is brought by an extension in s. AUTH= (RFC 4954
// section 5) is allowed when AUTH is in s.
func (s Set) MailParamAllowed(keyword string) bool {
	for _, en := range s.entries {
		if e := lookup(en.keyword); e != nil && containsFold(e.MailParams, keyword) {
			return true
		}
	}
	return false
}

// RcptParamAllowed reports whether the RCPT parameter keyword is brought by
// an extension in s.
func (s Set) RcptParamAllowed(keyword string) bool {
	for _, en := range s.entries {
		if e := lookup(en.keyword); e != nil && containsFold(e.RcptParams, keyword) {
			return true
		}
	}
	return false
}

// BodyAllowed reports whether MAIL may carry BODY=value (case-insensitive)
// under s: 7BIT whenever BODY is allowed (RFC 6152 section 2), 8BITMIME
// with 8BITMIME, and BINARYMIME with BINARYMIME and CHUNKING (RFC 3030
// section 3).
func (s Set) BodyAllowed(value string) bool {
	switch ascii.ToUpper(value) {
	case "7BIT":
		return s.Has(EightBitMIME) || s.Has(BinaryMIME)
	case "8BITMIME":
		return s.Has(EightBitMIME)
	case "BINARYMIME":
		return s.Has(BinaryMIME) && s.Has(Chunking)
	}
	return false
}

// CommandLineLimits returns the longest MAIL and RCPT command lines,
// CRLF included, allowed when s is in force: 512 plus each extension's
// increment.
func (s Set) CommandLineLimits() (mail, rcpt int) {
	mail, rcpt = CommandLineBase, CommandLineBase
	for _, en := range s.entries {
		if e := lookup(en.keyword); e != nil {
			mail += e.MailLineIncrement
			rcpt += e.RcptLineIncrement
		}
	}
	return mail, rcpt
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if ascii.EqualFold(x, s) {
			return true
		}
	}
	return false
}
