package smtp

import (
	"errors"
	"io"

	"github.com/postwire/postwire/internal/ascii"
	"github.com/postwire/postwire/textproto"
)

// errBDATInterrupted ends a BDAT body when something other than the next
// BDAT came between its chunks.
var errBDATInterrupted = errors.New("smtp: BDAT body interrupted by another command")

// bdatReader yields the chunks of a BDAT transaction (RFC 3030) as one
// body. The session reads the body in one Data call while the chunks
// arrive with commands between them: when a chunk is used up and was not
// the LAST, the reader acknowledges it (250) and reads the next command
// line. A valid BDAT continues the body. Anything else ends it with
// errBDATInterrupted and is kept, so that handleBDAT runs it once Data has
// returned: no command ever runs inside Session.Data.
//
// Chunk octets are passed on exactly as sent: BDAT has no dot-stuffing and
// no terminator, so bare CR and LF are data here (RFC 3030 section 3).
type bdatReader struct {
	c      *Conn
	remain int64 // octets of the current chunk not read yet
	last   bool  // the current chunk is the LAST
	err    error

	// What interrupted the body: a command line (a copy) or the refusal
	// of a line already refused as it was read.
	interruption []byte
	refusal      outcome
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

// next acknowledges the chunk just read and takes the next command line:
// the next chunk's BDAT, or an interruption.
func (b *bdatReader) next() error {
	c := b.c
	c.respond(answer(250, EnhancedCode{2, 0, 0}, "Chunk OK"))
	final := c.dataDeadline
	c.endBody()
	line, refused, err := c.readCommand()
	c.inBody, c.dataDeadline = true, final
	switch {
	case err != nil:
		return err
	case line == nil:
		b.refusal = refused
		return errBDATInterrupted
	}

	if cmd, perr := textproto.ParseCommand(line); perr == nil && cmd.Verb == textproto.VerbBDAT {
		size, last, ok := parseBDAT(cmd.Args)
		if !ok {
			b.refusal = badBDAT
			return errBDATInterrupted
		}
		b.remain, b.last = size, last
		return nil
	}
	b.interruption = append([]byte(nil), line...)
	return errBDATInterrupted
}

// afterInterruption runs what ended the body between chunks, now that Data has
// returned: the command is judged by the table in stateBDAT (RSET, NOOP,
// HELP and QUIT are answered, anything else is 503 5.5.1), and the
// message, whose body was cut short, is not delivered whatever the
// command was.
func (c *Conn) afterInterruption(b *bdatReader) outcome {
	o := b.refusal
	if b.interruption != nil {
		o = c.execute(b.interruption)
	}
	c.endTransaction()
	return o
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
// had pipelined are refused by the table and discarded (section 3).
//
// BDAT exists only where CHUNKING was advertised (RFC 3030 section 2):
// after HELO, or with Server.DisableChunking, the table answers 502 5.5.1
// (RFC 5321 section 4.2.4, command not implemented), its chunk read and
// discarded all the same so that the session stays in step.
func (c *Conn) handleBDAT(args []byte) outcome {
	size, last, ok := parseBDAT(args)
	if !ok {
		return badBDAT
	}

	c.chunksStarted()
	c.watchMessage(true)
	c.beginBody()
	c.bdat = bdatReader{c: c, remain: size, last: last}
	c.body.reset(&c.bdat)
	err := c.deliver()
	bodyErr := c.bdatBodyError(err)
	c.endBody()

	if bodyErr == errBDATInterrupted {
		return c.afterInterruption(&c.bdat)
	}
	return c.finishMessage(err, bodyErr)
}

// bdatBodyError finishes reading a BDAT body after Data returned with err
// and reports what broke it, if anything: a body the session left unread
// is read to its LAST chunk (still against the body rules), and the rest
// of a chunk that failed the message is skipped.
func (c *Conn) bdatBodyError(err error) error {
	b := &c.bdat
	var bodyErr error
	switch {
	case b.err != nil && b.err != io.EOF:
		return b.err
	case err == nil && b.err == nil && c.body.err == nil:
		if bodyErr = c.body.drainBDAT(); bodyErr == errBDATInterrupted {
			return bodyErr
		}
	}
	if bodyErr == nil {
		bodyErr = c.body.ruleErr
	}
	if bodyErr == nil || bodyErr == c.body.ruleErr {
		if serr := b.skipCurrent(); serr != nil {
			bodyErr = serr
		}
	}
	return bodyErr
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

// skipChunk reads and discards the chunk of a BDAT the table refused, so
// that its octets are never taken for commands. When the arguments are
// too broken to know the chunk's size, or the read fails, it returns the
// outcome that ends the connection and false.
func (c *Conn) skipChunk(args []byte) (outcome, bool) {
	size, _, ok := parseBDAT(args)
	if !ok {
		return badBDAT, false
	}
	c.beginBody()
	defer c.endBody()
	b := bdatReader{c: c, remain: size}
	if err := b.skipCurrent(); err != nil {
		return c.readFailure(asTimeout(err)), false
	}
	return outcome{}, true
}

// badBDAT answers a BDAT whose size cannot be read. The octets of its
// chunk are on their way and there is no telling where they end, so the
// connection cannot stay in step: it is closed after the reply.
var badBDAT = answer(501, EnhancedCode{5, 5, 4}, "Syntax: BDAT chunk-size [LAST]; closing connection").closeAfter()

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
