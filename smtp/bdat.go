package smtp

import (
	"errors"
	"io"

	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/internal/ascii"
	"github.com/postwire/postwire/textproto"
)

// errBDATAborted stops a BDAT body when RSET or QUIT came between chunks,
// or the connection is closing.
var errBDATAborted = errors.New("smtp: BDAT transaction aborted")

// bdatReader yields the chunks of a BDAT transaction (RFC 3030) as one
// body. The session reads the body in one Data call while the chunks
// arrive with commands between them: when a chunk is used up and was not
// the LAST, the reader itself acknowledges it (250) and reads the next
// command, on the connection's goroutine. Commands other than BDAT run
// through the state table in stateBDAT (NOOP and HELP are answered, most
// others get 503); RSET and QUIT end the body with errBDATAborted and run
// after Data returns.
//
// Chunk octets are passed on exactly as sent: BDAT has no dot-stuffing and
// no terminator, so bare CR and LF are data here (RFC 3030 section 3).
type bdatReader struct {
	c      *Conn
	remain int64 // octets of the current chunk not read yet
	last   bool  // the current chunk is the LAST
	err    error
}

func (b *bdatReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	for b.remain == 0 {
		if b.last {
			b.err = io.EOF
			return 0, io.EOF
		}
		if err := b.next(); err != nil {
			b.err = err
			return 0, err
		}
	}
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.c.r.Read(p)
	b.remain -= int64(n)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		b.err = err
		if n == 0 {
			return 0, err
		}
	}
	return n, nil
}

// next acknowledges the chunk just read and waits for the next BDAT.
func (b *bdatReader) next() error {
	c := b.c
	c.reply(250, EnhancedCode{2, 0, 0}, "Chunk OK")
	final := c.dataDeadline
	c.endBody()
	defer func() { c.dataDeadline = final }()
	for !c.closing {
		line, err := c.readCommand()
		if err != nil {
			return err
		}
		if line == nil {
			continue
		}
		cmd, perr := textproto.ParseCommand(line)
		if perr == nil {
			switch cmd.Verb {
			case textproto.VerbBDAT:
				size, last, ok := parseBDAT(cmd.Args)
				if !ok {
					c.badBDAT()
					return errBDATAborted
				}
				b.remain, b.last = size, last
				return nil
			case textproto.VerbRSET, textproto.VerbQUIT:
				c.pending = append([]byte(nil), line...)
				return errBDATAborted
			}
		}
		c.execute(line)
	}
	return errBDATAborted
}

// skipCurrent discards what is left of the current chunk.
func (b *bdatReader) skipCurrent() error {
	for b.remain > 0 {
		n, err := b.c.r.Discard(int(min(b.remain, 1<<30)))
		b.remain -= int64(n)
		if err != nil {
			return err
		}
	}
	return nil
}

// handleBDAT answers BDAT (RFC 3030 section 2) and, through bdatReader,
// the chunks that follow it up to the LAST one. A chunk that fails the
// message (the session's error, the size limit) is read to its end and
// answered; the transaction is then over, and further chunks the client
// had pipelined are read, discarded and answered 503 (section 3).
//
// BDAT exists only where CHUNKING was advertised (RFC 3030 section 2):
// after HELO, or with Server.DisableChunking, it is 502 5.5.1 (RFC 5321
// section 4.2.4, command not implemented), its chunk read and discarded
// all the same so that the session stays in step.
func (c *Conn) handleBDAT(args []byte) {
	if !c.exts.Has(extensions.Chunking) {
		if c.skipChunk(args) {
			c.reply(502, EnhancedCode{5, 5, 1}, "BDAT not available: CHUNKING was not advertised")
		}
		return
	}
	size, last, ok := parseBDAT(args)
	if !ok {
		c.badBDAT()
		return
	}
	c.state = stateBDAT
	c.beginBody()
	c.bdat = bdatReader{c: c, remain: size, last: last}
	c.body.reset(&c.bdat)
	err := c.deliver()
	b := &c.bdat
	var bodyErr error
	switch {
	case b.err == errBDATAborted:
		c.endBody()
		c.resetTransaction()
		return
	case b.err != nil && b.err != io.EOF:
		bodyErr = b.err
	case err == nil && b.err == nil && c.body.err == nil:
		// The session returned before the end: read the rest, still
		// counting it against the size limit.
		bodyErr = c.body.drainBDAT()
		if bodyErr == errBDATAborted {
			c.endBody()
			c.resetTransaction()
			return
		}
	}
	if bodyErr == nil && c.body.err == errTooBig {
		bodyErr = errTooBig
	}
	if bodyErr == nil || bodyErr == errTooBig {
		if serr := b.skipCurrent(); serr != nil {
			bodyErr = serr
		}
	}
	c.endBody()
	c.finishMessage(err, bodyErr)
}

// drainBDAT reads the rest of a BDAT body the session left unread.
func (l *limitReader) drainBDAT() error {
	var buf [512]byte
	for {
		_, err := l.Read(buf[:])
		switch err {
		case nil:
		case io.EOF:
			return nil
		default:
			return err
		}
	}
}

// skipChunk reads and discards the chunk of a BDAT refused by the state
// table, so that its octets are never taken for commands. It reports
// false when the arguments are too broken to know the chunk's size.
func (c *Conn) skipChunk(args []byte) bool {
	size, _, ok := parseBDAT(args)
	if !ok {
		c.badBDAT()
		return false
	}
	c.beginBody()
	defer c.endBody()
	b := bdatReader{c: c, remain: size}
	if err := b.skipCurrent(); err != nil {
		c.readFailed(asTimeout(err))
		c.closing = true
		return false
	}
	return true
}

// badBDAT answers a BDAT whose size cannot be read. The octets of its
// chunk are on their way and there is no telling where they end, so the
// connection cannot stay in step: it is closed after the reply.
func (c *Conn) badBDAT() {
	c.reply(501, EnhancedCode{5, 5, 4}, "Syntax: BDAT chunk-size [LAST]; closing connection")
	c.closing = true
}

// parseBDAT parses bdat-cmd's arguments: chunk-size [ SP end-marker ],
// chunk-size 1*DIGIT, end-marker "LAST" (RFC 3030 section 2).
func parseBDAT(args []byte) (size int64, last bool, ok bool) {
	i := 0
	for i < len(args) && args[i] >= '0' && args[i] <= '9' {
		if i == 18 {
			return 0, false, false
		}
		size = size*10 + int64(args[i]-'0')
		i++
	}
	if i == 0 {
		return 0, false, false
	}
	switch rest := args[i:]; {
	case len(rest) == 0:
		return size, false, true
	case len(rest) == 5 && rest[0] == ' ' && ascii.EqualFold(string(rest[1:]), "LAST"):
		return size, true, true
	}
	return 0, false, false
}
