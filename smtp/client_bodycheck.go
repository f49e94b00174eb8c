package smtp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/postwire/postwire/extensions"
)

// This file decides, before MAIL, what a body needs: a body known in
// advance is scanned for 8-bit and NUL octets and measured, so that MAIL
// carries BODY=8BITMIME (RFC 6152 section 3) and SIZE= (RFC 1870 section
// 6) when the server offers them, and a body the server cannot take is
// refused before anything is written. A streamed body is held to what
// MailOptions.Body declares while it is sent.

// ErrBodyNotAllowed is wrapped by the error of a body the server cannot
// take as declared: 8-bit octets without BODY=8BITMIME (RFC 6152 section
// 3), NUL octets without BODY=BINARYMIME (RFC 3030 section 3), or a body
// over the server's SIZE (RFC 1870 section 6).
var ErrBodyNotAllowed = errors.New("smtp: body not allowed")

// clientScan is what a streamed body is checked for while it is sent.
type clientScan uint8

const (
	scanNone clientScan = iota // BINARYMIME, or a body checked in advance
	scan8Bit                   // 7-bit declared: no octet above 127, no NUL
	scanNUL                    // 8BITMIME declared: no NUL
)

// check returns the first octet of p the scan forbids, or -1.
func (k clientScan) check(p []byte) int {
	switch k {
	case scan8Bit:
		for i, b := range p {
			if b >= 0x80 || b == 0 {
				return i
			}
		}
	case scanNUL:
		return bytes.IndexByte(p, 0)
	}
	return -1
}

// violation is the error of a streamed body holding an octet its
// declaration forbids.
func (k clientScan) violation() error {
	if k == scanNUL {
		return fmt.Errorf("%w: the body holds a NUL octet, which only BODY=BINARYMIME carries (RFC 3030 section 3); the transaction was abandoned", ErrBodyNotAllowed)
	}
	return fmt.Errorf("%w: the body holds an 8-bit or NUL octet but was not declared BODY=8BITMIME (RFC 6152 section 3); the transaction was abandoned", ErrBodyNotAllowed)
}

// clientBodyFacts are what a scan of a known body found.
type clientBodyFacts struct {
	size      int64 // octets with CRLF line endings, before dot-stuffing
	eightBit  bool
	nul       bool
	inspected bool
}

// clientInspect scans the unread part of body when it is known in advance.
func clientInspect(body io.Reader, scratch []byte) clientBodyFacts {
	var f clientBodyFacts
	buf := scratch[:min(len(scratch), 4096)] // the Client's own: a local array would escape through ReadAt
	scan := func(p []byte, prevCR bool) bool {
		for _, b := range p {
			switch {
			case b == '\n' && !prevCR:
				f.size++ // a bare LF goes as CRLF
			case b >= 0x80:
				f.eightBit = true
			case b == 0:
				f.nul = true
			}
			if prevCR && b != '\n' {
				f.size++ // a bare CR goes as CRLF
			}
			prevCR = b == '\r'
			f.size++
		}
		return prevCR
	}
	var ra io.ReaderAt
	var off, end int64
	switch b := body.(type) {
	case *bytes.Buffer:
		r := bytes.NewReader(b.Bytes())
		ra, end = r, r.Size()
	case *bytes.Reader:
		ra, end, off = b, b.Size(), b.Size()-int64(b.Len())
	case *strings.Reader:
		ra, end, off = b, b.Size(), b.Size()-int64(b.Len())
	default:
		return f
	}
	prevCR, last := false, byte('\n')
	if off < end {
		ra.ReadAt(buf[:1], end-1)
		last = buf[0]
	}
	for off < end {
		n, _ := ra.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		if n == 0 {
			break
		}
		prevCR = scan(buf[:n], prevCR)
		off += int64(n)
	}
	if prevCR {
		f.size++
	}
	if last != '\n' && f.size > 0 {
		f.size += 2 // the CRLF the body gets before its end
	}
	f.inspected = true
	return f
}

// bodyOptions returns the MAIL options for body (mo itself when nothing is
// added) and what a streamed body must be checked for. A known body gets
// BODY=8BITMIME when it holds 8-bit octets and SIZE= when the server
// offers SIZE; one the server cannot take is an error wrapping
// ErrBodyNotAllowed, before anything is written.
func (c *Client) bodyOptions(mo *MailOptions, body io.Reader) (*MailOptions, clientScan, error) {
	declared := BodyType("")
	if mo != nil {
		declared = mo.Body
	}
	if declared == BodyBinaryMIME {
		return mo, scanNone, nil
	}
	f := clientInspect(body, c.buffer())
	if !f.inspected {
		if declared == Body8BitMIME {
			return mo, scanNUL, nil
		}
		return mo, scan8Bit, nil
	}

	switch {
	case f.nul:
		return nil, scanNone, fmt.Errorf("%w: the body holds a NUL octet, which only BODY=BINARYMIME carries (RFC 3030 section 3)", ErrBodyNotAllowed)
	case f.eightBit && declared == Body7Bit:
		return nil, scanNone, fmt.Errorf("%w: the body holds 8-bit octets but MailOptions.Body is 7BIT (RFC 6152 section 3)", ErrBodyNotAllowed)
	case f.eightBit && !c.ext.Has(extensions.EightBitMIME):
		return nil, scanNone, fmt.Errorf("%w: the body holds 8-bit octets and the server does not offer 8BITMIME (RFC 6152 section 3)", ErrBodyNotAllowed)
	}
	out := mo
	edit := func() {
		if out == mo {
			// The Client's own copy, valid for this transaction: the
			// caller's options are never changed.
			c.autoOpts = MailOptions{}
			if mo != nil {
				c.autoOpts = *mo
			}
			out = &c.autoOpts
		}
	}
	if f.eightBit && declared == "" {
		edit()
		out.Body = Body8BitMIME
	}
	if (mo == nil || mo.Size == 0) && f.size > 0 && c.ext.MailParamAllowed("SIZE") {
		if max, _ := c.ext.MaxSize(); max > 0 && f.size > max {
			return nil, scanNone, fmt.Errorf("%w: the message of %d octets exceeds the server's SIZE %d (RFC 1870 section 6)", ErrBodyNotAllowed, f.size, max)
		}
		edit()
		out.Size = f.size
	}
	return out, scanNone, nil
}
