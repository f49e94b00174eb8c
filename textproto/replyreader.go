package textproto

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// ReplyReader reads whole replies from a server (RFC 5321 section 4.2.1).
type ReplyReader struct {
	// MaxLineLength caps one reply line including CRLF; 0 means 2048.
	MaxLineLength int
	// MaxLines caps the number of lines of one reply; 0 means 128.
	MaxLines int

	r *bufio.Reader

	line []byte // the line being read, when it spans bufio's buffer
	text []byte // the texts of the reply's lines, back to back
	ends []int  // where each line's text ends in text
}

// Defaults of ReplyReader's limits. RFC 5321 section 4.5.3.1.5 limits a
// reply line to 512 octets; the default leaves room for servers that do
// not keep to it.
const (
	DefaultMaxReplyLineLength = 2048
	DefaultMaxReplyLines      = 128
)

// NewReplyReader returns a ReplyReader reading from r.
func NewReplyReader(r *bufio.Reader) *ReplyReader { return &ReplyReader{r: r} }

// ReadReply reads one whole reply: every line must carry the same code,
// "-" after the code on all lines but the last; the enhanced code, when the
// first line has one, is parsed (RFC 2034) and removed from each line's
// text. A malformed reply is a *ProtocolError.
//
// The code must be three digits from 200 to 599: 1xx and 6xx mean nothing
// in SMTP. After the code comes "-" (more lines follow), SP, or the end of
// the line (a last line with no text). The enhanced code is taken from the
// first line when its text starts with class.subject.detail (RFC 3463
// section 2) whose class is the code's first digit, followed by SP or the
// end of the line (RFC 2034 section 4); it is then removed from every line
// that starts with the same code. A line ends at CRLF; a bare LF is
// accepted as a line end too, because servers in the wild send it, and is
// not reported. The rest of the text is returned as sent.
//
// The end of input before a reply starts is io.EOF; in the middle of one
// it is io.ErrUnexpectedEOF. A line longer than MaxLineLength or a reply of
// more than MaxLines lines is a *ProtocolError. After any error the stream
// is out of step and the connection should be closed. Reading a reply
// allocates its Lines slice and one string that all lines share.
func (rr *ReplyReader) ReadReply() (Reply, error) {
	maxLines := rr.MaxLines
	if maxLines <= 0 {
		maxLines = DefaultMaxReplyLines
	}
	rr.text, rr.ends = rr.text[:0], rr.ends[:0]
	var reply Reply
	var enhBuf [16]byte
	var enh []byte // the first line's enhanced code as sent, e.g. "2.1.0"

	for n := 0; ; n++ {
		line, err := rr.readLine()
		if err != nil {
			if err == io.EOF && (n > 0 || len(line) > 0) {
				err = io.ErrUnexpectedEOF
			}
			return Reply{}, err
		}
		if n == maxLines {
			return Reply{}, protocolError("too many lines in reply", line)
		}

		code, text, more, perr := splitReplyLine(line)
		switch {
		case perr != nil:
			return Reply{}, perr
		case n == 0:
			reply.Code = code
		case code != reply.Code:
			return Reply{}, protocolError("reply code changed within a reply", line)
		}

		// The first line's enhanced code is the reply's; the same code
		// is taken off every line that repeats it.
		if n == 0 {
			if subject, detail, size := parseEnhanced(text, code/100); size > 0 {
				reply.Enhanced = EnhancedCode{code / 100, subject, detail}
				enh = append(enhBuf[:0], text[:size]...) // line is reused by the next read
			}
		}
		if enh != nil && bytes.HasPrefix(text, enh) && (len(text) == len(enh) || text[len(enh)] == ' ') {
			text = text[min(len(enh)+1, len(text)):]
		}
		rr.text = append(rr.text, text...)
		rr.ends = append(rr.ends, len(rr.text))
		if !more {
			break
		}
	}

	reply.Lines = rr.lines()
	return reply, nil
}

