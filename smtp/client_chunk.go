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
	out := buf[:size]
	if s.binary {
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
	in := buf[size : size+size/2]
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
	c := s.c
	if firstSent {
		if firstLast {
			return s.verdict()
		}
		if err := s.bdatReplies(1); err != nil {
			return err
		}
		if s.accepted == 0 {
			return s.refused()
		}
	}
	window := 0
	if firstSent {
		window = 1
	}
	pending := 0
	for {
		chunk, eof, err := s.fillChunk()
		if err != nil {
			// Part of the message is with the server: drop the
			// connection rather than let a truncated message be
			// delivered.
			return c.fail(fmt.Errorf("smtp: reading the body: %w", err))
		}
		if eof && pending > 0 {
			if err := s.bdatReplies(pending); err != nil {
				return err
			}
			pending = 0
		}
		c.setDeadline(s.ctx, c.opts.DataBlockTimeout, DefaultDataBlockTimeout)
		if pending == 0 {
			if err := c.checkNothingPending(); err != nil {
				return err
			}
		}
		c.hdr = clientAppendBdat(c.hdr[:0], len(chunk), eof)
		c.bw.Write(c.hdr)
		c.bw.Write(chunk)
		if err := c.flush(s.ctx); err != nil {
			return err
		}
		if eof {
			return s.verdict()
		}
		pending++
		if pending > window {
			if err := s.bdatReplies(1); err != nil {
				// Keep in step: read what is still owed.
				for ; pending > 1; pending-- {
					if _, _, rerr := c.readStatus(s.ctx); rerr != nil {
						return rerr
					}
				}
				return err
			}
			pending--
		}
	}
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
