package smtp

import (
	"context"
	"errors"
	"io"

	"github.com/postwire/postwire/extensions"
)

// Message is one message for SendMany: its envelope and its body.
type Message struct {
	Envelope
	Body io.Reader
}

// SendMany sends msgs in order over the connection, as Send would, and
// returns one result per message; each result's Err is what Send would
// have returned for it. The error is not nil only when the connection
// failed (every message from the one in progress on gets it too) or ctx
// ended.
//
// With PIPELINING, SendMany also pipelines across messages. With DATA, the
// end of one body leaves in the same write as the next message's MAIL,
// RCPT and DATA (RFC 2920 section 3.1 allows the message content as the
// first "command" of a group), so each message costs one round trip
// instead of Send's two. With BDAT (CHUNKING offered and
// DialOptions.DisableChunking not set), up to 32 messages whose body fits
// one chunk are written before the first reply is read, each after an
// RSET so that a refused message cannot leave a transaction open for the
// next: many messages per round trip. Without PIPELINING, or when the
// server's LIMITS (RFC 9422) bind (MAILMAX, or a message with more
// recipients or domains than one transaction takes), it calls Send for
// each message. Pipelined, a recipient refused with 452 is not offered
// again in a further transaction: its result says so, as Send's would.
func (c *Client) SendMany(ctx context.Context, msgs []Message) ([]SendResult, error) {
	results := make([]SendResult, len(msgs))
	if err := c.hello(ctx); err != nil {
		return results, clientFailAll(results, err)
	}
	if c.opts.DisablePipelining || !c.ext.Has(extensions.Pipelining) || c.limitsBind(msgs) {
		for i := range msgs {
			res, err := c.Send(ctx, &msgs[i].Envelope, msgs[i].Body)
			if res != nil {
				results[i] = *res
				if len(res.Recipients) == 1 {
					results[i].Recipients = results[i].one[:]
				}
			}
			results[i].Err = err
			if c.err != nil {
				return results, clientFailAll(results[i+1:], c.err)
			}
		}
		return results, nil
	}
	if err := c.begin(ctx, c.opts.CommandTimeout, DefaultCommandTimeout); err != nil {
		return results, clientFailAll(results, err)
	}
	defer c.end()
	b := clientBatch{c: c, ctx: ctx, msgs: msgs, results: results}
	var err error
	if !c.opts.DisableChunking && c.ext.Has(extensions.Chunking) {
		err = b.runBDAT()
	} else {
		err = b.run()
	}
	if err != nil {
		for i := b.cur; i < len(results); i++ {
			if results[i].Err == nil || i > b.cur {
				results[i].Err = err
			}
		}
	}
	for i := range results {
		results[i].settle()
		c.hookMessage(&results[i]) // before the refusals become the message's error, as in Send
		if results[i].Err == nil && results[i].Recipients != nil {
			results[i].Err = clientRefusedError(&results[i])
		}
	}
	return results, err
}

// limitsBind reports whether the server's LIMITS (RFC 9422) bind msgs:
// MAILMAX, or a message that needs more than one transaction. SendMany
// then sends each message as Send does.
func (c *Client) limitsBind(msgs []Message) bool {
	l, ok := c.ext.Limits()
	if !ok {
		return false
	}
	if l.MailMax > 0 {
		return true
	}
	for i := range msgs {
		if c.needsSplit(msgs[i].To) {
			return true
		}
	}
	return false
}

func clientFailAll(results []SendResult, err error) error {
	for i := range results {
		results[i].Err = err
	}
	return err
}

// clientBatch is a SendMany in progress.
type clientBatch struct {
	c       *Client
	ctx     context.Context
	msgs    []Message
	results []SendResult
	cur     int // the message whose replies are awaited
}

