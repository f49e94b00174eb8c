package dotstuff

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Errors a Reader returns. After any of them the body has not ended: call
// Drain to read on to the real CRLF.CRLF.
var (
	ErrBareLineEnding = errors.New("dotstuff: bare CR or LF in message body")
	ErrLineTooLong    = errors.New("dotstuff: message body line too long")
)

// Reader yields the unstuffed body of a DATA command and io.EOF exactly at
// CRLF.CRLF (RFC 5321 section 4.1.1.4). The terminating ".\r\n" is consumed;
// whatever follows stays in the bufio.Reader for the next command.
//
// Only CRLF.CRLF ends a body: a bare CR or LF is never a line end, so
// sequences such as "\n.\n" or "\r\n.\r" cannot end it early (SMTP
// smuggling, CVE-2023-51764, CVE-2023-51765, CVE-2023-51766). A line that
// starts with "." has that dot removed (RFC 5321 section 4.5.2).
//
// An underlying io.EOF before the terminator is io.ErrUnexpectedEOF. Once
// Read has returned an error it returns the same error again.
type Reader struct {
	// AllowBareLineEndings passes a bare CR or LF through as an ordinary
	// byte instead of failing with ErrBareLineEnding. Either way it never
	// ends a line nor the body.
	AllowBareLineEndings bool
	// MaxLineLength caps a body line, CRLF excluded and not counting a
	// stuffing dot (RFC 5321 section 4.5.3.1.6); 0 means no limit.
	MaxLineLength int

	r       *bufio.Reader
	state   readState
	lineLen int   // octets of the current line delivered or checked so far
	err     error // sticky: io.EOF at the end, or the first error met
	ioErr   bool  // err came from the underlying reader
}

// readState is where the Reader stands in the body. Each state corresponds
// to how much of the terminator "\r\n.\r\n" has just been consumed, which
// is what Drain needs to go on searching from the same point.
type readState uint8

const (
	inText   readState = iota // inside a line
	afterCR                   // consumed a CR inside a line, not yet delivered
	lineFeed                  // delivered the CR of a CRLF, the LF still owed
	lineHead                  // at the start of a line
	afterDot                  // consumed the first "." of a line
	dotCR                     // consumed ".\r" at the start of a line
	ended                     // consumed the terminator
)

// terminator ends a body; a body's start counts as following its CRLF.
const terminator = "\r\n.\r\n"

var terminatorBytes = []byte(terminator)

// matched is how many octets of terminator have just been consumed in state s.
var matched = [...]int{inText: 0, afterCR: 1, lineFeed: 2, lineHead: 2, afterDot: 3, dotCR: 4, ended: 5}

// NewReader returns a Reader of the body that follows a 354 reply on r.
func NewReader(r *bufio.Reader) *Reader { return &Reader{r: r, state: lineHead} }

// Read implements io.Reader.
func (d *Reader) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	n := d.decode(p, false)
	if n > 0 {
		return n, nil // an error met after n octets comes with the next Read
	}
	return 0, d.err
}

// fail records err as the Reader's sticky error.
func (d *Reader) fail(err error) { d.err = err }

// buffered returns the bytes buffered in d.r, waiting for more only when
// none are buffered and wait is set. It returns nil when it did not wait or
// when the underlying reader failed (then d.err is set).
func (d *Reader) buffered(wait bool) []byte {
	if d.r.Buffered() == 0 {
		if !wait {
			return nil
		}
		if _, err := d.r.Peek(1); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			d.err, d.ioErr = err, true
			return nil
		}
	}
	buf, _ := d.r.Peek(d.r.Buffered())
	return buf
}

// decode delivers body octets into p, or checks and discards them when
// discard is set, until p is full, the body ends, an error is met, or (when
// it has delivered something) no more input is buffered. It returns how
// many octets it delivered.
func (d *Reader) decode(p []byte, discard bool) int {
	n := 0
	for discard || n < len(p) {
		// The LF of a CRLF whose CR filled the previous p.
		if d.state == lineFeed {
			if !discard {
				p[n] = '\n'
			}
			n++
			d.state, d.lineLen = lineHead, 0
			continue
		}

		// Wait for input only while there is nothing to return.
		buf := d.buffered(discard || n == 0)
		if buf == nil {
			return n
		}

		switch d.state {
		case lineHead:
			// A line's first octet: a dot may be stuffing or the
			// terminator's.
			if buf[0] == '.' {
				d.r.Discard(1)
				d.state = afterDot
			} else {
				d.state = inText
			}
		case afterDot:
			// After a leading dot: only a CR may go on to the terminator.
			if buf[0] == '\r' {
				d.r.Discard(1)
				d.state = dotCR
			} else {
				d.state = inText // the dot was a stuffing dot: drop it
			}
		case dotCR, afterCR:
			// After a CR: an LF ends the body (after ".") or the line.
			if buf[0] == '\n' {
				d.r.Discard(1)
				if d.state == dotCR {
					d.state, d.err = ended, io.EOF
					return n
				}
				if discard {
					d.state, d.lineLen = lineHead, 0
				} else if n+2 <= len(p) {
					p[n], p[n+1] = '\r', '\n'
					n += 2
					d.state, d.lineLen = lineHead, 0
				} else {
					p[n] = '\r'
					n++
					d.state = lineFeed
				}
				continue
			}

			// The consumed CR is bare. buf[0] stays for the next step.
			if !d.AllowBareLineEndings {
				d.fail(ErrBareLineEnding)
				return n
			}
			if d.MaxLineLength > 0 && d.lineLen+1 > d.MaxLineLength {
				d.fail(ErrLineTooLong)
				return n
			}
			if !discard {
				p[n] = '\r'
			}
			n++
			d.lineLen++
			d.state = inText
		case inText:
			// Inside a line: scan as much as p and buf allow at once.
			if !discard && len(buf) > len(p)-n {
				buf = buf[:len(p)-n]
			}
			var out []byte
			if !discard {
				out = p[n:]
			}
			used, delivered := d.scanText(buf, out)
			n += delivered
			d.r.Discard(used)
			if d.err != nil {
				return n
			}
		}
	}
	return n
}

