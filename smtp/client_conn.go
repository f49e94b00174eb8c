package smtp

// This file is the client's connection machinery: one command and its
// reply, deadlines from the timeouts and the context, and what a broken
// connection turns into.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/postwire/postwire/textproto"
)

// cmd writes one command line, verb followed by arg (arg has been checked),
// and reads its reply. A 4xx or 5xx reply is not an error here: callers
// decide.
func (c *Client) cmd(ctx context.Context, timeout, def time.Duration, verb, arg string) (textproto.Reply, error) {
	b := append(c.line[:0], verb...)
	b = append(b, arg...)
	c.line = append(b, '\r', '\n')
	return c.roundTrip(ctx, timeout, def, c.line)
}

// roundTrip writes line (CRLF included) and reads the reply.
func (c *Client) roundTrip(ctx context.Context, timeout, def time.Duration, line []byte) (textproto.Reply, error) {
	if err := c.begin(ctx, timeout, def); err != nil {
		return textproto.Reply{}, err
	}
	defer c.end()
	if err := c.checkNothingPending(); err != nil {
		return textproto.Reply{}, err
	}
	c.bw.Write(line)
	if err := c.flush(ctx); err != nil {
		return textproto.Reply{}, err
	}
	return c.readReply(ctx)
}

// checkNothingPending makes sure the server has sent nothing that no
// command asked for: such bytes would later be read as the reply to the
// next command (RFC 5321 section 4.2; the response-injection class of
// CVE-2011-0411).
func (c *Client) checkNothingPending() error {
	if c.br.Buffered() > 0 {
		return c.fail(&textproto.ProtocolError{Msg: "server sent a reply with no command pending"})
	}
	return nil
}

func (c *Client) flush(ctx context.Context) error {
	if err := c.bw.Flush(); err != nil {
		return c.ioFail(ctx, err)
	}
	return nil
}

// readReply reads one reply; a protocol error or an I/O error closes the
// connection.
func (c *Client) readReply(ctx context.Context) (textproto.Reply, error) {
	r, err := c.rr.ReadReply()
	if err != nil {
		return r, c.replyFail(ctx, err)
	}
	return r, nil
}

// replyFail closes the connection after an error reading a reply: a
// protocol error as it is, an I/O error through ioFail.
func (c *Client) replyFail(ctx context.Context, err error) error {
	var pe *textproto.ProtocolError
	if errors.As(err, &pe) {
		return c.fail(err)
	}
	return c.ioFail(ctx, err)
}

// fail closes the connection and makes err sticky.
func (c *Client) fail(err error) error {
	if c.err == nil || c.err == net.ErrClosed {
		c.err = err
	}
	c.netConn.Close()
	return err
}

// ioFail turns a network error into the error the caller sees: the
// context's error when it ended the call; otherwise, as RFC 5321 section
// 3.8 asks, a temporary failure (*Error 451 4.4.2, errors.As finds it and
// Temporary reports true) that also wraps the network error for errors.Is.
func (c *Client) ioFail(ctx context.Context, err error) error {
	if c.err != nil && c.err != net.ErrClosed {
		return c.err
	}
	if cerr := ctx.Err(); cerr != nil && c.interrupted.Load() {
		return c.fail(fmt.Errorf("smtp: %w", cerr))
	}
	if clientPastDeadline(ctx, err) {
		// The connection's deadline was the context's and fired before
		// the context's own timer did: the caller's deadline ended it.
		return c.fail(fmt.Errorf("smtp: %w", context.DeadlineExceeded))
	}
	if c.quitd {
		return c.fail(err)
	}
	return c.fail(&clientLostError{
		smtp: &Error{Code: 451, Enhanced: EnhancedCode{4, 4, 2}, Message: "connection lost: " + err.Error()},
		err:  err,
	})
}

// clientPastDeadline reports whether err is the connection's deadline
// firing once the deadline of ctx has passed.
func clientPastDeadline(ctx context.Context, err error) bool {
	d, ok := ctx.Deadline()
	return ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(d)
}

// clientLostError is a connection that broke mid-dialogue: both the 451 of
// RFC 5321 section 3.8 and the network error.
type clientLostError struct {
	smtp *Error
	err  error
}

func (e *clientLostError) Error() string { return "smtp: " + e.smtp.Message }

func (e *clientLostError) Unwrap() []error { return []error{e.smtp, e.err} }

// Temporary is true: a transaction cut by a lost connection may be retried.
func (e *clientLostError) Temporary() bool { return true }

// begin arms the deadline and the context watcher of one call.
func (c *Client) begin(ctx context.Context, timeout, def time.Duration) error {
	if c.err != nil {
		return c.err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	c.interrupted.Store(false)
	c.setDeadline(ctx, timeout, def)
	if ctx.Done() != nil {
		c.stop = context.AfterFunc(ctx, c.interruptFn)
	}
	return nil
}

// end disarms the context watcher.
func (c *Client) end() {
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
}

// setDeadline sets the connection's deadline to timeout from now (def when
// timeout is 0, none when negative) or the context's deadline if sooner.
func (c *Client) setDeadline(ctx context.Context, timeout, def time.Duration) {
	if timeout == 0 {
		timeout = def
	}
	var d time.Time
	if timeout > 0 {
		d = time.Now().Add(timeout)
	}
	if cd, ok := ctx.Deadline(); ok && (d.IsZero() || cd.Before(d)) {
		d = cd
	}
	c.netConn.SetDeadline(d)
	if c.interrupted.Load() {
		c.netConn.SetDeadline(clientLongAgo)
	}
}

// clientLongAgo is a deadline in the past: blocked reads and writes return
// at once.
var clientLongAgo = time.Unix(1, 0)

// interrupt runs when the context of the call in progress ends.
func (c *Client) interrupt() {
	c.interrupted.Store(true)
	c.netConn.SetDeadline(clientLongAgo)
}
