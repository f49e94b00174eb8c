package smtp

// This file is the pool's connections: which host a message goes to, how a
// connection is opened (EHLO, STARTTLS, AUTH once), checked after a long
// idle, handed back, retired with QUIT, and how goroutines wait for one.

import (
	"context"
	"errors"
	"time"
)

// poolHost is one upstream host and its connections.
type poolHost struct {
	addr      string
	idle      []*poolConn // most recently used last
	open      int         // being dialled, busy, idle or saying QUIT
	busy      int
	downUntil time.Time // set aside until then after a failed dial
	dialFails uint64
}

// poolConn is one connection of the pool.
type poolConn struct {
	c    *Client
	host *poolHost
	sent int       // transactions carried
	last time.Time // when it was last handed back
}

// send runs one transaction on the connection.
func (pc *poolConn) send(ctx context.Context, env *Envelope, body *poolBody) (*SendResult, error) {
	pc.sent++
	body.begin()
	return pc.c.Send(ctx, env, body)
}

// poolQuitTimeout bounds the QUIT of a retired connection.
const poolQuitTimeout = 10 * time.Second

// acquire returns a connection for one message: an idle one, else a new
// one to the first host with room, else it waits for one to be handed
// back. Hosts whose dial failed during this call are not tried again in
// it; when all were, the last dial error is returned.
func (p *Pool) acquire(ctx context.Context) (*poolConn, error) {
	if err := p.refresh(ctx); err != nil {
		return nil, err
	}
	var tried []*poolHost
	var lastErr error
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrPoolClosed
		}
		if len(p.order) == 0 {
			p.mu.Unlock()
			return nil, errors.New("smtp: Pool has no hosts (Addrs is empty)")
		}
		if len(tried) == len(p.order) {
			p.mu.Unlock()
			return nil, lastErr
		}

		pc, h := p.pick(time.Now(), tried)
		if pc != nil {
			p.mu.Unlock()
			if p.check(ctx, pc) {
				return pc, nil
			}
			continue
		}
		if h != nil {
			h.open++
			h.busy++
			p.mu.Unlock()
			pc, err := p.dial(ctx, h)
			if err == nil {
				return pc, nil
			}
			p.dialFailed(ctx, h)
			if ctx.Err() != nil {
				return nil, err
			}
			tried, lastErr = append(tried, h), err
			continue
		}

		if err := p.waitTurn(ctx); err != nil {
			return nil, err
		}
	}
}

// pick chooses, under p.mu, an idle connection or a host to dial: the
// first host in order, not in tried and not set aside, that has either;
// when every host not tried is set aside, the first of those that has
// either. Neither means every host is busy to its limit.
func (p *Pool) pick(now time.Time, tried []*poolHost) (*poolConn, *poolHost) {
	anyUp := false
	for _, h := range p.order {
		if poolIn(tried, h) || now.Before(h.downUntil) {
			continue
		}
		anyUp = true
		if pc, h := p.take(h); pc != nil || h != nil {
			return pc, h
		}
	}
	if anyUp {
		return nil, nil
	}
	for _, h := range p.order {
		if poolIn(tried, h) {
			continue
		}
		if pc, h := p.take(h); pc != nil || h != nil {
			return pc, h
		}
	}
	return nil, nil
}

// take returns h's most recently used idle connection, marked busy, or h
// itself when it has room for one more connection.
func (p *Pool) take(h *poolHost) (*poolConn, *poolHost) {
	if n := len(h.idle); n > 0 {
		pc := h.idle[n-1]
		h.idle[n-1] = nil
		h.idle = h.idle[:n-1]
		h.busy++
		return pc, nil
	}
	if h.open < p.maxConns() {
		return nil, h
	}
	return nil, nil
}

func poolIn(hosts []*poolHost, h *poolHost) bool {
	for _, x := range hosts {
		if x == h {
			return true
		}
	}
	return false
}

// waitTurn queues the caller, under p.mu which it releases, until a
// connection is handed back or retired, or ctx ends.
func (p *Pool) waitTurn(ctx context.Context) error {
	ch := make(chan struct{}, 1)
	p.wait = append(p.wait, ch)
	p.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	}

	p.mu.Lock()
	queued := false
	for i, w := range p.wait {
		if w == ch {
			p.wait = append(p.wait[:i], p.wait[i+1:]...)
			queued = true
			break
		}
	}
	if !queued {
		// Woken and leaving anyway: the turn goes to the next in line.
		p.wakeOne()
	}
	p.mu.Unlock()
	return ctx.Err()
}

// wakeOne, under p.mu, lets the first waiting goroutine look again.
func (p *Pool) wakeOne() {
	if len(p.wait) == 0 {
		return
	}
	ch := p.wait[0]
	p.wait = p.wait[1:]
	ch <- struct{}{}
}

// wakeAll, under p.mu, lets every waiting goroutine look again.
func (p *Pool) wakeAll() {
	for len(p.wait) > 0 {
		p.wakeOne()
	}
}

// check makes sure an idle connection is still worth using: one idle past
// IdleTimeout is retired, one idle past ProbeAfter must answer NOOP (RFC
// 5321 section 4.1.1.9).
func (p *Pool) check(ctx context.Context, pc *poolConn) bool {
	idle := time.Since(pc.last)
	if t := p.idleTimeout(); t > 0 && idle >= t {
		p.release(pc, false)
		return false
	}
	if t := p.probeAfter(); t > 0 && idle >= t {
		if err := pc.c.Noop(ctx); err != nil {
			p.stats.probeFails.Add(1)
			p.release(pc, false)
			return false
		}
	}
	return true
}

