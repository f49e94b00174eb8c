package textproto

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/postwire/postwire/internal/ascii"
)

// This file is the codec of the MAIL parameters of the extensions this
// module knows, one pair of functions per keyword, for both sides:
//
//   - ParseXxx takes a parameter's value as ParseMail leaves it in
//     Param.Value ("" when the parameter has none), checks it against the
//     extension's grammar and returns it decoded. An error is the
//     *ParseError a server sends for it, 501 5.5.4 naming the keyword
//     (ErrBadParameterValue). Whether the keyword was advertised at all
//     (555 5.5.4, ErrUnknownParameter) is the server's decision, made
//     before it calls here.
//   - AppendXxx checks a value a client wants to send and appends SP,
//     the keyword, "=" and the encoded value to dst; on error dst is
//     returned unchanged. Whether the server advertised the keyword is
//     the client's business.
//
// What AppendXxx writes, ParseXxx returns unchanged, and what ParseXxx
// accepts AppendXxx can write again: the two sides cannot drift apart.
// Keywords and enumerated values are matched without regard to case, in
// ASCII only; parsing allocates only where a value must be decoded
// (xtext with "+" escapes).

// BodyType is the value of the BODY parameter of MAIL (RFC 6152 section 2,
// RFC 3030 section 3).
type BodyType string

// Body types.
const (
	Body7Bit       BodyType = "7BIT"       // RFC 6152 section 2
	Body8BitMIME   BodyType = "8BITMIME"   // RFC 6152 section 2
	BodyBinaryMIME BodyType = "BINARYMIME" // RFC 3030 section 3
)

// DSNReturn is the value of the RET parameter of MAIL (RFC 3461 section
// 4.3).
type DSNReturn string

// RET values.
const (
	DSNReturnFull    DSNReturn = "FULL"
	DSNReturnHeaders DSNReturn = "HDRS"
)

// DeliverByMode is the by-mode of the BY parameter (RFC 2852 section 4).
type DeliverByMode string

// BY modes: notify the sender, or return the message, when the time passes.
const (
	DeliverByNotify DeliverByMode = "N"
	DeliverByReturn DeliverByMode = "R"
)

// DeliverBy is the value of the BY parameter of MAIL (RFC 2852 section 4).
type DeliverBy struct {
	Time  time.Duration // by-time, whole seconds on the wire; may be negative with DeliverByNotify
	Mode  DeliverByMode
	Trace bool // the "T" by-trace modifier
}

// Limits of the MAIL parameter values.
const (
	// MaxEnvIDLength is the longest ENVID, decoded (RFC 3461 section 4.4).
	MaxEnvIDLength = 100
	// MaxDeliverBySeconds is the largest by-time, 9 digits (RFC 2852
	// section 4); its negative is the smallest.
	MaxDeliverBySeconds = 999999999
)

// ParseSize parses the value of SIZE (RFC 1870 section 6): size-value =
// 1*20DIGIT. A value too large for an int64 is still a valid size, larger
// than any limit: it is returned as math.MaxInt64, so that a server
// answers 552 (too big), not 501.
func ParseSize(v string) (int64, error) {
	if len(v) == 0 || len(v) > 20 {
		return 0, ErrBadParameterValue("SIZE")
	}
	var n int64
	for i := 0; i < len(v); i++ {
		d := v[i]
		if !isDigit(d) {
			return 0, ErrBadParameterValue("SIZE")
		}
		if n > (math.MaxInt64-int64(d-'0'))/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + int64(d-'0')
	}
	return n, nil
}

// AppendSize appends " SIZE=n" (RFC 1870 section 6). n must not be
// negative.
func AppendSize(dst []byte, n int64) ([]byte, error) {
	if n < 0 {
		return dst, errors.New("textproto: negative SIZE (RFC 1870 section 6)")
	}
	dst = append(dst, " SIZE="...)
	return strconv.AppendInt(dst, n, 10), nil
}

// ParseBody parses the value of BODY: 7BIT, 8BITMIME (RFC 6152 section 2)
// or BINARYMIME (RFC 3030 section 3), in any case. Whether BINARYMIME is
// offered is the server's to check.
func ParseBody(v string) (BodyType, error) {
	for _, b := range [...]BodyType{Body7Bit, Body8BitMIME, BodyBinaryMIME} {
		if ascii.EqualFold(v, string(b)) {
			return b, nil
		}
	}
	return "", ErrBadParameterValue("BODY")
}

