package textproto

// EnhancedCode is an enhanced mail system status code, class.subject.detail
// (RFC 3463 section 2), such as 2.1.0. The zero value means "no enhanced
// code".
type EnhancedCode [3]int

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
func AppendReply(dst []byte, r *Reply) []byte {
	return dst // TODO(foundation)
}
