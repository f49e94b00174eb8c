package smtp

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/postwire/postwire/extensions"
)

// This file holds the lock-step calls, one command and its reply at a
// time, as net/smtp and go-smtp offer them. Send pipelines instead.

// Mail starts a transaction with MAIL FROM (RFC 5321 section 4.1.1.2);
// from "" is the null reverse-path "<>". Every option is checked against
// the server's extensions before anything is written; set opts.UTF8 when a
// later recipient's local part is not ASCII. A U-label domain goes as
// A-labels when the local part is ASCII (RFC 6531 section 3.2), as Send
// sends it.
func (c *Client) Mail(ctx context.Context, from string, opts *MailOptions) error {
	if err := c.hello(ctx); err != nil {
		return err
	}
	from, err := clientWireAddress(from)
	if err != nil {
		return err
	}
	utf8, err := c.envelopeUTF8(opts != nil && opts.UTF8, from, nil)
	if err != nil {
		return err
	}
	if c.needReset {
		if err := c.Reset(ctx); err != nil {
			return err
		}
	}
	line, err := c.appendMail(c.line[:0], from, opts, utf8)
	if err != nil {
		return err
	}
	c.line = line
	r, err := c.roundTrip(ctx, c.opts.CommandTimeout, DefaultCommandTimeout, line)
	if err != nil {
		return err
	}
	if r.Code != 250 {
		return fmt.Errorf("smtp: MAIL FROM: %w", clientReplyError(r))
	}
	c.mailOpened, c.mailUTF8 = true, utf8
	c.lmtpRcpts = c.lmtpRcpts[:0]
	return nil
}

// Rcpt adds a recipient with RCPT TO (RFC 5321 section 4.1.1.3).
func (c *Client) Rcpt(ctx context.Context, to string, opts *RcptOptions) error {
	if c.err != nil {
		return c.err
	}
	to, err := clientWireAddress(to)
	if err != nil {
		return err
	}
	if clientNeedsUTF8(to) && !c.mailUTF8 {
		return errors.New("smtp: non-ASCII recipient needs SMTPUTF8 on MAIL (MailOptions.UTF8)")
	}
	line, err := c.appendRcpt(c.line[:0], to, opts, c.mailUTF8)
	if err != nil {
		return err
	}
	c.line = line
	r, err := c.roundTrip(ctx, c.opts.CommandTimeout, DefaultCommandTimeout, line)
	if err != nil {
		return err
	}
	if r.Code != 250 && r.Code != 251 {
		return fmt.Errorf("smtp: RCPT TO:<%s>: %w", to, clientReplyError(r))
	}
	if c.opts.LMTP {
		c.lmtpRcpts = append(c.lmtpRcpts, to)
	}
	return nil
}

// Data sends DATA (RFC 5321 section 4.1.1.4) and, after the 354, returns a
// writer for the body: it dot-stuffs the body and turns bare CR and LF into
// CRLF (section 4.5.2). Close ends the body and reads the reply; in LMTP
// mode it reads one reply per accepted recipient (RFC 2033 section 4.2).
// ctx governs every Write and the Close.
func (c *Client) Data(ctx context.Context) (*DataWriter, error) {
	if c.err != nil {
		return nil, c.err
	}
	r, err := c.cmd(ctx, c.opts.DataInitTimeout, DefaultDataInitTimeout, "DATA", "")
	if err != nil {
		return nil, err
	}
	if r.Code != 354 {
		c.needReset = c.mailOpened
		return nil, fmt.Errorf("smtp: DATA: %w", clientReplyError(r))
	}
	c.dot.Reset(c.bw)
	return &DataWriter{c: c, ctx: ctx}, nil
}

// DataWriter is the body of a message being sent with Data.
type DataWriter struct {
	c       *Client
	ctx     context.Context
	closed  bool
	reply   string
	results []RecipientResult
}

// Write writes body bytes; each call must finish within
// DialOptions.DataBlockTimeout (RFC 5321 section 4.5.3.2.5).
func (w *DataWriter) Write(p []byte) (int, error) {
	c := w.c
	if w.closed {
		return 0, errors.New("smtp: write after Close")
	}
	if err := c.begin(w.ctx, c.opts.DataBlockTimeout, DefaultDataBlockTimeout); err != nil {
		return 0, err
	}
	defer c.end()
	n, err := c.dot.Write(p)
	if err != nil {
		return n, c.ioFail(w.ctx, err)
	}
	return n, nil
}

// Close ends the body with CRLF.CRLF and reads the server's verdict, within
// DialOptions.DataTermTimeout (RFC 5321 section 4.5.3.2.6). In LMTP mode
// the rule is Send's: the error is nil only when the message was delivered
// to every recipient, and otherwise a *RecipientsError whose Accepted
// counts the deliveries (RFC 2033 section 4.2); Results has each one.
func (w *DataWriter) Close() error {
	c := w.c
	if w.closed {
		return errors.New("smtp: Close called twice")
	}
	w.closed = true
	if err := c.begin(w.ctx, c.opts.DataTermTimeout, DefaultDataTermTimeout); err != nil {
		return err
	}
	defer c.end()
	if err := c.dot.Close(); err != nil {
		return c.ioFail(w.ctx, err)
	}
	if err := c.flush(w.ctx); err != nil {
		return err
	}
	c.mailOpened = false
	return w.readVerdict()
}