// AppendBody appends " BODY=b"; b must be one of the BodyType constants
// (RFC 6152 section 2, RFC 3030 section 3).
func AppendBody(dst []byte, b BodyType) ([]byte, error) {
	switch b {
	case Body7Bit, Body8BitMIME, BodyBinaryMIME:
	default:
		return dst, errors.New("textproto: unknown BODY " + strconv.Quote(string(b)) + " (RFC 6152 section 2, RFC 3030 section 3)")
	}
	dst = append(dst, " BODY="...)
	return append(dst, b...), nil
}

// ParseFlag checks a parameter that takes no value, such as SMTPUTF8 (RFC
// 6531 section 3.4) and REQUIRETLS (RFC 8689 section 4.1): v, the value,
// must be empty. keyword names the parameter in the error.
func ParseFlag(keyword, v string) error {
	if v != "" {
		return ErrBadParameterValue(keyword)
	}
	return nil
}

// AppendFlag appends SP and keyword, a parameter without a value such as
// SMTPUTF8 (RFC 6531 section 3.4) or REQUIRETLS (RFC 8689 section 4.1).
// keyword is written as given: it is meant to be a constant.
func AppendFlag(dst []byte, keyword string) []byte {
	dst = append(dst, ' ')
	return append(dst, keyword...)
}

// ParseRet parses the value of RET: FULL or HDRS, in any case (RFC 3461
// section 4.3).
func ParseRet(v string) (DSNReturn, error) {
	switch {
	case ascii.EqualFold(v, string(DSNReturnFull)):
		return DSNReturnFull, nil
	case ascii.EqualFold(v, string(DSNReturnHeaders)):
		return DSNReturnHeaders, nil
	}
	return "", ErrBadParameterValue("RET")
}

// AppendRet appends " RET=r"; r must be DSNReturnFull or DSNReturnHeaders
// (RFC 3461 section 4.3).
func AppendRet(dst []byte, r DSNReturn) ([]byte, error) {
	if r != DSNReturnFull && r != DSNReturnHeaders {
		return dst, errors.New("textproto: unknown RET " + strconv.Quote(string(r)) + " (RFC 3461 section 4.3)")
	}
	dst = append(dst, " RET="...)
	return append(dst, r...), nil
}

// ParseEnvID parses the value of ENVID (RFC 3461 section 4.4): xtext
// that decodes to 1 to MaxEnvIDLength printable US-ASCII characters
// (graphic or SP). It returns the decoded envelope identifier.
func ParseEnvID(v string) (string, error) {
	id, err := DecodeXtext(v)
	if err != nil || !validEnvID(id) {
		return "", ErrBadParameterValue("ENVID")
	}
	return id, nil
}

// AppendEnvID appends " ENVID=" and id encoded as xtext (RFC 3461
// section 4.4); id must be 1 to MaxEnvIDLength printable US-ASCII
// characters (graphic or SP).
func AppendEnvID(dst []byte, id string) ([]byte, error) {
	if !validEnvID(id) {
		return dst, errors.New("textproto: ENVID must be 1 to 100 printable US-ASCII characters (RFC 3461 section 4.4)")
	}
	dst = append(dst, " ENVID="...)
	return appendXtext(dst, id), nil
}

func validEnvID(id string) bool {
	return len(id) > 0 && len(id) <= MaxEnvIDLength && isPrintableASCII(id)
}

// isPrintableASCII reports whether s is all graphic US-ASCII or SP, the
// "printable (graphic and white space)" characters RFC 3461 sections 4.2
// and 4.4 ask of ORCPT and ENVID before they are encoded.
func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// ParseMailAuth parses the value of the AUTH parameter of MAIL (RFC 4954
// section 5): xtext whose decoded form is "<>" or a mailbox. It returns
// the mailbox decoded, or "" for "<>" (the submitter is not known).
//
// The mailbox must have the syntax of RFC 5321 section 4.1.2 in ASCII;
// the length limits of section 4.5.3.1, which bound paths, do not apply
// (RFC 4954 section 3 grants the parameter 500 octets of its own).
func ParseMailAuth(v string) (string, error) {
	if v == "<>" {
		return "", nil
	}
	mbox, err := DecodeXtext(v)
	if err != nil || v == "" {
		return "", ErrBadParameterValue("AUTH")
	}
	if mbox == "<>" {
		return "", nil
	}
	if !validAuthMailbox(mbox) {
		return "", ErrBadParameterValue("AUTH")
	}
	return mbox, nil
}

