package smtp

// This file is the pool's face: its settings, Send and Close. The
// connections and their hosts are in pool_conn.go, the rate limit in
// pool_rate.go, the verdict on a failed attempt in pool_outcome.go and the
// counters in pool_stats.go.

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/postwire/postwire/sasl"
)

// Defaults of a Pool, after nodemailer's pooled transport (maxConnections
// 5, maxMessages 100) and Postfix's connection cache
// (smtp_connection_reuse_time_limit, smtp_connection_cache_time_limit);
// several transactions per connection are RFC 5321 section 3.3's, a host
// set aside after a failure section 4.5.4.1's.
const (
	DefaultPoolMaxConnsPerHost    = 5
	DefaultPoolMaxMessagesPerConn = 100
	DefaultPoolIdleTimeout        = 30 * time.Second
	DefaultPoolProbeAfter         = 2 * time.Second
	DefaultPoolHostRetryDelay     = 30 * time.Second
	DefaultPoolMaxAttempts        = 3
)

// ErrPoolClosed is returned by Pool.Send once Close has begun (the QUIT
// of RFC 5321 section 4.1.1.10 is under way on every connection).
var ErrPoolClosed = errors.New("smtp: pool closed")

// ErrMaybeDelivered is what an *UnknownOutcomeError is, for errors.Is:
// the final dot (or BDAT LAST) reached the wire and no reply came, so the
// message may have been delivered (RFC 1047; RFC 5321 section 4.1.1.4).
var ErrMaybeDelivered = errors.New("smtp: outcome unknown, the message may have been delivered")

// Pool sends messages from many goroutines over a bounded set of reused
// connections to one or more upstream hosts, like net/http.Transport for
// HTTP, nodemailer's pooled transport (pool: true) or Postfix's connection
// cache. The zero value, given Addrs, is usable; a Pool must not be copied
// after first use and its settings must not change once Send was called.
//
// Each connection says EHLO, STARTTLS (RFC 3207) and AUTH (RFC 4954) once,
// then carries up to MaxMessagesPerConn transactions (RFC 5321 section
// 3.3), with RSET between them only after one that failed half-way
// (section 4.1.1.5), and ends with QUIT (section 4.1.1.10).
type Pool struct {
	// Addrs are the upstream hosts, "host:port", in order of preference:
	// a message goes to the first one that is not set aside and has a
	// connection free or room for one more.
	Addrs []string
	// Resolve, when set, replaces Addrs: it returns the hosts in order of
	// preference, for example the MX hosts of a domain (RFC 5321 section
	// 5.1) with delivery.PoolHosts of package smtp/delivery. It is called
	// again once the list is ResolveEvery old; when it fails, the last
	// list is kept.
	Resolve func(ctx context.Context) ([]string, error)
	// ResolveEvery is how long a list from Resolve is used; 0 means 5
	// minutes.
	ResolveEvery time.Duration

	// DialOptions are the settings of every connection (EHLO name, TLS
	// configuration, timeouts).
	DialOptions DialOptions
	// ImplicitTLS dials with TLS from the start (RFC 8314, port 465).
	ImplicitTLS bool
	// RequireTLS refuses a host that does not offer STARTTLS; without it,
	// STARTTLS is used whenever offered, as SendMail does (RFC 3207).
	RequireTLS bool
	// Auth, when set, returns the SASL mechanism for a new connection,
	// which authenticates once (RFC 4954); a fresh one each time, since a
	// mechanism holds the state of one exchange.
	Auth func() sasl.Client
	// Chunking sends bodies with BDAT when a host offers CHUNKING (RFC
	// 3030). It is off by default: a pipelined BDAT LAST leaves with the
	// envelope, so a connection found dead when its reply is due could
	// have delivered the message, and the pool could no longer send it
	// elsewhere; with DATA, the 354 proves the host alive before the body
	// goes (RFC 2920 section 3.1).
	Chunking bool

	// MaxConnsPerHost caps the connections open to one host (busy or
	// idle); 0 means 5, nodemailer's maxConnections.
	MaxConnsPerHost int
	// MaxMessagesPerConn is how many messages one connection carries
	// before QUIT and a new one; 0 means 100, nodemailer's maxMessages,
	// and a negative value no limit.
	MaxMessagesPerConn int
	// IdleTimeout closes, with QUIT, a connection idle that long; 0 means
	// 30 s and a negative value never (Postfix's
	// smtp_connection_cache_time_limit is 2 s).
	IdleTimeout time.Duration
	// ProbeAfter checks an idle connection with NOOP (RFC 5321 section
	// 4.1.1.9) before reuse once it has been idle that long; a connection
	// that fails the check is replaced. 0 means 2 s, a negative value
	// never.
	ProbeAfter time.Duration
	// RateLimit and RateInterval cap how many messages the pool starts in
	// any RateInterval, over all its connections: nodemailer's rateLimit
	// and rateDelta. A RateLimit of 0 means no limit; RateInterval 0
	// means one second.
	RateLimit    int
	RateInterval time.Duration
	// HostRetryDelay is how long a host that could not be connected to
	// (refused, no greeting, 421 or 554 greeting, failed STARTTLS or
	// AUTH) is set aside; 0 means 30 s. When every host is set aside they
	// are tried anyway.
	HostRetryDelay time.Duration
	// MaxAttempts is how many connections one message may be tried on
	// when they break, time out or close with 421 before the body was
	// complete; 0 means 3.
	MaxAttempts int

	once  sync.Once
	mu    sync.Mutex
	hosts map[string]*poolHost
	conns map[*poolConn]struct{} // every connection open, for Shutdown's last resort
	order []*poolHost            // hosts in order of preference
	when  time.Time              // when order was resolved
	wait  []chan struct{}

	closed   bool
	inflight poolGroup     // Sends in progress
	bg       poolGroup     // QUITs of retired connections, the janitor
	stop     chan struct{} // closed by Close: the janitor ends

	rate  poolRate
	stats poolCounters
}

