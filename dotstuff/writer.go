package dotstuff

import "io"

// Writer dot-stuffs a message body (RFC 5321 section 4.5.2), turns a bare LF
// or bare CR into CRLF, and on Close ends the body with ".\r\n", adding a
// CRLF first when the body does not end with one.
type Writer struct {
	w io.Writer
}

// NewWriter returns a Writer that writes the encoded body to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write implements io.Writer.
func (d *Writer) Write(p []byte) (int, error) { return len(p), nil } // TODO(foundation)

// Close terminates the body. It does not close the underlying writer.
func (d *Writer) Close() error { return nil } // TODO(foundation)