// AppendMailAuth appends " AUTH=" and mailbox encoded as xtext, or
// " AUTH=<>" when mailbox is "" (RFC 4954 section 5). A mailbox must be
// ASCII with the syntax of RFC 5321 section 4.1.2.
func AppendMailAuth(dst []byte, mailbox string) ([]byte, error) {
	if mailbox == "" {
		return append(dst, " AUTH=<>"...), nil
	}
	if !validAuthMailbox(mailbox) {
		return dst, errors.New("textproto: AUTH= must be <> or an ASCII mailbox (RFC 4954 section 5)")
	}
	dst = append(dst, " AUTH="...)
	return appendXtext(dst, mailbox), nil
}

// validAuthMailbox checks Local-part "@" ( Domain / address-literal ) in
// ASCII, without the path limits.
func validAuthMailbox(s string) bool {
	if indexControl(s) >= 0 {
		return false
	}
	p := mailboxParser{s: s, noLimits: true}
	_, _, end, err := p.mailbox(0)
	return err == nil && end == len(s)
}

// ParseMTPriority parses the value of MT-PRIORITY (RFC 6710 section 3):
// one digit with an optional sign, from -9 to 9. "09" and "10" are
// refused.
func ParseMTPriority(v string) (int, error) {
	neg := false
	if len(v) == 2 && (v[0] == '-' || v[0] == '+') {
		neg = v[0] == '-'
		v = v[1:]
	}
	if len(v) != 1 || !isDigit(v[0]) {
		return 0, ErrBadParameterValue("MT-PRIORITY")
	}
	n := int(v[0] - '0')
	if neg {
		n = -n
	}
	return n, nil
}

// AppendMTPriority appends " MT-PRIORITY=p"; p must be from -9 to 9 (RFC
// 6710 section 3).
func AppendMTPriority(dst []byte, p int) ([]byte, error) {
	if p < -9 || p > 9 {
		return dst, errors.New("textproto: MT-PRIORITY must be from -9 to 9 (RFC 6710 section 3)")
	}
	dst = append(dst, " MT-PRIORITY="...)
	return strconv.AppendInt(dst, int64(p), 10), nil
}

// ParseDeliverBy parses the value of BY (RFC 2852 section 4):
//
//	by-value = by-time ";" by-mode [ by-trace ]
//	by-time  = [ "-" / "+" ] 1*9DIGIT   ; seconds
//	by-mode  = "N" / "R"                ; in any case
//	by-trace = "T"
//
// With mode R the time must be positive.
func ParseDeliverBy(v string) (DeliverBy, error) {
	bad := func() (DeliverBy, error) { return DeliverBy{}, ErrBadParameterValue("BY") }
	semi := strings.IndexByte(v, ';')
	if semi < 0 {
		return bad()
	}
	digits, mode := v[:semi], v[semi+1:]
	neg := false
	if len(digits) > 0 && (digits[0] == '-' || digits[0] == '+') {
		neg = digits[0] == '-'
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 9 {
		return bad()
	}
	var secs int64
	for i := 0; i < len(digits); i++ {
		if !isDigit(digits[i]) {
			return bad()
		}
		secs = secs*10 + int64(digits[i]-'0')
	}
	if neg {
		secs = -secs
	}

	by := DeliverBy{Time: time.Duration(secs) * time.Second}
	if len(mode) == 2 && mode[1]|0x20 == 't' {
		by.Trace = true
		mode = mode[:1]
	}
	switch {
	case ascii.EqualFold(mode, string(DeliverByNotify)):
		by.Mode = DeliverByNotify
	case ascii.EqualFold(mode, string(DeliverByReturn)) && secs > 0:
		by.Mode = DeliverByReturn
	default:
		return bad()
	}
	return by, nil
}

// AppendDeliverBy appends " BY=time;mode" and "T" for Trace (RFC 2852
// section 4). The time is written in whole seconds, any fraction dropped;
// it must be within MaxDeliverBySeconds either side of zero, and positive
// with DeliverByReturn.
func AppendDeliverBy(dst []byte, by DeliverBy) ([]byte, error) {
	secs := int64(by.Time / time.Second)
	if secs > MaxDeliverBySeconds || secs < -MaxDeliverBySeconds {
		return dst, errors.New("textproto: BY time out of range (RFC 2852 section 4)")
	}
	switch by.Mode {
	case DeliverByNotify:
	case DeliverByReturn:
		if secs <= 0 {
			return dst, errors.New("textproto: BY time must be positive with mode R (RFC 2852 section 4)")
		}
	default:
		return dst, errors.New("textproto: unknown BY mode " + strconv.Quote(string(by.Mode)) + " (RFC 2852 section 4)")
	}
	dst = append(dst, " BY="...)
	dst = strconv.AppendInt(dst, secs, 10)
	dst = append(dst, ';')
	dst = append(dst, by.Mode...)
	if by.Trace {
		dst = append(dst, 'T')
	}
	return dst, nil
}
