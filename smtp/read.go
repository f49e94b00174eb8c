package smtp

import (
	"bufio"
	"errors"
	"io"
	"net"
	"time"
)

// maxDiscard is how much of an overlong command line is read and thrown
// away, looking for its end, before the connection is closed.
const maxDiscard = 1 << 20

// farewellTimeout bounds the write of the last reply of a connection.
const farewellTimeout = 10 * time.Second

// errShuttingDown ends an idle connection during Shutdown.
var errShuttingDown = errors.New("smtp: server shutting down")

// connReader is what the connection's bufio.Reader reads from: first the
// octets the idle wait read into Conn.small, then the network. Before it
// reads the network it flushes the replies buffered so far unless more
// input is already waiting (pipeline.go: the flush rule of RFC 2920
// section 3.2). It also sets the read deadline for what is being waited
// for (a command, or a block of a body).
type connReader struct {
	c        *Conn
	pending  []byte
	lastFull bool // the last network read filled its buffer
}

func (r *connReader) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	c := r.c
	if err := c.flushUnlessMoreInput(); err != nil {
		return 0, err
	}
	c.setReadDeadline()
	n, err := c.nc.Read(p)
	r.noteRead(n, len(p))
	return n, err
}

// setReadDeadline arms the timeout of the next network read: the command
// timeout, or the body block timeout capped by the end of the body.
//
// Moving a deadline costs a timer update, so a deadline that would move
// later by less than 1/64 of its timeout is left as it is: a command may
// get up to 1.6% less time than the setting, never more.
func (c *Conn) setReadDeadline() {
	timeout := c.readTimeout()
	var d time.Time // none when the timeout is switched off
	switch {
	case timeout <= 0:
	case c.inBody:
		d = time.Now().Add(timeout) // each block of the body
	case c.commandBegun:
		// The whole line, however it trickles in: a client that sends a
		// byte now and then does not get a new ReadTimeout for each.
		c.commandBegun = false
		c.commandDeadline = time.Now().Add(timeout)
		d = c.commandDeadline
	default:
		d = c.commandDeadline
	}
	if !c.dataDeadline.IsZero() && (d.IsZero() || d.After(c.dataDeadline)) {
		d = c.dataDeadline
	}
	c.moveDeadline(&c.readDL, d, timeout, c.nc.SetReadDeadline)
}

// beginCommand starts the clock of ReadTimeout for the next command line
// (or AUTH response): the first network read it needs sets the deadline,
// and the reads after it keep that deadline.
func (c *Conn) beginCommand() { c.commandBegun = true }

// moveDeadline sets the deadline kept in *last to d, unless d is the same
// or later by less than 1/64 of timeout.
func (c *Conn) moveDeadline(last *time.Time, d time.Time, timeout time.Duration, set func(time.Time) error) {
	switch {
	case d.Equal(*last):
		return
	case !d.IsZero() && !last.IsZero() && !d.Before(*last) && d.Sub(*last) < timeout/64:
		return
	}
	*last = d
	set(d)
}

// setWriteDeadline arms the timeout of the next write, with the same
// economy as setReadDeadline. The last write of a connection that is
// closing, its farewell, gets at most farewellTimeout: the client may not
// be reading any more.
func (c *Conn) setWriteDeadline() {
	timeout := setting(c.srv.WriteTimeout, DefaultWriteTimeout)
	if c.closing && (timeout == 0 || timeout > farewellTimeout) {
		timeout = farewellTimeout
	}
	var d time.Time
	if timeout > 0 {
		d = time.Now().Add(timeout)
	}
	c.moveDeadline(&c.writeDL, d, timeout, c.nc.SetWriteDeadline)
}

// readTimeout is the timeout of the next read, 0 for none.
func (c *Conn) readTimeout() time.Duration {
	if c.inBody {
		return setting(c.srv.DataTimeout, DefaultDataTimeout)
	}
	return setting(c.srv.ReadTimeout, DefaultReadTimeout)
}

// beginBody switches the read timeouts to those of a message body (RFC
// 5321 sections 4.5.3.2.5 and 4.5.3.2.6).
func (c *Conn) beginBody() {
	c.inBody = true
	c.dataDeadline = time.Time{}
	if final := setting(c.srv.DataFinalTimeout, DefaultDataFinalTimeout); final > 0 {
		c.dataDeadline = time.Now().Add(final)
	}
}

// endBody switches back to the command timeout.
func (c *Conn) endBody() { c.inBody, c.dataDeadline = false, time.Time{} }

