package smtp

// This file sends a DATA body after the 354 and reads the verdict, and
// words the errors of a transaction that failed.

import (
	"errors"
	"fmt"
	"io"
)

// refused is the error when no recipient was accepted.
func (s *clientSendState) refused() error {
	if s.mailErr != nil {
		return fmt.Errorf("smtp: MAIL FROM: %w", s.mailErr)
	}
	var errs []error
	for _, r := range s.res.Recipients {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("smtp: RCPT TO:<%s>: %w", r.Address, r.Err))
		}
	}
	return errors.Join(errs...)
}

// failAccepted records err for every accepted recipient and returns it.
func (s *clientSendState) failAccepted(what string, err *Error) error {
	for i := range s.res.Recipients {
		if s.res.Recipients[i].Err == nil {
			s.res.Recipients[i].Err = err
		}
	}
	return fmt.Errorf("smtp: %s: %w", what, err)
}

// sendBody streams the body through the dot-stuffer after a 354 and reads
// the verdict.
func (s *clientSendState) sendBody() error {
	c := s.c
	if err := c.checkNothingPending(); err != nil {
		return err
	}
	if err := s.writeBody(); err != nil {
		return err
	}
	if err := c.flush(s.ctx); err != nil {
		return err
	}
	return s.verdict()
}

// writeBody streams the body through the dot-stuffer into the buffered
// writer, final dot included; the caller flushes.
func (s *clientSendState) writeBody() error {
	c := s.c
	c.setDeadline(s.ctx, c.opts.DataBlockTimeout, DefaultDataBlockTimeout)
	c.dot.Reset(c.bw)
	buf := c.buffer()[:32<<10]
	for {
		if err := s.interrupted(); err != nil {
			return err
		}
		n, rerr := s.body.Read(buf)
		if s.scan.check(buf[:n]) >= 0 {
			// Half a body may be on the wire: only dropping the
			// connection keeps the server from taking it (RFC 6152
			// section 3 forbids sending it).
			return c.fail(s.scan.violation())
		}
		if n > 0 {
			c.setDeadline(s.ctx, c.opts.DataBlockTimeout, DefaultDataBlockTimeout)
			if _, err := c.dot.Write(buf[:n]); err != nil {
				return c.ioFail(s.ctx, err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			// Half a body is on the wire and only the final dot could
			// end it, which would deliver a truncated message: drop the
			// connection instead.
			return c.fail(fmt.Errorf("smtp: reading the body: %w", rerr))
		}
	}
	c.setDeadline(s.ctx, c.opts.DataTermTimeout, DefaultDataTermTimeout)
	if err := c.dot.Close(); err != nil {
		return c.ioFail(s.ctx, err)
	}
	return nil
}

// verdict reads the replies to the end of the body: one, or in LMTP mode
// one per accepted recipient (RFC 2033 section 4.2).
func (s *clientSendState) verdict() error {
	c := s.c
	c.setDeadline(s.ctx, c.opts.DataTermTimeout, DefaultDataTermTimeout)
	c.mailOpened = false
	if c.opts.LMTP && s.accepted > 0 {
		return s.lmtpVerdicts()
	}

	r, text, err := c.readStatus(s.ctx)
	if err != nil {
		return err
	}
	if s.accepted == 0 {
		return s.refused()
	}
	if r.Code != 250 {
		return s.failAccepted("end of data", clientReplyError(r))
	}
	s.res.Reply = clientStatusText(r, text)
	return nil
}

// lmtpVerdicts reads an LMTP server's reply for each accepted recipient, in
// order (RFC 2033 section 4.2), and fails only when every one failed.
func (s *clientSendState) lmtpVerdicts() error {
	c := s.c
	delivered := 0
	var errs []error
	for i := range s.res.Recipients {
		rr := &s.res.Recipients[i]
		if rr.Err != nil {
			continue
		}
		r, text, err := c.readStatus(s.ctx)
		if err != nil {
			s.res.lostAfterDelivery(i, delivered, err)
			return err
		}
		if r.Code != 250 {
			rr.Err = clientReplyError(r)
			errs = append(errs, fmt.Errorf("smtp: <%s>: %w", rr.Address, rr.Err))
			continue
		}
		delivered++
		if s.res.Reply == "" {
			s.res.Reply = clientStatusText(r, text)
		}
	}
	if delivered == 0 {
		return errors.Join(errs...)
	}
	return nil
}

// interrupted checks, between reads of the body, whether the context has
// ended: reading the body does not touch the network, so the deadline set
// on the connection alone would not stop a slow body. Half a body may be
// on the wire: the connection is dropped.
func (s *clientSendState) interrupted() error {
	if !s.c.interrupted.Load() {
		return nil
	}
	return s.c.fail(fmt.Errorf("smtp: %w", s.ctx.Err()))
}