// splitReplyLine splits one reply line into its code (three digits, 200
// to 599), its text, and whether more lines follow ("-" after the code;
// SP or the end of the line ends the reply).
func splitReplyLine(line []byte) (code int, text []byte, more bool, err *ProtocolError) {
	if len(line) < 3 || line[0] < '2' || line[0] > '5' || !isDigit(line[1]) || !isDigit(line[2]) {
		return 0, nil, false, protocolError("bad reply code", line)
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 {
		return code, line[3:], false, nil
	}
	switch line[3] {
	case '-':
		more = true
	case ' ':
	default:
		return 0, nil, false, protocolError("bad separator after reply code", line)
	}
	return code, line[4:], more, nil
}

// lines returns the texts gathered by ReadReply as the reply's Lines, all
// sharing one string.
func (rr *ReplyReader) lines() []string {
	all := string(rr.text)
	lines := make([]string, len(rr.ends))
	start := 0
	for i, end := range rr.ends {
		lines[i] = all[start:end]
		start = end
	}
	return lines
}

// ReadStatus reads one reply, as ReadReply does, for a caller that mostly
// needs its code alone: the hot path of a client's transaction (RFC 5321
// section 4.2.1). A single-line reply with a code from 200 to 399 whose
// whole line is already buffered is taken without allocating: r has its
// Code and Enhanced but nil Lines, and text is the line's text without
// code and enhanced code, valid until the next read. Any other reply
// (every 4xx and 5xx, every multi-line reply, a line not yet whole in the
// buffer) goes to ReadReply: r is then complete and text is nil.
//
// The fast path accepts exactly what ReadReply accepts and finds the same
// code, enhanced code and text; it is a shortcut, not a second grammar.
// When fewer than four octets are buffered, ReadStatus first waits for
// them, so that a reply that arrives in one piece takes the fast path.
func (rr *ReplyReader) ReadStatus() (r Reply, text []byte, err error) {
	// The fast path is written out here rather than called: the results
	// are large, and copying them through one more call costs as much as
	// the parsing.
	if rr.r.Buffered() < 4 {
		// Wait for the reply; an error is left for ReadReply to report.
		if _, err := rr.r.Peek(4); err != nil {
			return rr.readStatusSlow()
		}
	}
	max := rr.MaxLineLength
	if max <= 0 {
		max = DefaultMaxReplyLineLength
	}
	buf, _ := rr.r.Peek(min(rr.r.Buffered(), max))
	end := bytes.IndexByte(buf, '\n')
	if end < 0 {
		return rr.readStatusSlow() // not whole, or too long: ReadReply decides
	}
	line := buf[:end]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) < 3 || line[0] < '2' || line[0] > '3' || !isDigit(line[1]) || !isDigit(line[2]) ||
		len(line) > 3 && line[3] != ' ' {
		return rr.readStatusSlow()
	}

	class := int(line[0] - '0')
	r.Code = class*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	text = line[min(4, len(line)):]
	if subject, detail, size := parseEnhanced(text, class); size > 0 {
		r.Enhanced = EnhancedCode{class, subject, detail}
		text = text[min(size+1, len(text)):]
	}
	rr.r.Discard(end + 1)
	return r, text, nil
}

func (rr *ReplyReader) readStatusSlow() (Reply, []byte, error) {
	r, err := rr.ReadReply()
	return r, nil, err
}

// readLine returns the next line without its CRLF (or bare LF). The slice
// is valid until the next read.
func (rr *ReplyReader) readLine() ([]byte, error) {
	max := rr.MaxLineLength
	if max <= 0 {
		max = DefaultMaxReplyLineLength
	}
	line, err := rr.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		rr.line = append(rr.line[:0], line...)
		for err == bufio.ErrBufferFull && len(rr.line) <= max {
			line, err = rr.r.ReadSlice('\n')
			rr.line = append(rr.line, line...)
		}
		line = rr.line
	}
	if len(line) > max {
		return nil, protocolError("reply line too long", line)
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return line, io.EOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// parseEnhanced parses class "." subject "." detail at the start of text
// (RFC 3463 section 2: subject and detail one to three digits), followed by
// SP or the end of text, with the class equal to class. It returns subject,
// detail and the code's length, or a length of 0 when text does not start
// with such a code. (Plain ints, not an EnhancedCode: Go passes those in
// registers, an array of three in memory.)
func parseEnhanced(text []byte, class int) (subject, detail, size int) {
	if len(text) < 5 || int(text[0]-'0') != class || text[1] != '.' {
		return 0, 0, 0
	}
	subject, i := parseCodePart(text, 2)
	if i == 0 || i >= len(text) || text[i] != '.' {
		return 0, 0, 0
	}
	detail, i = parseCodePart(text, i+1)
	if i == 0 || i < len(text) && text[i] != ' ' {
		return 0, 0, 0
	}
	return subject, detail, i
}

// parseCodePart parses the one to three digits of a subject or detail at
// text[i:] and returns their value and the index after them, or an index
// of 0 when there is no digit.
func parseCodePart(text []byte, i int) (n, end int) {
	start := i
	for i < len(text) && i-start < 3 && isDigit(text[i]) {
		n = n*10 + int(text[i]-'0')
		i++
	}
	if i == start {
		return 0, 0
	}
	return n, i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// ProtocolError is a reply that breaks RFC 5321's grammar: the peer is not
// speaking SMTP correctly.
type ProtocolError struct {
	Msg  string // what was wrong
	Line string // the offending line, truncated, for diagnosis
}

// Error describes what was wrong; Line is left out.
func (e *ProtocolError) Error() string { return "smtp protocol error: " + e.Msg }

// protocolError keeps at most 64 octets of line, control bytes replaced by
// '?', so that a hostile server cannot put them into a log.
func protocolError(msg string, line []byte) *ProtocolError {
	n := min(len(line), 64)
	b := make([]byte, n)
	for i := range n {
		b[i] = line[i]
		if isControl(b[i]) {
			b[i] = '?'
		}
	}
	return &ProtocolError{Msg: msg, Line: string(b)}
}
