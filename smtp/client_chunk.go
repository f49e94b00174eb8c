package smtp

import (
	"fmt"
	"io"
)

// This file sends a body as BDAT chunks (RFC 3030 section 2).

// clientDefaultChunk is the BDAT chunk size when DialOptions.ChunkSize is 0.
const clientDefaultChunk = 64 << 10

func (c *Client) chunkSize() int {
	if n := c.opts.ChunkSize; n > 0 {
		return max(n, 16)
	}
	return clientDefaultChunk
}

// buffer returns the client's body buffer: a chunk followed by half a
// chunk of input for line-ending conversion, and at least 32 KiB for
// copying a DATA body. It is allocated once per Client.
func (c *Client) buffer() []byte {
	if c.buf == nil {
		n := c.chunkSize()
		c.buf = make([]byte, max(n+n/2, 32<<10))
	}
	return c.buf
}

// fillChunk reads the next chunk of the body. Unless the body is
// BINARYMIME, bare CR and LF become CRLF, as the DATA path does (RFC 3030
// section 3: text bodies keep canonical line endings). eof reports that the
// body ended and chunk is the last one.
func (s *clientSendState) fillChunk() (chunk []byte, eof bool, err error) {
	c := s.c
	size := c.chunkSize()
	buf := c.buffer()
	if s.binary {
		return s.fillBinary(buf[:size])
	}
	return s.fillText(buf[:size], buf[size:size+size/2])
}

// fillBinary fills out with the body as it is, for BINARYMIME.
func (s *clientSendState) fillBinary(out []byte) (chunk []byte, eof bool, err error) {
	n := 0
	for n < len(out) {
		if err := s.interrupted(); err != nil {
			return nil, false, err
		}
		k, err := s.body.Read(out[n:])
		n += k
		if err == io.EOF {
			return out[:n], true, nil
		}
		if err != nil {
			return nil, false, err
		}
	}
	return out, false, nil
}

// fillText fills out with the body, read into in, bare CR and LF turned
// into CRLF. A read takes at most half the room left in out, since
// conversion may double it; it stops when no read fits, or when little
// room is left and out already holds something.
func (s *clientSendState) fillText(out, in []byte) (chunk []byte, eof bool, err error) {
	c := s.c
	n := 0
	for {
		room := (len(out) - n - 4) / 2
		if room < 1 || n > 0 && room < min(256, len(out)/4) {
			return out[:n], false, nil
		}
		if err := s.interrupted(); err != nil {
			return nil, false, err
		}
		k, rerr := s.body.Read(in[:min(room, len(in))])
		if s.scan.check(in[:k]) >= 0 {
			// Earlier chunks may be on the wire: dropping the connection
			// keeps the server from taking the message.
			return nil, false, s.c.fail(s.scan.violation())
		}
		n += c.crlf.convert(out[n:], in[:k])
		if rerr == io.EOF {
			n += c.crlf.finish(out[n:])
			return out[:n], true, nil
		}
		if rerr != nil {
			return nil, false, rerr
		}
	}
}

// bdatRest sends the body, or what is left of it, as BDAT chunks and reads
// the verdict. After a pipelined first chunk, firstSent is true and
// firstLast tells whether it was the last one. Pipelined, the reply to a
// chunk is read after the next chunk is written (a window of one); the
// last chunk goes only once every earlier chunk was accepted, so that a
// refused message never ends with LAST.
func (s *clientSendState) bdatRest(firstSent, firstLast bool) error {
	if !firstSent {
		return s.sendChunks(0)
	}
	if firstLast {
		return s.verdict()
	}
	if err := s.bdatReplies(1); err != nil {
		return err
	}
	if s.accepted == 0 {
		return s.refused()
	}
	return s.sendChunks(1)
}

// sendChunks sends the rest of the body as BDAT chunks and reads the
// verdict. It reads the reply to a chunk once window more chunks are
// written after it, and those to every earlier chunk before the last.
func (s *clientSendState) sendChunks(window int) error {
	c := s.c
	pending := 0
	for {
		chunk, eof, err := s.fillChunk()
		if err != nil {
			// Part of the message is with the server: drop the
			// connection rather than let a truncated message be
			// delivered.
			return c.fail(fmt.Errorf("smtp: reading the body: %w", err))
		}

		// The last chunk waits for the replies to every earlier one.
		if eof && pending > 0 {
			if err := s.bdatReplies(pending); err != nil {
				return err
			}
			pending = 0
		}
		if err := s.writeChunk(chunk, eof, pending == 0); err != nil {
			return err
		}
		if eof {
			return s.verdict()
		}

		// Read the reply to an earlier chunk when the window is full.
		pending++
		if pending > window {
			if err := s.bdatReplies(1); err != nil {
				return s.skipReplies(pending-1, err)
			}
			pending--
		}
	}
}

// writeChunk writes and flushes one BDAT chunk, LAST when last. With no
// reply owed, nothing may have come from the server meanwhile.
func (s *clientSendState) writeChunk(chunk []byte, last, nothingOwed bool) error {
	c := s.c
	c.setDeadline(s.ctx, c.opts.DataBlockTimeout, DefaultDataBlockTimeout)
	if nothingOwed {
		if err := c.checkNothingPending(); err != nil {
			return err
		}
	}
	c.hdr = clientAppendBdat(c.hdr[:0], len(chunk), last)
	c.bw.Write(c.hdr)
	c.bw.Write(chunk)
	return c.flush(s.ctx)
}

// skipReplies reads the replies still owed to n chunks, to keep in step
// after a refused one, and returns cause.
func (s *clientSendState) skipReplies(n int, cause error) error {
	for ; n > 0; n-- {
		if _, _, err := s.c.readStatus(s.ctx); err != nil {
			return err
		}
	}
	return cause
}

// bdatReplies reads the replies to n chunks that are not the last.
func (s *clientSendState) bdatReplies(n int) error {
	c := s.c
	var first *Error
	for ; n > 0; n-- {
		c.setDeadline(s.ctx, c.opts.DataBlockTimeout, DefaultDataBlockTimeout)
		r, _, err := c.readStatus(s.ctx)
		if err != nil {
			return err
		}
		if r.Code != 250 && first == nil {
			first = clientReplyError(r)
		}
	}
	if first == nil {
		return nil
	}
	if s.accepted == 0 {
		return s.refused()
	}
	return s.failAccepted("BDAT", first)
}

// clientCRLF turns bare CR and bare LF into CRLF across calls.
type clientCRLF struct {
	cr bool // the last byte seen was a CR whose LF may follow
}

// convert writes src to dst with canonical line endings and returns the
// number of bytes written; dst must hold 2*len(src)+2 bytes.
func (x *clientCRLF) convert(dst, src []byte) int {
	n := 0
	for _, b := range src {
		if x.cr {
			x.cr = false
			dst[n], dst[n+1] = '\r', '\n'
			n += 2
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\r':
			x.cr = true
		case '\n':
			dst[n], dst[n+1] = '\r', '\n'
			n += 2
		default:
			dst[n] = b
			n++
		}
	}
	return n
}

// finish ends the body: a CR held back becomes CRLF.
func (x *clientCRLF) finish(dst []byte) int {
	if x.cr {
		x.cr = false
		dst[0], dst[1] = '\r', '\n'
		return 2
	}
	return 0
}
