package dotstuff

import (
	"bufio"
	"errors"
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
type Reader struct {
	// AllowBareLineEndings passes a bare CR or LF through as an ordinary
	// byte instead of failing with ErrBareLineEnding. Either way it never
	// ends a line nor the body.
	AllowBareLineEndings bool
	// MaxLineLength caps a body line, CRLF excluded; 0 means no limit.
	MaxLineLength int

	r *bufio.Reader
}

// NewReader returns a Reader of the body that follows a 354 reply on r.
func NewReader(r *bufio.Reader) *Reader { return &Reader{r: r} }

// Read implements io.Reader.
func (d *Reader) Read(p []byte) (int, error) { return 0, nil } // TODO(foundation)

// Drain discards the rest of the body up to and including the real
// CRLF.CRLF, whatever error the Reader met before, and returns the error
// that stopped reading (nil if the body was clean). Only an I/O error from
// the underlying reader makes it stop early.
func (d *Reader) Drain() error { return nil } // TODO(foundation)
