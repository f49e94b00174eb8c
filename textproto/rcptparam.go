package textproto

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/postwire/postwire/internal/ascii"
)

// This file is the codec of the RCPT parameters of DSN (RFC 3461 section
// 4), NOTIFY and ORCPT, in the form of mailparam.go: ParseXxx for the
// value a server received, AppendXxx for the parameter a client sends.

// DSNNotify is one value of the NOTIFY parameter of RCPT (RFC 3461 section
// 4.1).
type DSNNotify string

// NOTIFY values.
const (
	DSNNotifyNever   DSNNotify = "NEVER"
	DSNNotifySuccess DSNNotify = "SUCCESS"
	DSNNotifyFailure DSNNotify = "FAILURE"
	DSNNotifyDelayed DSNNotify = "DELAY"
)

// DSNAddressType is the address type of the ORCPT parameter (RFC 3461
// section 4.2, RFC 6533 section 3).
type DSNAddressType string

// ORCPT address types.
const (
	DSNAddressTypeRFC822 DSNAddressType = "RFC822"
	DSNAddressTypeUTF8   DSNAddressType = "UTF-8" // RFC 6533 section 3
)

// notifyValues are the NOTIFY values; a set of them is a bit mask, bit i
// standing for notifyValues[i].
var notifyValues = [...]DSNNotify{DSNNotifyNever, DSNNotifySuccess, DSNNotifyFailure, DSNNotifyDelayed}

// notifyIndex returns the index of n in notifyValues, matching without
// regard to case when fold is set, or -1.
func notifyIndex(n string, fold bool) int {
	for i, v := range notifyValues {
		if n == string(v) || fold && ascii.EqualFold(n, string(v)) {
			return i
		}
	}
	return -1
}

// notifyAdd adds value i to the set seen, reporting false when the list
// would break RFC 3461 section 4.1: an unknown value, one twice, or NEVER
// with anything else.
func notifyAdd(seen *int, i int) bool {
	const never = 1 // bit of DSNNotifyNever
	if i < 0 {
		return false
	}
	bit := 1 << i
	if *seen&bit != 0 || *seen != 0 && (*seen|bit)&never != 0 {
		return false
	}
	*seen |= bit
	return true
}

// ParseNotify parses the value of NOTIFY (RFC 3461 section 4.1) and
// appends its values to dst, which it returns:
//
//	notify-esmtp-value  = "NEVER" / 1#notify-list-element
//	notify-list-element = "SUCCESS" / "FAILURE" / "DELAY"
//
// Values are matched without regard to case and returned as the
// constants; each may appear once. With a dst of capacity 4 beyond its
// length, parsing does not allocate.
func ParseNotify(dst []DSNNotify, v string) ([]DSNNotify, error) {
	start, seen := len(dst), 0
	for {
		item, rest, more := strings.Cut(v, ",")
		i := notifyIndex(item, true)
		if !notifyAdd(&seen, i) {
			return dst[:start], ErrBadParameterValue("NOTIFY")
		}
		dst = append(dst, notifyValues[i])
		if !more {
			return dst, nil
		}
		v = rest
	}
}

// AppendNotify appends " NOTIFY=" and the values of notify separated by
// commas (RFC 3461 section 4.1): NEVER alone, or one or more of SUCCESS,
// FAILURE and DELAY, each once. The values must be the DSNNotify
// constants.
func AppendNotify(dst []byte, notify []DSNNotify) ([]byte, error) {
	seen := 0
	for _, n := range notify {
		if !notifyAdd(&seen, notifyIndex(string(n), false)) {
			return dst, errors.New("textproto: NOTIFY must be NEVER alone or distinct SUCCESS, FAILURE, DELAY (RFC 3461 section 4.1)")
		}
	}
	if seen == 0 {
		return dst, errors.New("textproto: NOTIFY needs a value (RFC 3461 section 4.1)")
	}
	dst = append(dst, " NOTIFY="...)
	for i, n := range notify {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, n...)
	}
	return dst, nil
}

// ParseORCPT parses the value of ORCPT, addr-type ";" xtext (RFC 3461
// section 4.2), and returns the address type, as a constant, and the
// address decoded. Two address types are known, matched without regard to
// case:
//
//   - "rfc822": xtext (RFC 3461 section 4) that decodes to printable
//     US-ASCII (graphic or SP), as section 4.2 requires;
//   - "utf-8": utf-8-addr-xtext (RFC 6533 section 3), which may stand for
//     any Unicode address but no control character.
//
// The address may not be empty. Its syntax is not checked further: RFC
// 3461 section 4.2 does not constrain it to its type's rules.
func ParseORCPT(v string) (DSNAddressType, string, error) {
	typ, enc, ok := strings.Cut(v, ";")
	if !ok {
		return "", "", ErrBadParameterValue("ORCPT")
	}
	var addr string
	var err error
	switch {
	case ascii.EqualFold(typ, string(DSNAddressTypeRFC822)):
		addr, err = DecodeXtext(enc)
		if err == nil && !isPrintableASCII(addr) {
			err = ErrXtext
		}
		typ = string(DSNAddressTypeRFC822)
	case ascii.EqualFold(typ, string(DSNAddressTypeUTF8)):
		addr, err = DecodeUTF8AddrXtext(enc)
		typ = string(DSNAddressTypeUTF8)
	default:
		return "", "", ErrBadParameterValue("ORCPT")
	}
	if err != nil || addr == "" {
		return "", "", ErrBadParameterValue("ORCPT")
	}
	return DSNAddressType(typ), addr, nil
}

// AppendORCPT appends " ORCPT=" and addr with its type (RFC 3461 section
// 4.2): "rfc822;" and xtext for DSNAddressTypeRFC822, for an address of
// printable US-ASCII (graphic or SP); "utf-8;" and utf-8-addr-xtext (RFC
// 6533 section 3) for DSNAddressTypeUTF8, for valid UTF-8 without control
// characters. typ is matched without regard to case; addr may not be
// empty.
func AppendORCPT(dst []byte, typ DSNAddressType, addr string) ([]byte, error) {
	switch {
	case addr == "":
		return dst, errors.New("textproto: empty ORCPT address (RFC 3461 section 4.2)")
	case ascii.EqualFold(string(typ), string(DSNAddressTypeRFC822)):
		if !isPrintableASCII(addr) {
			return dst, errors.New("textproto: ORCPT of type rfc822 must be printable US-ASCII; use type UTF-8 (RFC 3461 section 4.2, RFC 6533)")
		}
		dst = append(dst, " ORCPT=rfc822;"...)
		return appendXtext(dst, addr), nil
	case ascii.EqualFold(string(typ), string(DSNAddressTypeUTF8)):
		if !validUTF8Address(addr) {
			return dst, errors.New("textproto: ORCPT of type UTF-8 must be valid UTF-8 without control characters (RFC 6533 section 3)")
		}
		dst = append(dst, " ORCPT=utf-8;"...)
		return appendUTF8AddrXtext(dst, addr, false), nil
	}
	return dst, errors.New("textproto: unknown ORCPT address type " + strconv.Quote(string(typ)) + " (RFC 3461 section 4.2)")
}

// validUTF8Address reports whether s is valid UTF-8 without a C0, DEL or
// C1 control character: what utf-8-addr-xtext can carry (RFC 6533
// section 3, DecodeUTF8AddrXtext).
func validUTF8Address(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || 0x7f <= r && r < 0xa0 {
			return false
		}
	}
	return true
}
