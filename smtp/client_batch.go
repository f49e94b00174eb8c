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
// instead of Send's two. With BDAT (CHUNKING offered and not DialOptions.DisableChunking
// offered), up to clientWindow messages whose body fits one chunk are
// written before the first reply is read, each after an RSET so that a
// refused message cannot leave a transaction open for the next: many
// messages per round trip. Without PIPELINING it calls Send for each
// message.
func (c *Client) SendMany(ctx context.Context, msgs []Message) ([]SendResult, error) {
	results := make([]SendResult, len(msgs))
	if err := c.hello(ctx); err != nil {
		return results, clientFailAll(results, err)
	}
	if c.opts.DisablePipelining || !c.ext.Has(extensions.Pipelining) {
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
	}
	return results, err
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
		s, err := b.c.prepare(b.ctx, &m.Envelope, m.Body, &b.results[i], rset)
		if err != nil {
			b.results[i].Err = err
			continue
		}
		return i, s
	}
	return i, clientSendState{}
}

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
		if err := s.envelopeReplies(); err != nil {
			return err
		}
		c.setDeadline(b.ctx, c.opts.DataInitTimeout, DefaultDataInitTimeout)
		r, _, err := c.readStatus(b.ctx)
		if err != nil {
			return err
		}
		c.crlf = clientCRLF{}
		var msgErr error
		switch {
		case r.Code == 354 && s.accepted > 0:
			if err := s.writeBody(); err != nil {
				return err
			}
		case r.Code == 354:
			c.bw.WriteString(".\r\n") // nobody to send to: end at once
		case s.accepted == 0:
			msgErr = s.refused()
		default:
			msgErr = s.failAccepted("DATA", clientReplyError(r))
		}
		// The next envelope goes in the same write. After a refused
		// DATA the transaction may still be open: RSET first.
		bodySent := r.Code == 354
		j, next := b.prepareFrom(i+1, !bodySent)
		if j < len(b.msgs) {
			c.bw.Write(c.line)
			c.bw.WriteString("DATA\r\n")
		}
		if err := c.flush(b.ctx); err != nil {
			return err
		}
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
	inflight := make([]clientSendState, 0, min(clientWindow, len(b.msgs)))
	idx := make([]int, 0, cap(inflight))
	// drain reads the replies of every message in flight, oldest first.
	drain := func() error {
		if len(inflight) == 0 {
			return nil
		}
		if err := c.flush(b.ctx); err != nil {
			return err
		}
		for k := range inflight {
			b.cur = idx[k]
			s := &inflight[k]
			if err := s.envelopeReplies(); err != nil {
				return err
			}
			err := s.verdict()
			if c.err != nil {
				return c.err
			}
			b.results[idx[k]].Err = err
		}
		inflight, idx = inflight[:0], idx[:0]
		return nil
	}
	first, last := true, -1
	for i := range b.msgs {
		m := &b.msgs[i]
		rset := !first || c.needReset || c.mailOpened
		s, err := c.prepare(b.ctx, &m.Envelope, m.Body, &b.results[i], rset)
		if err != nil {
			b.results[i].Err = err
			continue
		}
		c.crlf = clientCRLF{}
		chunk, eof, err := s.fillChunk()
		if err != nil {
			if c.err != nil {
				return c.err
			}
			b.results[i].Err = err // nothing of it was written
			continue
		}
		first, last = false, i
		c.setDeadline(b.ctx, c.opts.DataBlockTimeout, DefaultDataBlockTimeout)
		if !eof {
			// A body of several chunks goes alone, as Send sends it.
			if err := drain(); err != nil {
				return err
			}
			b.cur = i
			c.bw.Write(c.line)
			c.hdr = clientAppendBdat(c.hdr[:0], len(chunk), false)
			c.bw.Write(c.hdr)
			c.bw.Write(chunk)
			if err := c.flush(b.ctx); err != nil {
				return err
			}
			if err := s.envelopeReplies(); err != nil {
				return err
			}
			err := s.bdatRest(true, false)
			if c.err != nil {
				return c.err
			}
			b.results[i].Err = err
			continue
		}
		c.bw.Write(c.line)
		c.hdr = clientAppendBdat(c.hdr[:0], len(chunk), true)
		c.bw.Write(c.hdr)
		c.bw.Write(chunk)
		inflight, idx = append(inflight, s), append(idx, i)
		if len(inflight) == cap(inflight) {
			if err := drain(); err != nil {
				return err
			}
		}
	}
	if err := drain(); err != nil {
		return err
	}
	// A refused last message may leave a transaction open.
	c.needReset = last >= 0 && b.results[last].Err != nil
	return nil
}
