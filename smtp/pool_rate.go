package smtp

// This file is the pool's rate limit: at most RateLimit messages begin in
// any window of RateInterval, over all connections, as nodemailer's
// rateLimit per rateDelta.

import (
	"context"
	"sync"
	"time"
)

// poolRate remembers when the last limit messages began, in a ring.
type poolRate struct {
	mu   sync.Mutex
	ring []time.Time
	next int // the oldest entry, overwritten by the next message
}

// wait blocks until a message may begin under limit per every, or ctx
// ends. A limit of 0 or less means none.
func (r *poolRate) wait(ctx context.Context, limit int, every time.Duration) error {
	if limit <= 0 {
		return nil
	}
	for {
		d := r.reserve(time.Now(), limit, every)
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// reserve takes a place for a message beginning at now and returns 0, or
// returns how long to wait before asking again: the place of the message
// that began limit messages ago frees up every after it began.
func (r *poolRate) reserve(now time.Time, limit int, every time.Duration) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ring) != limit {
		r.ring, r.next = make([]time.Time, limit), 0
	}
	oldest := r.ring[r.next]
	if !oldest.IsZero() {
		if d := oldest.Add(every).Sub(now); d > 0 {
			return d
		}
	}
	r.ring[r.next] = now
	r.next = (r.next + 1) % limit
	return 0
}