func (w *DataWriter) readVerdict() error {
	c := w.c
	if !c.opts.LMTP || len(c.lmtpRcpts) == 0 {
		r, err := c.readReply(w.ctx)
		if err != nil {
			return err
		}
		w.reply = clientJoin(r.Lines)
		if r.Code != 250 {
			return fmt.Errorf("smtp: end of data: %w", clientReplyError(r))
		}
		return nil
	}
	for _, to := range c.lmtpRcpts {
		r, err := c.readReply(w.ctx)
		if err != nil {
			return err
		}
		res := RecipientResult{Address: to}
		if r.Code != 250 {
			res.Err = clientReplyError(r)
		} else if w.reply == "" {
			w.reply = clientJoin(r.Lines)
		}
		w.results = append(w.results, res)
	}
	c.lmtpRcpts = c.lmtpRcpts[:0]
	return clientRefusedError(&SendResult{Recipients: w.results})
}

// Reply returns the text of the server's reply to the end of the body
// (the first successful one in LMTP mode), often a queue identifier.
func (w *DataWriter) Reply() string { return w.reply }

// Results returns, in LMTP mode, the delivery result of each recipient
// accepted by Rcpt, in order; nil otherwise.
func (w *DataWriter) Results() []RecipientResult { return w.results }

// Bdat sends one BDAT chunk (RFC 3030 section 2) and reads its reply; last
// marks the final chunk. The chunk is sent as is: no dot-stuffing, no line
// ending conversion. The server must have advertised CHUNKING. In LMTP
// mode the last chunk gets one reply per accepted recipient and the error
// is DataWriter.Close's: a *RecipientsError unless every one was delivered.
func (c *Client) Bdat(ctx context.Context, chunk []byte, last bool) error {
	if c.err != nil {
		return c.err
	}
	if !c.ext.Has(extensions.Chunking) {
		return clientNotAdvertised("CHUNKING")
	}
	timeout, def := c.opts.DataBlockTimeout, DefaultDataBlockTimeout
	if last {
		timeout, def = c.opts.DataTermTimeout, DefaultDataTermTimeout
	}
	if err := c.begin(ctx, timeout, def); err != nil {
		return err
	}
	defer c.end()
	if err := c.checkNothingPending(); err != nil {
		return err
	}
	c.line = clientAppendBdat(c.line[:0], len(chunk), last)
	c.bw.Write(c.line)
	c.bw.Write(chunk)
	if err := c.flush(ctx); err != nil {
		return err
	}
	if !last || !c.opts.LMTP || len(c.lmtpRcpts) == 0 {
		r, err := c.readReply(ctx)
		if err != nil {
			return err
		}
		if last {
			c.mailOpened = false
		}
		if r.Code != 250 {
			c.needReset = c.mailOpened
			return clientReplyError(r)
		}
		return nil
	}
	w := DataWriter{c: c, ctx: ctx}
	c.mailOpened = false
	return w.readVerdict()
}

func clientAppendBdat(dst []byte, n int, last bool) []byte {
	dst = append(dst, "BDAT "...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	if last {
		dst = append(dst, " LAST"...)
	}
	return append(dst, '\r', '\n')
}

// Reset aborts the transaction with RSET (RFC 5321 section 4.1.1.5).
func (c *Client) Reset(ctx context.Context) error {
	r, err := c.cmd(ctx, c.opts.CommandTimeout, DefaultCommandTimeout, "RSET", "")
	if err != nil {
		return err
	}
	if r.Code != 250 {
		return clientReplyError(r)
	}
	c.needReset, c.mailOpened, c.mailUTF8 = false, false, false
	c.lmtpRcpts = c.lmtpRcpts[:0]
	return nil
}

// Noop sends NOOP (RFC 5321 section 4.1.1.9), to keep the connection alive
// or check that it still is.
func (c *Client) Noop(ctx context.Context) error {
	r, err := c.cmd(ctx, c.opts.CommandTimeout, DefaultCommandTimeout, "NOOP", "")
	if err != nil {
		return err
	}
	if r.Code != 250 {
		return clientReplyError(r)
	}
	return nil
}

// Verify asks the server about addr with VRFY (RFC 5321 section 4.1.1.6).
// It returns nil for 250 and 251 (verified) and for 252 (cannot verify but
// will accept), else the server's *Error.
func (c *Client) Verify(ctx context.Context, addr string) error {
	if err := c.hello(ctx); err != nil {
		return err
	}
	if addr == "" {
		return errors.New("smtp: VRFY needs an argument")
	}
	for i := 0; i < len(addr); i++ {
		if addr[i] < ' ' || addr[i] == 0x7f {
			return fmt.Errorf("smtp: VRFY argument %q contains a control byte", addr)
		}
	}
	if clientNeedsUTF8(addr) && !c.ext.Has(extensions.SMTPUTF8) {
		return clientNotAdvertised("SMTPUTF8 (needed for a non-ASCII VRFY argument)")
	}
	arg := addr
	if clientNeedsUTF8(addr) {
		arg += " SMTPUTF8" // RFC 6531 section 3.7.4.2
	}
	r, err := c.cmd(ctx, c.opts.CommandTimeout, DefaultCommandTimeout, "VRFY ", arg)
	if err != nil {
		return err
	}
	if r.Code < 250 || r.Code > 252 {
		return clientReplyError(r)
	}
	return nil
}