// Send sends one message on a connection of the pool, from any goroutine,
// and returns what Client.Send returns: the error is nil when the message
// was accepted for at least one recipient, and SendResult.Recipients tells
// each.
//
// A connection that breaks, times out or answers 421 (RFC 5321 section
// 3.8) before the body was complete is dropped and the message tried on
// another, up to MaxAttempts; to send the body again the pool seeks body
// back to where it started when it is an io.Seeker (bytes.Reader,
// strings.Reader, os.File). A failure once the final dot was on the wire
// and before its reply is not retried: the error is an
// *UnknownOutcomeError, errors.Is(err, ErrMaybeDelivered), and the message
// may have been delivered (RFC 1047). A 4xx or 5xx reply, for the message
// or for a recipient, is returned as it is and never retried by the pool:
// the caller's queue decides.
func (p *Pool) Send(ctx context.Context, env *Envelope, body io.Reader) (*SendResult, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.inflight.done()

	if err := p.rate.wait(ctx, p.RateLimit, p.rateInterval()); err != nil {
		p.stats.final(poolOutcome{kind: poolFailed}, err)
		return nil, err
	}

	rb, err := newPoolBody(body)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		pc, err := p.acquire(ctx)
		if err != nil {
			p.stats.final(poolOutcome{kind: poolFailed}, err)
			return nil, err
		}

		res, err := pc.send(ctx, env, rb)
		o := poolJudge(pc.c, res, err, rb)
		o.addr = pc.host.addr
		p.release(pc, o.keep)
		p.stats.attempt(o, res)
		if o.kind == poolRetry && attempt < p.maxAttempts() && ctx.Err() == nil && rb.rewind() == nil {
			p.stats.retried.Add(1)
			continue
		}
		p.stats.final(o, err)
		return o.result(res, err)
	}
}

// enter counts a Send in, unless the pool is closed.
func (p *Pool) enter() error {
	p.once.Do(p.init)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrPoolClosed
	}
	p.inflight.add(1)
	return nil
}

func (p *Pool) init() {
	p.hosts = map[string]*poolHost{}
	p.conns = map[*poolConn]struct{}{}
	p.stop = make(chan struct{})
	if p.idleTimeout() > 0 {
		p.bg.add(1)
		go p.janitor()
	}
}

// Close stops new Sends (they return ErrPoolClosed), waits for the
// messages in flight, then says QUIT on every connection (RFC 5321 section
// 4.1.1.10) and waits for the replies. It is Shutdown without a deadline.
func (p *Pool) Close() error {
	return p.Shutdown(context.Background())
}

// Shutdown is Close within ctx: when ctx ends first, the connections still
// busy or saying QUIT are closed at once and ctx's error is returned.
func (p *Pool) Shutdown(ctx context.Context) error {
	p.once.Do(p.init)
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.stop)
		p.wakeAll()
	}
	p.mu.Unlock()

	err := poolWait(ctx, &p.inflight)
	p.retireIdle()
	if werr := poolWait(ctx, &p.bg); err == nil {
		err = werr
	}
	if err != nil {
		p.closeAll()
	}
	return err
}

// poolWait waits for g to count nothing, or for ctx to end.
func poolWait(ctx context.Context, g *poolGroup) error {
	select {
	case <-g.zero():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// poolGroup counts work in progress, like a sync.WaitGroup that can be
// waited for in a select and counted up again while someone waits.
type poolGroup struct {
	mu   sync.Mutex
	n    int
	none chan struct{} // closed when n drops to zero
}

func (g *poolGroup) add(n int) {
	if n <= 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == 0 {
		g.none = make(chan struct{})
	}
	g.n += n
}

func (g *poolGroup) done() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.n == 0 {
		close(g.none)
	}
}

// zero returns a channel closed once nothing is counted.
func (g *poolGroup) zero() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == 0 {
		return poolClosedChan
	}
	return g.none
}

var poolClosedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (p *Pool) maxConns() int {
	if p.MaxConnsPerHost <= 0 {
		return DefaultPoolMaxConnsPerHost
	}
	return p.MaxConnsPerHost
}

func (p *Pool) maxMessages() int {
	if p.MaxMessagesPerConn == 0 {
		return DefaultPoolMaxMessagesPerConn
	}
	return p.MaxMessagesPerConn
}

func (p *Pool) idleTimeout() time.Duration {
	if p.IdleTimeout == 0 {
		return DefaultPoolIdleTimeout
	}
	return p.IdleTimeout
}

func (p *Pool) probeAfter() time.Duration {
	if p.ProbeAfter == 0 {
		return DefaultPoolProbeAfter
	}
	return p.ProbeAfter
}

func (p *Pool) rateInterval() time.Duration {
	if p.RateInterval <= 0 {
		return time.Second
	}
	return p.RateInterval
}

func (p *Pool) hostRetryDelay() time.Duration {
	if p.HostRetryDelay <= 0 {
		return DefaultPoolHostRetryDelay
	}
	return p.HostRetryDelay
}

func (p *Pool) maxAttempts() int {
	if p.MaxAttempts <= 0 {
		return DefaultPoolMaxAttempts
	}
	return p.MaxAttempts
}

func (p *Pool) resolveEvery() time.Duration {
	if p.ResolveEvery <= 0 {
		return 5 * time.Minute
	}
	return p.ResolveEvery
}