// prepareFrom finds the first message from i on whose envelope is valid
// and builds its lines (RSET first when rset); invalid ones get their
// error. It returns len(msgs) when none is left.
func (b *clientBatch) prepareFrom(i int, rset bool) (int, clientSendState) {
	for ; i < len(b.msgs); i++ {
		m := &b.msgs[i]
		if m.Envelope.MailOptions != nil && m.Envelope.MailOptions.Body == BodyBinaryMIME {
			b.results[i].Err = errors.New("smtp: SendMany sends BINARYMIME only with BDAT (DialOptions.DisableChunking is set)")
			continue
		}
		if b.malformed(i) {
			continue
		}
		s, err := b.c.prepare(b.ctx, &m.Envelope, m.Body, &b.results[i], rset)
		if err != nil {
			b.results[i].Err = err
			continue
		}
		return i, s
	}
	return i, clientSendState{}
}

// malformed reports whether message i has a malformed recipient, giving
// its result one entry per recipient as Send does: it is not sent.
func (b *clientBatch) malformed(i int) bool {
	m := &b.msgs[i]
	if len(m.To) == 0 {
		return false // prepare says why
	}
	res, err := b.c.checkRecipients(&m.Envelope)
	if err == nil {
		return false
	}
	b.results[i] = SendResult{Recipients: res.Recipients, Err: err}
	return true
}

// run sends the batch with DATA: the end of each body goes in the same
// write as the next message's envelope and DATA (RFC 2920 section 3.1).
func (b *clientBatch) run() error {
	c := b.c
	i, s := b.prepareFrom(0, c.needReset || c.mailOpened)
	if i == len(b.msgs) {
		return nil
	}
	if err := c.checkNothingPending(); err != nil {
		return err
	}
	c.bw.Write(c.line)
	c.bw.WriteString("DATA\r\n")
	if err := c.flush(b.ctx); err != nil {
		return err
	}

	for {
		b.cur = i
		bodySent, msgErr, err := b.answerDATA(&s)
		if err != nil {
			return err
		}

		// The next envelope goes in the same write. After a refused
		// DATA the transaction may still be open: RSET first.
		j, next, err := b.writeNext(i+1, !bodySent)
		if err != nil {
			return err
		}

		// Then the verdict on the body, sent before the next envelope.
		if bodySent {
			msgErr = s.verdict()
			if c.err != nil {
				return c.err
			}
		}
		b.results[i].Err = msgErr
		if j == len(b.msgs) {
			c.needReset = !bodySent
			return nil
		}
		i, s = j, next
	}
}

// answerDATA reads the replies to the envelope of s and to its DATA and,
// after a 354, writes the body (an empty one when no recipient was
// accepted) without flushing it. bodySent reports the 354; without it,
// msgErr is why the message failed.
func (b *clientBatch) answerDATA(s *clientSendState) (bodySent bool, msgErr, err error) {
	c := b.c
	if err := s.envelopeReplies(); err != nil {
		return false, nil, err
	}
	c.setDeadline(b.ctx, c.opts.DataInitTimeout, DefaultDataInitTimeout)
	r, _, err := c.readStatus(b.ctx)
	if err != nil {
		return false, nil, err
	}

	c.crlf = clientCRLF{}
	switch {
	case r.Code == 354 && s.accepted > 0:
		if err := s.writeBody(); err != nil {
			return false, nil, err
		}
	case r.Code == 354:
		c.bw.WriteString(".\r\n") // nobody to send to: end at once
	case s.accepted == 0:
		return false, s.refused(), nil
	default:
		return false, s.failAccepted("DATA", clientReplyError(r)), nil
	}
	return true, nil, nil
}

// writeNext finds the next message from i on whose envelope is valid
// (RSET first when rset), writes its envelope and DATA, and flushes them
// with whatever the buffer holds already.
func (b *clientBatch) writeNext(i int, rset bool) (int, clientSendState, error) {
	c := b.c
	j, s := b.prepareFrom(i, rset)
	if j < len(b.msgs) {
		c.bw.Write(c.line)
		c.bw.WriteString("DATA\r\n")
	}
	return j, s, c.flush(b.ctx)
}

// clientWindow is how many messages SendMany's BDAT mode keeps in flight.
// Their replies, a few dozen octets each, stay far below any socket
// buffer, so the server never blocks writing them while we write.
const clientWindow = 32