// scanText takes octets from buf, which begins inside a line, and delivers
// them into out (nil to discard them) until buf ends, a line begins with "."
// that could be the terminator, or an error is met. It returns how many
// octets it used and delivered and leaves d.state and d.lineLen for what
// follows. out must have room for len(buf) octets: unstuffing never adds.
func (d *Reader) scanText(buf, out []byte) (used, delivered int) {
	pos, n := 0, 0
	for {
		end, ok := d.wholeLines(buf[pos:])
		if !ok || end == 0 {
			break
		}
		if out != nil {
			copy(out[n:], buf[pos:pos+end])
		}
		n += end
		pos += end
		d.lineLen = 0
		if pos == len(buf) {
			d.state = lineHead
			return pos, n
		}
		if buf[pos] != '.' {
			break // a problem or a partial line: look closer
		}
		if pos+1 == len(buf) || buf[pos+1] == '\r' {
			d.state = lineHead // maybe the terminator: go step by step
			return pos, n
		}
		pos++ // a stuffing dot: drop it
	}
	end := d.scanExact(buf, pos)
	if out != nil {
		copy(out[n:], buf[pos:end])
	}
	n += end - pos
	if d.state == afterCR {
		end++ // the CR is used, not delivered
	}
	return end, n
}

// wholeLines is the fast path of scanText: it returns the length of the
// longest start of buf made of whole lines, each ending in CRLF, that need
// no change, stopping before a line that starts with "." or that holds a
// problem. It costs one vectorised search per line (for its LF), and in
// strict mode one count of CRs over the whole run: a run of n lines without
// a bare LF has exactly n CRs unless it holds a bare CR. ok is false when it
// does; then scanExact finds where.
func (d *Reader) wholeLines(buf []byte) (end int, ok bool) {
	maxLen, strict := d.MaxLineLength, !d.AllowBareLineEndings
	carried := d.lineLen // octets of the first line already delivered
	lines, pos := 0, 0
	for {
		i := bytes.IndexByte(buf[pos:], '\n')
		if i < 0 {
			break
		}
		lf := pos + i
		if lf == 0 || buf[lf-1] != '\r' { // a bare LF
			if strict {
				break
			}
			pos = lf + 1
			continue
		}
		if maxLen > 0 && carried+(lf-1-end) > maxLen {
			break
		}
		carried = 0
		lines++
		end, pos = lf+1, lf+1
		if end == len(buf) || buf[end] == '.' {
			break
		}
	}
	if strict && end > 0 && bytes.Count(buf[:end], crlf[:1]) != lines {
		return 0, false
	}
	return end, true
}

// scanExact is scanText from buf[pos:] line by line, exact about where a
// problem lies. It takes two vectorised searches per line: for the CR, and
// for a bare LF before it.
func (d *Reader) scanExact(buf []byte, pos int) int {
	maxLen, strict := d.MaxLineLength, !d.AllowBareLineEndings
	for {
		// The segment up to the next CR must hold no bare LF and fit
		// the line.
		rest := buf[pos:]
		cr := bytes.IndexByte(rest, '\r')
		seg := rest
		if cr >= 0 {
			seg = rest[:cr]
		}
		if strict && bytes.IndexByte(seg, '\n') >= 0 {
			d.fail(ErrBareLineEnding)
			return pos
		}
		if maxLen > 0 && d.lineLen+len(seg) > maxLen {
			d.fail(ErrLineTooLong)
			return pos
		}

		// No CR, or one at the end of buf: the line goes on in the
		// next buffer.
		if cr < 0 {
			d.lineLen += len(rest)
			return len(buf)
		}
		at := pos + cr
		if at+1 == len(buf) {
			d.lineLen += cr
			d.state = afterCR
			return at
		}

		// A bare CR is an error, or an ordinary octet of the line.
		if buf[at+1] != '\n' {
			if strict {
				d.fail(ErrBareLineEnding)
				return pos
			}
			if maxLen > 0 && d.lineLen+cr+1 > maxLen {
				d.fail(ErrLineTooLong)
				return pos
			}
			d.lineLen += cr + 1
			pos = at + 1
			continue
		}

		// A CRLF ends the line; stop where the next one may need a
		// closer look.
		pos = at + 2
		d.lineLen = 0
		if pos == len(buf) || buf[pos] == '.' {
			d.state = lineHead
			return pos
		}
	}
}

// Reset makes d a new Reader of the body that follows on r, with the same
// settings, so that a server can keep one Reader per connection.
func (d *Reader) Reset(r *bufio.Reader) {
	*d = Reader{AllowBareLineEndings: d.AllowBareLineEndings, MaxLineLength: d.MaxLineLength, r: r, state: lineHead}
}
