package smtp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/textproto"
)

// Envelope is what Send needs besides the body (RFC 5321 section 2.3.1):
// the reverse-path, the forward-paths and their parameters.
type Envelope struct {
	From        string // "" is the null reverse-path "<>"
	To          []string
	MailOptions *MailOptions
	// RcptOptions is nil, or holds one entry (possibly nil) per To.
	RcptOptions []*RcptOptions
}

// RecipientResult is the outcome of one recipient of Send: Err is nil when
// the server took responsibility for delivering to Address (in LMTP mode:
// delivered), otherwise the *Error it answered to RCPT, to the body or (in
// LMTP mode) for that recipient's delivery.
type RecipientResult struct {
	Address string
	Err     error
}

// SendResult is what Send reports on a message.
type SendResult struct {
	// Recipients holds one result per Envelope.To, in the same order.
	Recipients []RecipientResult
	// Reply is the text of the server's reply to the body (in LMTP mode
	// the first success), often with a queue identifier.
	Reply string
	// Err is the error Send returned for this message.
	Err error

	one     [1]RecipientResult // storage for the common single recipient
	partial bool               // LMTP: delivered to some before the connection was lost
}

// Accepted returns how many recipients the message was accepted for.
func (r *SendResult) Accepted() int {
	n := 0
	for _, rr := range r.Recipients {
		if rr.Err == nil {
			n++
		}
	}
	return n
}

// sendOne runs one transaction of Send: MAIL FROM, a RCPT TO for each
// address of env.To, then the body. Its error is nil when the message was
// accepted for at least one recipient; Send decides what the caller sees.
func (c *Client) sendOne(ctx context.Context, env *Envelope, body io.Reader) (*SendResult, error) {
	res := &SendResult{}
	s, err := c.prepare(ctx, env, body, res, c.needReset || c.mailOpened)
	if err != nil {
		return nil, err
	}
	if err := c.begin(ctx, c.opts.CommandTimeout, DefaultCommandTimeout); err != nil {
		return res, err
	}
	defer c.end()
	c.crlf = clientCRLF{}
	c.mails++
	if !c.opts.DisablePipelining && c.ext.Has(extensions.Pipelining) {
		err = s.pipelined()
	} else {
		err = s.lockstep()
	}
	if err != nil && c.err == nil {
		c.needReset = true
	}
	res.Err = err
	res.settle()
	c.hookMessage(res)
	return res, err
}

// prepare checks env and builds its command lines (RSET first when rset)
// into c.line, without writing anything, and sets up res.
func (c *Client) prepare(ctx context.Context, env *Envelope, body io.Reader, res *SendResult, rset bool) (clientSendState, error) {
	if env == nil || len(env.To) == 0 {
		return clientSendState{}, errors.New("smtp: Send needs at least one recipient")
	}
	if env.RcptOptions != nil && len(env.RcptOptions) != len(env.To) {
		return clientSendState{}, errors.New("smtp: Envelope.RcptOptions must be nil or match To")
	}
	orig := env
	env, err := clientWireEnvelope(env)
	if err != nil {
		return clientSendState{}, err
	}
	mo, scan, err := c.bodyOptions(env.MailOptions, body)
	if err != nil {
		return clientSendState{}, err
	}
	if mo != env.MailOptions {
		cp := *env
		cp.MailOptions, env = mo, &cp
	}
	utf8, err := c.envelopeUTF8(mo != nil && mo.UTF8, env.From, env.To)
	if err != nil {
		return clientSendState{}, err
	}

	if err := c.buildEnvelope(env, utf8, rset); err != nil {
		return clientSendState{}, err
	}
	res.setRecipients(orig.To) // results name them as the caller wrote them

	binary := mo != nil && mo.Body == BodyBinaryMIME
	return clientSendState{
		c:      c,
		ctx:    ctx,
		res:    res,
		body:   body,
		scan:   scan,
		rset:   rset,
		binary: binary,
		bdat:   binary || !c.opts.DisableChunking && c.ext.Has(extensions.Chunking),
	}, nil
}