// runBDAT sends the batch with BDAT, a window of messages at a time.
func (b *clientBatch) runBDAT() error {
	c := b.c
	if err := c.checkNothingPending(); err != nil {
		return err
	}
	w := clientWindowState{
		sends: make([]clientSendState, 0, min(clientWindow, len(b.msgs))),
		idx:   make([]int, 0, min(clientWindow, len(b.msgs))),
	}

	first, last := true, -1
	for i := range b.msgs {
		rset := !first || c.needReset || c.mailOpened
		var sent bool
		var err error
		if w, sent, err = b.writeBDAT(w, i, rset); err != nil {
			return err
		}
		if sent {
			first, last = false, i
		}
	}

	if _, err := b.drain(w); err != nil {
		return err
	}
	// A refused last message may leave a transaction open.
	c.needReset = last >= 0 && b.results[last].Err != nil
	return nil
}

// clientWindowState is what runBDAT has in flight: the messages written
// whose replies are not read yet, oldest first, and their indexes in msgs.
// It goes by value rather than living in clientBatch, so that the compiler
// may keep its slices on the stack.
type clientWindowState struct {
	sends []clientSendState
	idx   []int
}

// writeBDAT prepares message i (RSET first when rset) and writes it with
// the first chunk of its body: into the window w when that chunk is the
// last, else on its own, as Send sends it. It returns the window and
// whether the message went out; when it did not, its result says why.
func (b *clientBatch) writeBDAT(w clientWindowState, i int, rset bool) (clientWindowState, bool, error) {
	c := b.c
	m := &b.msgs[i]
	if b.malformed(i) {
		return w, false, nil
	}
	s, err := c.prepare(b.ctx, &m.Envelope, m.Body, &b.results[i], rset)
	if err != nil {
		b.results[i].Err = err
		return w, false, nil
	}
	c.crlf = clientCRLF{}
	chunk, eof, err := s.fillChunk()
	if err != nil {
		if c.err != nil {
			return w, false, c.err
		}
		b.results[i].Err = err // nothing of it was written
		return w, false, nil
	}
	c.setDeadline(b.ctx, c.opts.DataBlockTimeout, DefaultDataBlockTimeout)

	if !eof {
		w, err = b.sendAlone(w, i, &s, chunk)
		return w, true, err
	}
	c.bw.Write(c.line)
	c.hdr = clientAppendBdat(c.hdr[:0], len(chunk), true)
	c.bw.Write(c.hdr)
	c.bw.Write(chunk)
	w.sends, w.idx = append(w.sends, s), append(w.idx, i)
	if len(w.sends) == cap(w.sends) {
		w, err = b.drain(w)
	}
	return w, true, err
}

// sendAlone sends message i, whose body takes several chunks, once the
// window w is drained: its envelope with the first chunk, then the rest of
// the body and the verdict.
func (b *clientBatch) sendAlone(w clientWindowState, i int, s *clientSendState, chunk []byte) (clientWindowState, error) {
	c := b.c
	w, err := b.drain(w)
	if err != nil {
		return w, err
	}
	b.cur = i
	c.bw.Write(c.line)
	c.hdr = clientAppendBdat(c.hdr[:0], len(chunk), false)
	c.bw.Write(c.hdr)
	c.bw.Write(chunk)
	if err := c.flush(b.ctx); err != nil {
		return w, err
	}

	if err := s.envelopeReplies(); err != nil {
		return w, err
	}
	err = s.bdatRest(true, false)
	if c.err != nil {
		return w, c.err
	}
	b.results[i].Err = err
	return w, nil
}

// drain flushes and reads the replies of every message in the window w,
// oldest first, and returns w emptied.
func (b *clientBatch) drain(w clientWindowState) (clientWindowState, error) {
	c := b.c
	if len(w.sends) == 0 {
		return w, nil
	}
	if err := c.flush(b.ctx); err != nil {
		return w, err
	}
	for k := range w.sends {
		b.cur = w.idx[k]
		s := &w.sends[k]
		if err := s.envelopeReplies(); err != nil {
			return w, err
		}
		err := s.verdict()
		if c.err != nil {
			return w, c.err
		}
		b.results[w.idx[k]].Err = err
	}
	return clientWindowState{sends: w.sends[:0], idx: w.idx[:0]}, nil
}
