package dotstuff

import (
	"bytes"
	"errors"
	"io"
)

// ErrWriterClosed is returned by a Write or Close after Close.
var ErrWriterClosed = errors.New("dotstuff: write after Close")

// Writer dot-stuffs a message body (RFC 5321 section 4.5.2), turns a bare LF
// or bare CR into CRLF, and on Close ends the body with ".\r\n", adding a
// CRLF first when the body does not end with one.
//
// A CR at the end of one Write and an LF at the start of the next make one
// CRLF. Runs of octets that need no change are passed to the underlying
// writer as they are, in place; a stuffed dot or a normalised line ending
// costs an extra small write, so give a Writer a buffered writer (such as a
// bufio.Writer) when the body may have many of them.
type Writer struct {
	w       io.Writer
	midLine bool  // the last octet written was not the end of a line
	skipLF  bool  // the last octet given was a CR, already written as CRLF
	closed  bool  // Close was called
	err     error // sticky error of the underlying writer
}

// NewWriter returns a Writer that writes the encoded body to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

var (
	crlf     = []byte("\r\n")
	cr       = crlf[:1]
	lf       = crlf[1:]
	dotCRLF  = []byte(".\r\n")
	endNoEOL = []byte("\r\n.\r\n")
)

// Write implements io.Writer. It returns len(p) unless the underlying
// writer fails.
func (d *Writer) Write(p []byte) (int, error) {
	if d.closed {
		return 0, ErrWriterClosed
	}
	if d.err != nil {
		return 0, d.err
	}

	// The LF of a CRLF split between two Writes was written with its CR.
	i := 0
	if d.skipLF && len(p) > 0 {
		d.skipLF = false
		if p[0] == '\n' {
			i = 1 // the second half of a CRLF already written
		}
	}
	start := i // p[start:i] is pending, to be written unchanged

	for i < len(p) {
		// At the start of a line, a leading dot is doubled (RFC 5321
		// section 4.5.2).
		if !d.midLine {
			d.midLine = true
			if p[i] == '.' {
				// Write up to and including the dot, and start the next
				// run at the same dot: the dot goes out twice.
				if !d.put(p[start : i+1]) {
					return start, d.err
				}
				start = i
			}
		}

		// The rest of the line: to its LF, or to the end of p.
		rest := p[i:]
		nl := bytes.IndexByte(rest, '\n')
		line := rest
		if nl >= 0 {
			line = rest[:nl]
		}
		if c := bytes.IndexByte(line, '\r'); c >= 0 && c != nl-1 {
			// A bare CR, or a CR ending p whose LF may start the next
			// Write: either way it goes out as CRLF.
			i += c + 1
			if !d.put(p[start:i]) || !d.put(lf) {
				return start, d.err
			}
			start = i
			d.midLine = false
			d.skipLF = i == len(p)
			continue
		}
		if nl < 0 {
			break
		}

		// The line ends at its LF; a bare one gets its CR.
		i += nl + 1
		d.midLine = false
		if nl == 0 || rest[nl-1] != '\r' {
			// A bare LF: write a CR before it.
			if !d.put(p[start : i-1]) {
				return start, d.err
			}
			start = i - 1
			if !d.put(cr) {
				return start, d.err
			}
		}
	}

	if !d.put(p[start:]) {
		return start, d.err
	}
	return len(p), nil
}

// put writes b to the underlying writer, recording a failure in d.err.
func (d *Writer) put(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	if _, err := d.w.Write(b); err != nil {
		d.err = err
		return false
	}
	return true
}

// Close terminates the body (RFC 5321 section 4.1.1.4): ".\r\n", preceded
// by CRLF when the body written so far does not end with one. An empty body
// is just ".\r\n". Close does not close the underlying writer; a second
// Close returns ErrWriterClosed.
func (d *Writer) Close() error {
	if d.closed {
		return ErrWriterClosed
	}
	d.closed = true
	if d.err != nil {
		return d.err
	}
	end := dotCRLF
	if d.midLine {
		end = endNoEOL
	}
	d.put(end)
	return d.err
}

// Reset makes d a new Writer of a body to w, so that one Writer can serve
// many messages.
func (d *Writer) Reset(w io.Writer) { *d = Writer{w: w} }