// buildEnvelope builds the command lines of env, RSET first when rset,
// into c.line, and where each line ends into c.lineEnds.
func (c *Client) buildEnvelope(env *Envelope, utf8, rset bool) error {
	b, ends := c.line[:0], c.lineEnds[:0]
	if rset {
		b = append(b, "RSET\r\n"...)
		ends = append(ends, len(b))
	}
	var err error
	if b, err = c.appendMail(b, env.From, env.MailOptions, utf8); err != nil {
		c.line = b[:0]
		return err
	}
	ends = append(ends, len(b))
	for i, to := range env.To {
		var ro *RcptOptions
		if env.RcptOptions != nil {
			ro = env.RcptOptions[i]
		}
		if b, err = c.appendRcpt(b, to, ro, utf8); err != nil {
			c.line = b[:0]
			return err
		}
		ends = append(ends, len(b))
	}
	c.line, c.lineEnds = b, ends
	return nil
}

// setRecipients gives res one result per address of to, none refused yet.
func (res *SendResult) setRecipients(to []string) {
	if len(to) == 1 {
		res.Recipients = res.one[:]
	} else {
		res.Recipients = make([]RecipientResult, len(to))
	}
	for i, addr := range to {
		res.Recipients[i] = RecipientResult{Address: addr}
	}
}

// clientSendState is one Send in progress.
type clientSendState struct {
	c      *Client
	ctx    context.Context
	res    *SendResult
	body   io.Reader
	rset   bool // the batch starts with RSET
	bdat   bool
	binary bool

	scan     clientScan // what a streamed body may not hold
	mailErr  error
	accepted int
}

// pipelined sends the whole envelope and DATA (or the first BDAT chunk) in
// one write, then reads the replies in order (RFC 2920 section 3.1).
func (s *clientSendState) pipelined() error {
	var chunk []byte
	var eof bool
	if s.bdat {
		var err error
		if chunk, eof, err = s.fillChunk(); err != nil {
			return fmt.Errorf("smtp: reading the body: %w", err)
		}
	}
	if err := s.writeGroup(chunk, eof); err != nil {
		return err
	}

	if err := s.envelopeReplies(); err != nil {
		return err
	}
	if s.bdat {
		return s.bdatRest(true, eof)
	}
	return s.pipelinedDATA()
}

// writeGroup writes and flushes the envelope's lines followed by DATA or,
// with BDAT, by the first chunk (LAST when last).
func (s *clientSendState) writeGroup(chunk []byte, last bool) error {
	c := s.c
	if err := c.checkNothingPending(); err != nil {
		return err
	}
	c.bw.Write(c.line)
	if s.bdat {
		c.hdr = clientAppendBdat(c.hdr[:0], len(chunk), last)
		c.bw.Write(c.hdr)
		c.bw.Write(chunk)
	} else {
		c.bw.WriteString("DATA\r\n")
	}
	return c.flush(s.ctx)
}

// pipelinedDATA reads the reply to a pipelined DATA and goes on: with the
// body after a 354 or, when no recipient was accepted, with an empty body
// whose verdict is ignored.
func (s *clientSendState) pipelinedDATA() error {
	c := s.c
	c.setDeadline(s.ctx, c.opts.DataInitTimeout, DefaultDataInitTimeout)
	r, _, err := c.readStatus(s.ctx)
	if err != nil {
		return err
	}
	if r.Code == 354 {
		if s.accepted == 0 {
			// Nobody to send to, yet the server waits for a body: end
			// it at once (RFC 2920 section 3.1) and ignore the verdict.
			c.setDeadline(s.ctx, c.opts.DataTermTimeout, DefaultDataTermTimeout)
			c.bw.WriteString(".\r\n")
			if err := c.flush(s.ctx); err != nil {
				return err
			}
			if _, _, err := c.readStatus(s.ctx); err != nil {
				return err
			}
			return s.refused()
		}
		return s.sendBody()
	}
	if s.accepted == 0 {
		return s.refused()
	}
	return s.failAccepted("DATA", clientReplyError(r))
}

