package textproto

import "strconv"

// EnhancedCode is an enhanced mail system status code, class.subject.detail
// (RFC 3463 section 2), such as 2.1.0. The zero value means "no enhanced
// code".
type EnhancedCode [3]int

// valid reports whether c can go on the wire: class 2, 4 or 5, subject and
// detail of one to three digits (RFC 3463 section 2).
func (c EnhancedCode) valid() bool {
	return (c[0] == 2 || c[0] == 4 || c[0] == 5) &&
		c[1] >= 0 && c[1] <= 999 && c[2] >= 0 && c[2] <= 999
}

// String returns c as "class.subject.detail", or "" for the zero value.
func (c EnhancedCode) String() string {
	if c == (EnhancedCode{}) {
		return ""
	}
	var buf [32]byte
	return string(AppendEnhancedCode(buf[:0], c))
}

// AppendEnhancedCode appends c as class "." subject "." detail (RFC 3463
// section 2), "5.1.1", to dst, and allocates nothing beyond growing dst.
// It is the one formatter of enhanced codes, for the reply encoder and
// for error texts alike.
//
// c is written as it is, not checked: a part outside 0 to 999, which RFC
// 3463 does not allow, comes out in full, so that an error text shows what
// the code held. AppendReply leaves such a code out of a reply.
func AppendEnhancedCode(dst []byte, c EnhancedCode) []byte {
	dst = appendCodePart(dst, c[0])
	dst = append(dst, '.')
	dst = appendCodePart(dst, c[1])
	dst = append(dst, '.')
	return appendCodePart(dst, c[2])
}

// appendCodePart appends n in decimal, with a fast path for the one to
// three digits of a valid part.
func appendCodePart(dst []byte, n int) []byte {
	switch {
	case n < 0 || n > 999:
		return strconv.AppendInt(dst, int64(n), 10)
	case n < 10:
		return append(dst, byte('0'+n))
	case n < 100:
		return append(dst, byte('0'+n/10), byte('0'+n%10))
	}
	return append(dst, byte('0'+n/100), byte('0'+n/10%10), byte('0'+n%10))
}

// Reply is one SMTP reply (RFC 5321 section 4.2): a three-digit code, an
// optional enhanced status code (RFC 2034) carried on every line, and one or
// more lines of text without code, enhanced code or CRLF.
type Reply struct {
	Code     int
	Enhanced EnhancedCode
	Lines    []string
}

// MaxReplyLine is the longest reply line RFC 5321 section 4.5.3.1.5 allows,
// including the code and the CRLF.
const MaxReplyLine = 512

// AppendReply appends r to dst as it goes on the wire: "250-" on every line
// but the last, "250 " on the last, the enhanced code (when set) after the
// code on every line, CRLF after each line. A line longer than MaxReplyLine
// octets is wrapped at a space where possible; CR, LF and other control
// bytes inside a line are replaced so that they can never reach the wire.
// An empty Lines writes one line with no text. It does not allocate beyond
// growing dst.
//
// The details, for both AppendReply and AppendReplyLine: control bytes
// (below 0x20, and DEL) become SP. Text that does not fit is cut at the last
// SP that lets the line fit, the SP itself dropped; a run with no SP is cut
// at the limit, moved back to the start of a UTF-8 sequence so that a
// character is never split. An enhanced code that RFC 3463 section 2 would
// not allow (class other than 2, 4 or 5, or a part out of range) is left
// out rather than written malformed. A line with no text is written as
// "250 " (or "250 2.0.0"), always with the separator, because some clients
// require it. Code is written as given and must be three digits (RFC 5321
// section 4.2).
func AppendReply(dst []byte, r *Reply) []byte {
	var pre [24]byte
	prefix, sepAt := replyPrefix(pre[:0], r.Code, r.Enhanced)
	if len(r.Lines) == 0 {
		dst, last := appendWrapped(dst, prefix, sepAt, "")
		dst[last] = ' '
		return dst
	}
	last := 0
	for _, line := range r.Lines {
		dst, last = appendWrapped(dst, prefix, sepAt, line)
	}
	dst[last] = ' '
	return dst
}

// AppendReplyLine appends a one-line reply, "code enh text" CRLF, as
// AppendReply would for Reply{code, enh, []string{text}}: the server's fast
// path, with no allocation beyond growing dst. Text too long for one line
// wraps into a multi-line reply.
func AppendReplyLine(dst []byte, code int, enh EnhancedCode, text string) []byte {
	var pre [24]byte
	prefix, sepAt := replyPrefix(pre[:0], code, enh)
	dst, last := appendWrapped(dst, prefix, sepAt, text)
	dst[last] = ' '
	return dst
}

// replyPrefix builds "250-" or "250-2.0.0" (without the SP before the text)
// and returns it with the index of its separator, which the caller sets to
// ' ' on the last line.
func replyPrefix(dst []byte, code int, enh EnhancedCode) ([]byte, int) {
	dst = strconv.AppendInt(dst, int64(code), 10)
	sepAt := len(dst)
	dst = append(dst, '-')
	if enh != (EnhancedCode{}) && enh.valid() {
		dst = AppendEnhancedCode(dst, enh)
	}
	return dst, sepAt
}

// appendWrapped writes text as one or more lines, each prefix, SP (when the
// prefix has an enhanced code and the line has text), text, CRLF. It
// returns dst and the index of the separator of the last line written.
func appendWrapped(dst, prefix []byte, sepAt int, text string) ([]byte, int) {
	hasEnh := len(prefix) > sepAt+1
	room := MaxReplyLine - 2 - len(prefix)
	if hasEnh {
		room-- // the SP between the enhanced code and the text
	}
	for {
		chunk, rest := text, ""
		if len(text) > room {
			cut := lastSpace(text[:room+1])
			if cut > 0 {
				chunk, rest = text[:cut], text[cut+1:]
			} else {
				cut = room
				for k := 0; k < 3 && cut > 1 && text[cut]&0xc0 == 0x80; k++ {
					cut--
				}
				chunk, rest = text[:cut], text[cut:]
			}
		}
		last := len(dst) + sepAt
		dst = append(dst, prefix...)
		if hasEnh && chunk != "" {
			dst = append(dst, ' ')
		}
		start := len(dst)
		dst = append(dst, chunk...)
		for i := start; i < len(dst); i++ {
			if isControl(dst[i]) {
				dst[i] = ' '
			}
		}
		dst = append(dst, '\r', '\n')
		if rest == "" {
			return dst, last
		}
		text = rest
	}
}

// lastSpace returns the index of the last SP in s, or -1.
func lastSpace(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ' ' {
			return i
		}
	}
	return -1
}
