package smtp

// This file is the pool's counters and the snapshot Stats returns.

import (
	"errors"
	"sync/atomic"
	"time"
)

// PoolStats is a snapshot of a Pool: its connections now, and what it did
// since it was made, with failures in the classes of RFC 5321 section
// 4.2.1 (4xx, 5xx) and section 3.8 (lost connections, 421).
type PoolStats struct {
	// Open counts the connections that count against MaxConnsPerHost:
	// being opened, busy, idle or saying QUIT. Busy counts those carrying
	// a message (or being opened or checked), Idle those waiting for one.
	Open, Busy, Idle int
	// Dialled counts the connections opened, ready for transactions.
	Dialled uint64

	// Sent counts the messages accepted for at least one recipient,
	// Failed those accepted for none (Send returned an error), Unknown
	// those whose final dot got no reply (an *UnknownOutcomeError, RFC
	// 1047). Retried counts the attempts sent again on another connection
	// after one broke or answered 421 before the final dot.
	Sent, Failed, Unknown, Retried uint64

	// Failures are the failures by class.
	Failures PoolFailures

	// Hosts are the hosts in order of preference.
	Hosts []PoolHostStats
}

// PoolFailures counts failures by class: replies by their first digit
// (RFC 5321 section 4.2.1), connections by how they ended (section 3.8).
type PoolFailures struct {
	Dial       uint64 // connections that could not be opened: TCP, greeting, EHLO, STARTTLS or AUTH
	Lost       uint64 // connections that broke or timed out during a transaction
	Closing    uint64 // 421 replies: the server closed the connection (RFC 5321 section 3.8)
	Probe      uint64 // idle connections that failed their NOOP
	Temporary  uint64 // messages refused with a 4xx reply (RFC 5321 section 4.2.1)
	Permanent  uint64 // messages refused with a 5xx reply
	Recipients uint64 // recipients refused of messages accepted for others
	Other      uint64 // messages failed otherwise: the context ended, a bad address, the body's reader
}

// PoolHostStats is one host of a Pool: one destination, in Postfix's
// words, with its connections and whether it is set aside after a failed
// connection (as RFC 5321 section 4.5.4.1 asks of a retried host).
type PoolHostStats struct {
	Addr             string
	Open, Busy, Idle int
	// SetAsideUntil is when the host is tried again after a failed dial;
	// zero or past when it is in use.
	SetAsideUntil time.Time
	DialFailures  uint64
}

// poolCounters are the pool's counters, updated without its lock.
type poolCounters struct {
	dialled, sent, failed, unknown, retried      atomic.Uint64
	dialFails, lost, closing, probeFails         atomic.Uint64
	temporary, permanent, recipients, otherFails atomic.Uint64
}

// attempt counts what one attempt did to its connection.
func (s *poolCounters) attempt(o poolOutcome, res *SendResult) {
	if o.lost {
		s.lost.Add(1)
	}
	if o.closing {
		s.closing.Add(1)
	}
	if o.kind == poolSent && res != nil {
		for _, r := range res.Recipients {
			if r.Err != nil {
				s.recipients.Add(1)
			}
		}
	}
}

// final counts the message's outcome.
func (s *poolCounters) final(o poolOutcome, err error) {
	switch o.kind {
	case poolSent:
		s.sent.Add(1)
		return
	case poolUnknown:
		s.unknown.Add(1)
		return
	}
	s.failed.Add(1)
	var e *Error
	switch {
	case poolLost(err) || !errors.As(err, &e):
		s.otherFails.Add(1)
	case e.Temporary():
		s.temporary.Add(1)
	default:
		s.permanent.Add(1)
	}
}

// Stats returns a snapshot of the pool's connections and counters
// (PoolStats); it is safe to call from any goroutine.
func (p *Pool) Stats() PoolStats {
	p.once.Do(p.init)
	st := PoolStats{
		Dialled: p.stats.dialled.Load(),
		Sent:    p.stats.sent.Load(),
		Failed:  p.stats.failed.Load(),
		Unknown: p.stats.unknown.Load(),
		Retried: p.stats.retried.Load(),
		Failures: PoolFailures{
			Dial:       p.stats.dialFails.Load(),
			Lost:       p.stats.lost.Load(),
			Closing:    p.stats.closing.Load(),
			Probe:      p.stats.probeFails.Load(),
			Temporary:  p.stats.temporary.Load(),
			Permanent:  p.stats.permanent.Load(),
			Recipients: p.stats.recipients.Load(),
			Other:      p.stats.otherFails.Load(),
		},
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range p.order {
		hs := PoolHostStats{
			Addr: h.addr, Open: h.open, Busy: h.busy, Idle: len(h.idle),
			SetAsideUntil: h.downUntil, DialFailures: h.dialFails,
		}
		st.Hosts = append(st.Hosts, hs)
	}
	for _, h := range p.hosts {
		st.Open += h.open
		st.Busy += h.busy
		st.Idle += len(h.idle)
	}
	return st
}
