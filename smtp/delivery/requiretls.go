package delivery

import (
	"bytes"
)

// HasTLSRequiredNo reports whether the header of msg (RFC 5322 section
// 2.2, up to the first empty line) has a "TLS-Required: No" field (RFC
// 8689 section 5), the sender's request that TLS policy failures not stop
// the delivery. Set Message.TLSRequiredNo from it. Field name and value
// are compared without regard to case; folded lines are unfolded.
func HasTLSRequiredNo(msg []byte) bool {
	for len(msg) > 0 {
		line, rest := cutLine(msg)
		if len(bytes.TrimRight(line, "\r")) == 0 {
			return false // the end of the header
		}
		// Gather the continuation lines of a folded field.
		field := bytes.TrimRight(line, "\r")
		for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			var cont []byte
			cont, rest = cutLine(rest)
			field = append(append([]byte(nil), field...), bytes.TrimRight(cont, "\r")...)
		}
		msg = rest
		name, value, ok := bytes.Cut(field, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimRight(name, " \t"), []byte("TLS-Required")) &&
			bytes.EqualFold(bytes.Trim(value, " \t"), []byte("No")) {
			return true
		}
	}
	return false
}

// cutLine splits b after its first LF.
func cutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}
