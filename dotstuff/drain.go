package dotstuff

import (
	"bytes"
	"io"
)

// Drain discards the rest of the body up to and including the real
// CRLF.CRLF, whatever error the Reader met before, and returns the error
// that stopped reading (nil if the body was clean). Only an I/O error from
// the underlying reader makes it stop early.
//
// The part of the body not read yet is checked as Read would check it, so
// a bare line ending or a long line there is reported too.
func (d *Reader) Drain() error {
	if d.err == nil {
		d.decode(nil, true)
	}
	switch {
	case d.err == io.EOF:
		return nil
	case d.ioErr || d.state == ended:
		return d.err
	}
	if err := d.skip(); err != nil {
		d.err, d.ioErr = err, true
		return err
	}
	return d.err
}

// skip discards input up to and including the terminator, going on from
// the state the Reader stopped in, whatever the octets are.
func (d *Reader) skip() error {
	k := matched[d.state]
	for {
		if d.r.Buffered() == 0 {
			if _, err := d.r.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
		}
		buf, _ := d.r.Peek(d.r.Buffered())
		i := 0
		for ; k > 0 && i < len(buf); i++ {
			k = nextMatch(k, buf[i])
			if k == len(terminator) {
				d.r.Discard(i + 1)
				d.state = ended
				return nil
			}
		}
		if k == 0 {
			rest := buf[i:]
			if j := bytes.Index(rest, terminatorBytes); j >= 0 {
				d.r.Discard(i + j + len(terminator))
				d.state = ended
				return nil
			}
			k = tailMatch(rest)
		}
		d.r.Discard(len(buf))
	}
}

// nextMatch returns how much of terminator is matched after octet c when k
// octets were matched before it.
func nextMatch(k int, c byte) int {
	if c == terminator[k] {
		return k + 1
	}
	if c == '\r' {
		return 1
	}
	return 0
}

// tailMatch returns the length of the longest end of b that begins
// terminator (short of all of it).
func tailMatch(b []byte) int {
	for k := len(terminator) - 1; k > 0; k-- {
		if len(b) >= k && string(b[len(b)-k:]) == terminator[:k] {
			return k
		}
	}
	return 0
}