// dial opens a connection to h and prepares it for transactions: EHLO,
// STARTTLS when offered (or required), AUTH when configured.
func (p *Pool) dial(ctx context.Context, h *poolHost) (*poolConn, error) {
	opts := p.DialOptions
	if !p.Chunking {
		opts.DisableChunking = true
	}
	var c *Client
	var err error
	if p.ImplicitTLS {
		c, err = DialTLS(ctx, h.addr, &opts)
	} else {
		c, err = Dial(ctx, h.addr, &opts)
	}
	if err != nil {
		return nil, err
	}
	if err := p.prepare(ctx, c); err != nil {
		c.Close()
		return nil, err
	}
	p.stats.dialled.Add(1)
	pc := &poolConn{c: c, host: h}
	p.mu.Lock()
	p.conns[pc] = struct{}{}
	p.mu.Unlock()
	return pc, nil
}

// prepare says EHLO, upgrades with STARTTLS and authenticates, once for
// the life of the connection.
func (p *Pool) prepare(ctx context.Context, c *Client) error {
	if err := c.Hello(ctx, ""); err != nil {
		return err
	}
	if err := c.startTLSIfOffered(ctx, p.RequireTLS); err != nil {
		return err
	}
	if p.Auth != nil {
		return c.Auth(ctx, p.Auth())
	}
	return nil
}

// dialFailed gives back the room reserved for a connection to h that
// could not be opened and sets h aside, unless the caller's context ended
// the dial.
func (p *Pool) dialFailed(ctx context.Context, h *poolHost) {
	p.mu.Lock()
	h.open--
	h.busy--
	if ctx.Err() == nil {
		h.downUntil = time.Now().Add(p.hostRetryDelay())
		h.dialFails++
		p.stats.dialFails.Add(1)
	}
	p.wakeOne()
	p.mu.Unlock()
}

// release hands a connection back after a message: kept idle when keep
// and it may carry more, otherwise retired with QUIT (or closed when it is
// broken).
func (p *Pool) release(pc *poolConn, keep bool) {
	h := pc.host
	p.mu.Lock()
	h.busy--
	if keep && !p.closed && (p.maxMessages() < 0 || pc.sent < p.maxMessages()) {
		pc.last = time.Now()
		h.idle = append(h.idle, pc)
		p.wakeOne()
		p.mu.Unlock()
		return
	}
	p.bg.add(1)
	p.mu.Unlock()
	go p.retire(pc)
}

// retire says QUIT on a connection that is still sound, closes it, gives
// its room back to its host (it counts against MaxConnsPerHost until
// then) and counts itself out of p.bg.
func (p *Pool) retire(pc *poolConn) {
	defer p.bg.done()
	if pc.c.err != nil {
		pc.c.Close()
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), poolQuitTimeout)
		pc.c.Quit(ctx)
		cancel()
	}
	p.mu.Lock()
	pc.host.open--
	delete(p.conns, pc)
	p.wakeOne()
	p.mu.Unlock()
}

// retireIdle retires every idle connection; Shutdown calls it once no
// Send is in flight.
func (p *Pool) retireIdle() {
	p.mu.Lock()
	var all []*poolConn
	for _, h := range p.hosts {
		all = append(all, h.idle...)
		h.idle = nil
	}
	p.bg.add(len(all))
	p.mu.Unlock()
	for _, pc := range all {
		go p.retire(pc)
	}
}

// closeAll is Shutdown's last resort: every connection, busy, idle or
// saying QUIT, is closed without more ado so that nothing waits any
// longer. Closing the net.Conn is safe while another goroutine uses it.
func (p *Pool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pc := range p.conns {
		pc.c.netConn.Close()
	}
}

// janitor retires connections idle past IdleTimeout until Close.
func (p *Pool) janitor() {
	defer p.bg.done()
	every := max(p.idleTimeout()/2, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.expire(time.Now())
		}
	}
}

// expire retires the idle connections last used IdleTimeout before now.
func (p *Pool) expire(now time.Time) {
	limit := p.idleTimeout()
	p.mu.Lock()
	var old []*poolConn
	for _, h := range p.hosts {
		kept := h.idle[:0]
		for _, pc := range h.idle {
			if now.Sub(pc.last) >= limit {
				old = append(old, pc)
			} else {
				kept = append(kept, pc)
			}
		}
		clear(h.idle[len(kept):])
		h.idle = kept
	}
	p.bg.add(len(old))
	p.mu.Unlock()
	for _, pc := range old {
		go p.retire(pc)
	}
}

// refresh builds the host list from Addrs on first use, and from Resolve
// when there is none yet or it is ResolveEvery old.
func (p *Pool) refresh(ctx context.Context) error {
	p.mu.Lock()
	if p.Resolve == nil {
		if p.order == nil {
			p.setOrder(p.Addrs)
		}
		p.mu.Unlock()
		return nil
	}
	fresh := p.order != nil && time.Since(p.when) < p.resolveEvery()
	p.mu.Unlock()
	if fresh {
		return nil
	}

	addrs, err := p.Resolve(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if p.order != nil {
			return nil // keep the old list rather than fail
		}
		return err
	}
	p.setOrder(addrs)
	p.when = time.Now()
	return nil
}

// setOrder, under p.mu, makes addrs the hosts in order; a host dropped
// from the list keeps its connections until they are retired.
func (p *Pool) setOrder(addrs []string) {
	order := make([]*poolHost, 0, len(addrs))
	for _, a := range addrs {
		h := p.hosts[a]
		if h == nil {
			h = &poolHost{addr: a}
			p.hosts[a] = h
		}
		if !poolIn(order, h) {
			order = append(order, h)
		}
	}
	p.order = order
}
