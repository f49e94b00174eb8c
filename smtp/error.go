package smtp

import (
	"strconv"

	"github.com/postwire/postwire/textproto"
)

// EnhancedCode is an enhanced status code, class.subject.detail (RFC 3463).
type EnhancedCode = textproto.EnhancedCode

// Error is an SMTP reply that is not a success, for both sides: a server
// backend returns one to send exactly that reply; a client receives one for
// every 4xx or 5xx reply. Use errors.As to get at it.
type Error struct {
	Code     int          // RFC 5321 section 4.2.3
	Enhanced EnhancedCode // RFC 3463; zero when none
	Message  string
}

// Error formats e as it would appear on the wire, "550 5.1.1 text".
func (e *Error) Error() string {
	b := make([]byte, 0, 16+len(e.Message))
	b = strconv.AppendInt(b, int64(e.Code), 10)
	if e.Enhanced != (EnhancedCode{}) {
		b = append(b, ' ')
		b = textproto.AppendEnhancedCode(b, e.Enhanced)
	}
	if e.Message != "" {
		b = append(b, ' ')
		b = append(b, e.Message...)
	}
	return string(b)
}

// Temporary reports whether the failure is transient (a 4xx reply, RFC
// 5321 section 4.2.1): trying again later may succeed.
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// Reply returns e as a reply to send.
func (e *Error) Reply() textproto.Reply {
	return textproto.Reply{Code: e.Code, Enhanced: e.Enhanced, Lines: splitLines(e.Message)}
}

// splitLines splits a message on LF so that a multi-line Error becomes a
// multi-line reply; the encoder takes care of anything else unsafe.
func splitLines(s string) []string {
	var lines []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			lines = append(lines, trimCR(s[start:i]))
			start = i + 1
		}
	}
	return append(lines, trimCR(s[start:]))
}

func trimCR(s string) string {
	if n := len(s); n > 0 && s[n-1] == '\r' {
		return s[:n-1]
	}
	return s
}