// readCommand returns the next command line without its CRLF, valid until
// the next read. A line refused as it is read (too long, ended by a bare
// LF) comes back nil, with its refusal.
func (c *Conn) readCommand() (line []byte, refused outcome, err error) {
	c.beginCommand()
	if c.r == nil || c.r.Buffered() == 0 {
		if err := c.waitForInput(); err != nil {
			return nil, outcome{}, err
		}
	}
	if looksLikeTLS(c.nextOctets()) {
		// A TLS handshake sent in clear has no line end to wait for.
		return nil, c.foreign("a TLS handshake in plaintext"), nil
	}
	line, err = c.r.ReadSlice('\n')
	switch {
	case err == bufio.ErrBufferFull:
		refused, err = c.discardLongLine(len(line))
		return nil, refused, err
	case err != nil:
		return nil, outcome{}, err
	}

	n := len(line) - 1
	if n > 0 && line[n-1] == '\r' {
		n--
	} else if !c.srv.AllowBareLineEndings {
		return nil, answer(500, EnhancedCode{5, 5, 2}, "Bare LF received; end commands with CRLF"), nil
	}
	return line[:n], outcome{}, nil
}

// nextOctets returns up to two of the octets that the next read will
// return, without reading: from the buffered reader, or the idle wait's
// octets it has not taken yet.
func (c *Conn) nextOctets() []byte {
	if n := c.r.Buffered(); n > 0 {
		b, _ := c.r.Peek(min(2, n))
		return b
	}
	return c.in.pending[:min(2, len(c.in.pending))]
}

// discardLongLine reads and drops the rest of a line longer than any
// command may be, up to its LF (RFC 5321 section 4.5.3.1.4; 4.5.3.1.10
// suggests 500). A client that sends maxDiscard octets without an LF is
// cut off.
func (c *Conn) discardLongLine(discarded int) (outcome, error) {
	err := bufio.ErrBufferFull
	for err == bufio.ErrBufferFull && discarded <= maxDiscard {
		var line []byte
		line, err = c.r.ReadSlice('\n')
		discarded += len(line)
	}
	switch err {
	case nil:
		return answer(500, EnhancedCode{5, 5, 6}, "Line too long"), nil
	case bufio.ErrBufferFull:
		return answer(500, EnhancedCode{5, 5, 6}, "Line too long; closing connection").closeAfter(), nil
	}
	return outcome{}, err
}

// waitForInput waits for the client with no read buffer held: it flushes
// the replies (unless more input is already waiting, see pipeline.go),
// returns the bufio.Reader to the pool, and blocks on a read into the
// small array in Conn. Only when octets arrive does it take a bufio.Reader
// again, primed with them. An idle connection thus holds neither read nor
// write buffer.
func (c *Conn) waitForInput() error {
	if err := c.flushUnlessMoreInput(); err != nil {
		return err
	}
	c.releaseReader()
	interruptible := !c.state.inTransaction()
	c.setReadDeadline()
	// Shutdown sets srv.closing, then wakes the connections it finds idle
	// (interruptIfIdle, under c.mu): either this one sees closing here, or
	// Shutdown sees it idle and moves its read deadline.
	c.mu.Lock()
	c.idle = interruptible
	c.mu.Unlock()
	if interruptible && c.srv.closing.Load() {
		c.setIdle(false)
		return errShuttingDown
	}
	n, err := c.nc.Read(c.small[:])
	c.in.noteRead(n, len(c.small))
	c.setIdle(false)
	if n == 0 {
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	c.in.pending = c.small[:n]
	c.r = c.srv.readerPool.Get().(*bufio.Reader)
	c.r.Reset(&c.in)
	return nil
}

// setIdle records whether the connection waits for a command outside a
// transaction, and notes a deadline moved by Shutdown meanwhile.
func (c *Conn) setIdle(idle bool) {
	c.mu.Lock()
	c.idle = idle
	if c.interrupted {
		c.interrupted = false
		c.readDL = shutdownDeadline // what is in force now
	}
	c.mu.Unlock()
}

// releaseReader returns the bufio.Reader to the pool when it holds no
// input.
func (c *Conn) releaseReader() {
	if c.r == nil || c.r.Buffered() > 0 || len(c.in.pending) > 0 {
		return
	}
	c.r.Reset(nil)
	c.srv.readerPool.Put(c.r)
	c.r = nil
}

// discardInput drops every octet received but not yet read, for STARTTLS
// (CVE-2011-0411: nothing sent before the handshake may count after it).
func (c *Conn) discardInput() {
	if c.r != nil {
		c.r.Discard(c.r.Buffered())
	}
	c.in.pending = nil
	c.releaseReader()
}

// isNetError reports whether err came from reading or writing the
// connection rather than from the protocol.
func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}
