package textproto

import "bufio"

// ReplyReader reads whole replies from a server (RFC 5321 section 4.2.1).
type ReplyReader struct {
	// MaxLineLength caps one reply line including CRLF; 0 means 2048.
	MaxLineLength int
	// MaxLines caps the number of lines of one reply; 0 means 128.
	MaxLines int

	r *bufio.Reader
}

// NewReplyReader returns a ReplyReader reading from r.
func NewReplyReader(r *bufio.Reader) *ReplyReader { return &ReplyReader{r: r} }

// ReadReply reads one whole reply: every line must carry the same code,
// "-" after the code on all lines but the last; the enhanced code, when the
// first line has one, is parsed (RFC 2034) and removed from each line's
// text. A malformed reply is a *ProtocolError.
func (rr *ReplyReader) ReadReply() (Reply, error) {
	return Reply{}, nil // TODO(foundation)
}

// ProtocolError is a reply that breaks RFC 5321's grammar: the peer is not
// speaking SMTP correctly.
type ProtocolError struct {
	Msg  string // what was wrong
	Line string // the offending line, truncated, for diagnosis
}

func (e *ProtocolError) Error() string { return "smtp protocol error: " + e.Msg }