// envelopeReplies reads the replies to the RSET, MAIL and RCPT lines.
func (s *clientSendState) envelopeReplies() error {
	c := s.c
	if s.rset {
		c.setDeadline(s.ctx, c.opts.CommandTimeout, DefaultCommandTimeout)
		if _, _, err := c.readStatus(s.ctx); err != nil {
			return err
		}
		c.needReset, c.mailOpened = false, false
	}
	c.setDeadline(s.ctx, c.opts.CommandTimeout, DefaultCommandTimeout)
	r, _, err := c.readStatus(s.ctx)
	if err != nil {
		return err
	}
	if r.Code != 250 {
		s.mailErr = clientReplyError(r)
	}
	for i := range s.res.Recipients {
		c.setDeadline(s.ctx, c.opts.CommandTimeout, DefaultCommandTimeout)
		r, _, err := c.readStatus(s.ctx)
		if err != nil {
			return err
		}
		s.rcptReply(i, r.Code, r)
	}
	return nil
}

// lockstep sends each command and waits for its reply.
func (s *clientSendState) lockstep() error {
	if err := s.lockstepEnvelope(); err != nil {
		return err
	}
	if s.accepted == 0 {
		return s.refused()
	}

	if s.bdat {
		return s.bdatRest(false, false)
	}
	c := s.c
	r, err := s.exchange(clientDATA, nil, c.opts.DataInitTimeout, DefaultDataInitTimeout)
	if err != nil {
		return err
	}
	if r.Code != 354 {
		return s.failAccepted("DATA", clientReplyError(r))
	}
	return s.sendBody()
}

// lockstepEnvelope sends the RSET, MAIL and RCPT lines one at a time,
// each after the reply to the one before. A refused MAIL ends it with
// every recipient refused.
func (s *clientSendState) lockstepEnvelope() error {
	c := s.c
	lines := clientLines{buf: c.line, ends: c.lineEnds}
	if s.rset {
		r, err := s.exchange(lines.next(), nil, c.opts.CommandTimeout, DefaultCommandTimeout)
		if err != nil {
			return err
		}
		if r.Code != 250 {
			return fmt.Errorf("smtp: RSET: %w", clientReplyError(r))
		}
		c.needReset, c.mailOpened = false, false
	}

	r, err := s.exchange(lines.next(), nil, c.opts.CommandTimeout, DefaultCommandTimeout)
	if err != nil {
		return err
	}
	if r.Code != 250 {
		s.mailErr = clientReplyError(r)
		for i := range s.res.Recipients {
			s.res.Recipients[i].Err = s.mailErr
		}
		return s.refused()
	}
	c.mailOpened = true

	for i := range s.res.Recipients {
		r, err := s.exchange(lines.next(), nil, c.opts.CommandTimeout, DefaultCommandTimeout)
		if err != nil {
			return err
		}
		s.rcptReply(i, r.Code, r)
	}
	return nil
}

// clientLines hands out, one at a time, the command lines that prepare
// built.
type clientLines struct {
	buf   []byte
	ends  []int // where each line left ends in buf
	start int   // where the next line begins
}

func (l *clientLines) next() []byte {
	line := l.buf[l.start:l.ends[0]]
	l.start, l.ends = l.ends[0], l.ends[1:]
	return line
}

var clientDATA = []byte("DATA\r\n")

// exchange writes line and extra and reads one reply.
func (s *clientSendState) exchange(line, extra []byte, timeout, def time.Duration) (textproto.Reply, error) {
	c := s.c
	c.setDeadline(s.ctx, timeout, def)
	if err := c.checkNothingPending(); err != nil {
		return textproto.Reply{}, err
	}
	c.bw.Write(line)
	c.bw.Write(extra)
	if err := c.flush(s.ctx); err != nil {
		return textproto.Reply{}, err
	}
	r, _, err := c.readStatus(s.ctx)
	return r, err
}

// rcptReply records the reply to the i-th RCPT.
func (s *clientSendState) rcptReply(i, code int, r textproto.Reply) {
	switch {
	case s.mailErr != nil && (code == 250 || code == 251):
		s.res.Recipients[i].Err = s.mailErr
	case code == 250 || code == 251:
		s.accepted++
	default:
		s.res.Recipients[i].Err = clientReplyError(r)
	}
}
