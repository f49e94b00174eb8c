package smtp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/sasl"
)

// poolTrace is a Trace writer safe for the pool's many connections.
type poolTrace struct {
	mu sync.Mutex
	b  strings.Builder
}

func (t *poolTrace) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.b.Write(p)
}

// count returns how many client lines begin with verb.
func (t *poolTrace) count(verb string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Count(t.b.String(), "C: "+verb)
}

func poolMsg(i int) *bytes.Reader {
	return bytes.NewReader(fmt.Appendf(nil, "Subject: %d\r\n\r\nmessage %d\r\n", i, i))
}

func poolEnv(to ...string) *Envelope {
	return &Envelope{From: "app@example.org", To: to}
}

// Many goroutines share a few connections, never more than
// MaxConnsPerHost at once, and every message arrives once.
func TestPoolConcurrentSends(t *testing.T) {
	be := &poolBackend{}
	addr, _ := poolServe(t, be, nil)
	trace := &poolTrace{}
	// No connection retires before Close, so that the server's count of
	// sessions at once (whose ends it learns a little after QUIT) is exact.
	p := &Pool{Addrs: []string{addr}, MaxConnsPerHost: 3, MaxMessagesPerConn: -1, DialOptions: DialOptions{Trace: trace}}

	const goroutines, each = 20, 10
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(g*each+i))
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st := p.Stats()
	require.NoError(t, p.Close())

	msgs, conns, maxOpen, _ := be.snapshot()
	require.Len(t, msgs, goroutines*each)
	seen := map[string]bool{}
	for _, m := range msgs {
		assert.False(t, seen[m.body], "delivered twice: %q", m.body)
		seen[m.body] = true
	}
	assert.LessOrEqual(t, maxOpen, 3)
	assert.LessOrEqual(t, st.Open, 3)
	assert.Equal(t, uint64(goroutines*each), st.Sent)
	assert.Zero(t, st.Failed)
	assert.Equal(t, uint64(conns), st.Dialled)
	assert.Equal(t, conns, trace.count("QUIT"), "Close says QUIT on every connection")
}

// A connection carries MaxMessagesPerConn messages, then QUIT and a new
// one; between good messages no RSET is sent.
func TestPoolMaxMessagesPerConn(t *testing.T) {
	be := &poolBackend{}
	addr, _ := poolServe(t, be, nil)
	trace := &poolTrace{}
	p := &Pool{Addrs: []string{addr}, MaxConnsPerHost: 1, MaxMessagesPerConn: 3,
		DialOptions: DialOptions{Trace: trace}}

	for i := range 7 {
		_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(i))
		require.NoError(t, err)
	}
	require.NoError(t, p.Close())

	msgs, conns, _, _ := be.snapshot()
	require.Len(t, msgs, 7)
	assert.Equal(t, 3, conns)
	perConn := map[int]int{}
	for _, m := range msgs {
		perConn[m.conn]++
	}
	assert.Equal(t, map[int]int{1: 3, 2: 3, 3: 1}, perConn)
	assert.Equal(t, 3, trace.count("QUIT"))
	assert.Equal(t, 3, trace.count("EHLO"))
	assert.Zero(t, trace.count("RSET"))
}

// After a transaction that failed half-way the next one begins with RSET,
// and a refused recipient is reported without the message being retried.
func TestPoolRSETAfterFailureAndNoRetryOf4xx(t *testing.T) {
	be := &poolBackend{rcpt: func(to string) error {
		if strings.HasPrefix(to, "full") {
			return &Error{Code: 452, Enhanced: EnhancedCode{4, 2, 2}, Message: "mailbox full"}
		}
		return nil
	}}
	addr, _ := poolServe(t, be, nil)
	trace := &poolTrace{}
	p := &Pool{Addrs: []string{addr}, MaxConnsPerHost: 1, DialOptions: DialOptions{Trace: trace}}
	defer p.Close()
	ctx := context.Background()

	res, err := p.Send(ctx, poolEnv("bob@example.org", "full@example.org"), poolMsg(1))
	var partial *RecipientsError
	require.ErrorAs(t, err, &partial, "a message not every recipient took is an error")
	assert.Equal(t, 1, partial.Accepted)
	require.Len(t, res.Recipients, 2)
	assert.NoError(t, res.Recipients[0].Err)
	var e *Error
	require.ErrorAs(t, res.Recipients[1].Err, &e)
	assert.Equal(t, 452, e.Code)

	_, err = p.Send(ctx, poolEnv("full@example.org"), poolMsg(2))
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 452, e.Code)

	_, err = p.Send(ctx, poolEnv("bob@example.org"), poolMsg(3))
	require.NoError(t, err)
	require.NoError(t, p.Close())

	msgs, conns, _, _ := be.snapshot()
	assert.Len(t, msgs, 2)
	assert.Equal(t, 1, conns)
	assert.Equal(t, 1, trace.count("RSET"), "only the message after the refused one needs RSET")
	st := p.Stats()
	assert.Equal(t, uint64(2), st.Sent)
	assert.Equal(t, uint64(1), st.Failed)
	assert.Equal(t, uint64(1), st.Failures.Temporary)
	assert.Equal(t, uint64(1), st.Failures.Recipients)
	assert.Zero(t, st.Retried)
}

// STARTTLS and AUTH happen once per connection, not once per message.
func TestPoolStartTLSAndAuthOncePerConn(t *testing.T) {
	srvTLS, cliTLS := clientCert(t)
	be := &poolBackend{}
	addr, _ := poolServe(t, be, func(s *Server) { s.TLSConfig = srvTLS })
	trace := &poolTrace{}
	p := &Pool{
		Addrs: []string{addr}, MaxConnsPerHost: 1, RequireTLS: true,
		Auth:        func() sasl.Client { return sasl.NewPlainClient("", "user", "pass") },
		DialOptions: DialOptions{TLSConfig: cliTLS, Trace: trace},
	}
	for i := range 4 {
		_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(i))
		require.NoError(t, err)
	}
	require.NoError(t, p.Close())

	msgs, sessions, _, _ := be.snapshot()
	require.Len(t, msgs, 4)
	assert.Equal(t, 2, sessions, "one session before STARTTLS, one after, on one connection")
	for _, m := range msgs {
		assert.True(t, m.tls)
		assert.Equal(t, "user", m.user)
	}
	assert.Equal(t, 1, trace.count("STARTTLS"))
	assert.Equal(t, 1, trace.count("AUTH "), "AUTH once")
	assert.Equal(t, 1, strings.Count(trace.b.String(), "[credentials hidden]"), "its credentials masked in the trace")
	assert.Equal(t, 1, trace.count("QUIT"))
}

// A 421 to MAIL drops the connection and the message goes on another.
func TestPool421RetriesOnAnotherConnection(t *testing.T) {
	be := &poolBackend{mail: func(n int) error {
		if n == 1 {
			return &Error{Code: 421, Enhanced: EnhancedCode{4, 3, 2}, Message: "shutting down"}
		}
		return nil
	}}
	addr, _ := poolServe(t, be, nil)
	p := &Pool{Addrs: []string{addr}}

	_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(1))
	require.NoError(t, err)
	require.NoError(t, p.Close())

	msgs, conns, _, _ := be.snapshot()
	require.Len(t, msgs, 1)
	assert.Equal(t, 2, msgs[0].conn)
	assert.Equal(t, 2, conns)
	st := p.Stats()
	assert.Equal(t, uint64(1), st.Retried)
	assert.Equal(t, uint64(1), st.Failures.Closing)
	assert.Equal(t, uint64(1), st.Sent)
}

// A connection lost before the final dot: the message goes on another
// connection, and arrives once.
func TestPoolLostBeforeDotRetries(t *testing.T) {
	f := poolFakeServe(t, func(n int, c *poolFakeConn) {
		c.session(func(line string) bool {
			// The first connection hangs up on DATA: nothing was accepted.
			return n == 1 && line == "DATA"
		})
	})
	p := &Pool{Addrs: []string{f.addr()}}

	_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(1))
	require.NoError(t, err)
	require.NoError(t, p.Close())
	assert.Equal(t, 1, f.bodies())
	st := p.Stats()
	assert.Equal(t, uint64(1), st.Retried)
	assert.Equal(t, uint64(1), st.Failures.Lost)
}

// A connection lost after the final dot and before its reply: unknown,
// may have been delivered, and not sent again.
func TestPoolLostAfterDotIsUnknown(t *testing.T) {
	f := poolFakeServe(t, func(n int, c *poolFakeConn) {
		c.session(func(line string) bool { return line == "." })
	})
	p := &Pool{Addrs: []string{f.addr()}}

	res, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(1))
	require.ErrorIs(t, err, ErrMaybeDelivered)
	var ue *UnknownOutcomeError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, f.addr(), ue.Addr)
	var e *Error
	assert.False(t, errors.As(err, &e), "an unknown outcome must not read as a retryable 451")
	require.NotNil(t, res)
	assert.ErrorIs(t, res.Recipients[0].Err, ErrMaybeDelivered)
	require.NoError(t, p.Close())

	assert.Equal(t, 1, f.bodies(), "the body was sent once and never again")
	st := p.Stats()
	assert.Equal(t, uint64(1), st.Unknown)
	assert.Zero(t, st.Retried)
	assert.Zero(t, st.Sent)
}

// A host that cannot be reached is set aside and the next one used; it
// is not dialled again while set aside.
func TestPoolHostListFailover(t *testing.T) {
	dead := poolFakeServe(t, func(int, *poolFakeConn) {})
	deadAddr := dead.addr()
	dead.ln.Close() // nothing listens there any more

	be := &poolBackend{}
	addr, _ := poolServe(t, be, nil)
	p := &Pool{Addrs: []string{deadAddr, addr}, HostRetryDelay: time.Hour}
	for i := range 3 {
		_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(i))
		require.NoError(t, err)
	}
	st := p.Stats()
	require.NoError(t, p.Close())

	msgs, _, _, _ := be.snapshot()
	assert.Len(t, msgs, 3)
	require.Len(t, st.Hosts, 2)
	assert.Equal(t, uint64(1), st.Hosts[0].DialFailures)
	assert.True(t, st.Hosts[0].SetAsideUntil.After(time.Now()))
	assert.Equal(t, uint64(1), st.Failures.Dial)
}

// When every host is down the dial error is returned, not a hang.
func TestPoolAllHostsDown(t *testing.T) {
	dead := poolFakeServe(t, func(int, *poolFakeConn) {})
	deadAddr := dead.addr()
	dead.ln.Close()
	p := &Pool{Addrs: []string{deadAddr}}
	defer p.Close()
	_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(1))
	require.Error(t, err)
	assert.Equal(t, uint64(1), p.Stats().Failed)
}

// Resolve supplies the hosts, as MX lookups would.
func TestPoolResolve(t *testing.T) {
	be := &poolBackend{}
	addr, _ := poolServe(t, be, nil)
	calls := 0
	p := &Pool{Resolve: func(context.Context) ([]string, error) {
		calls++
		return []string{addr}, nil
	}}
	for i := range 2 {
		_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(i))
		require.NoError(t, err)
	}
	require.NoError(t, p.Close())
	assert.Equal(t, 1, calls, "the list is kept for ResolveEvery")
	msgs, _, _, _ := be.snapshot()
	assert.Len(t, msgs, 2)
}

// An idle connection past IdleTimeout is closed with QUIT.
func TestPoolIdleTimeout(t *testing.T) {
	be := &poolBackend{}
	addr, _ := poolServe(t, be, nil)
	p := &Pool{Addrs: []string{addr}, IdleTimeout: 20 * time.Millisecond}
	defer p.Close()
	_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(1))
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		_, _, _, logouts := be.snapshot()
		return logouts == 1 && p.Stats().Open == 0
	}, 5*time.Second, 5*time.Millisecond)
}

// A connection idle past ProbeAfter is checked with NOOP; one the server
// dropped meanwhile is replaced and the message still goes.
func TestPoolProbeAfterIdle(t *testing.T) {
	f := poolFakeServe(t, func(n int, c *poolFakeConn) {
		c.session(func(line string) bool {
			// The first connection is dropped after its first message,
			// while it sits idle in the pool.
			return n == 1 && strings.HasPrefix(line, "NOOP")
		})
	})
	trace := &poolTrace{}
	p := &Pool{Addrs: []string{f.addr()}, ProbeAfter: time.Nanosecond, DialOptions: DialOptions{Trace: trace}}
	for i := range 2 {
		_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(i))
		require.NoError(t, err)
	}
	require.NoError(t, p.Close())
	assert.Equal(t, 2, f.bodies())
	st := p.Stats()
	assert.Equal(t, uint64(1), st.Failures.Probe)
	assert.Equal(t, uint64(2), st.Dialled)
	assert.Zero(t, st.Retried)
	assert.GreaterOrEqual(t, trace.count("NOOP"), 1)
}

// The rate limit is shared: past RateLimit messages in the interval, Send
// waits (here until its context ends).
func TestPoolRateLimit(t *testing.T) {
	be := &poolBackend{}
	addr, _ := poolServe(t, be, nil)
	p := &Pool{Addrs: []string{addr}, RateLimit: 2, RateInterval: time.Hour}
	defer p.Close()
	for i := range 2 {
		_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(i))
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Send(ctx, poolEnv("bob@example.org"), poolMsg(3))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	msgs, _, _, _ := be.snapshot()
	assert.Len(t, msgs, 2)
}

// The ring lets limit messages begin in any window of every.
func TestPoolRateReserve(t *testing.T) {
	var r poolRate
	t0 := time.Unix(1000, 0)
	sec := time.Second
	assert.Zero(t, r.reserve(t0, 2, sec))
	assert.Zero(t, r.reserve(t0.Add(100*time.Millisecond), 2, sec))
	assert.Equal(t, 500*time.Millisecond, r.reserve(t0.Add(500*time.Millisecond), 2, sec))
	assert.Zero(t, r.reserve(t0.Add(sec), 2, sec))
	assert.Equal(t, 100*time.Millisecond, r.reserve(t0.Add(sec), 2, sec))
	assert.Zero(t, r.reserve(t0.Add(1100*time.Millisecond), 2, sec))
}

// Close waits for the message in flight, then says QUIT; Send afterwards
// is refused.
func TestPoolCloseWaitsForInFlight(t *testing.T) {
	inData := make(chan struct{})
	release := make(chan struct{})
	be := &poolBackend{data: func() {
		close(inData)
		<-release
	}}
	addr, _ := poolServe(t, be, nil)
	trace := &poolTrace{}
	p := &Pool{Addrs: []string{addr}, MaxConnsPerHost: 1, DialOptions: DialOptions{Trace: trace}}

	sent := make(chan error, 1)
	go func() {
		_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(1))
		sent <- err
	}()
	<-inData
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()

	// With the one connection busy, this Send either finds the pool
	// closed or waits for a connection until Close wakes it.
	_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(2))
	require.ErrorIs(t, err, ErrPoolClosed)
	select {
	case <-closed:
		t.Fatal("Close returned with a message in flight")
	default:
	}
	close(release)
	require.NoError(t, <-sent)
	require.NoError(t, <-closed)
	msgs, _, _, _ := be.snapshot()
	assert.Len(t, msgs, 1)
	assert.Equal(t, 1, trace.count("QUIT"))
}

// A waiting Send gives up when its context ends, and leaves its turn to
// the others.
func TestPoolWaitRespectsContext(t *testing.T) {
	inData := make(chan struct{}, 1)
	release := make(chan struct{})
	be := &poolBackend{data: func() {
		inData <- struct{}{}
		<-release
	}}
	addr, _ := poolServe(t, be, nil)
	p := &Pool{Addrs: []string{addr}, MaxConnsPerHost: 1}
	sent := make(chan error, 1)
	go func() {
		_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(1))
		sent <- err
	}()
	<-inData

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := p.Send(ctx, poolEnv("bob@example.org"), poolMsg(2))
	require.ErrorIs(t, err, context.DeadlineExceeded)

	close(release)
	require.NoError(t, <-sent)
	_, err = p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(3))
	require.NoError(t, err)
	require.NoError(t, p.Close())
	msgs, _, _, _ := be.snapshot()
	assert.Len(t, msgs, 2)
}

// A 421 to the final dot is the server's verdict: reported, not retried.
func TestPool421AfterDotIsReported(t *testing.T) {
	f := poolFakeServe(t, func(n int, c *poolFakeConn) {
		c.session(func(line string) bool {
			if line == "." {
				c.say("421 4.3.2 shutting down")
				return true
			}
			return false
		})
	})
	p := &Pool{Addrs: []string{f.addr()}}
	_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(1))
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 421, e.Code)
	assert.NotErrorIs(t, err, ErrMaybeDelivered)
	require.NoError(t, p.Close())
	assert.Equal(t, 1, f.bodies())
	st := p.Stats()
	assert.Zero(t, st.Retried)
	assert.Equal(t, uint64(1), st.Failed)
	assert.Equal(t, uint64(1), st.Failures.Temporary)
}

// Once MaxAttempts connections broke before the final dot, the lost
// connection's temporary failure is returned.
func TestPoolGivesUpAfterMaxAttempts(t *testing.T) {
	f := poolFakeServe(t, func(n int, c *poolFakeConn) {
		c.session(func(line string) bool { return line == "DATA" })
	})
	p := &Pool{Addrs: []string{f.addr()}, MaxAttempts: 2}
	_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(1))
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.True(t, e.Temporary())
	assert.NotErrorIs(t, err, ErrMaybeDelivered)
	require.NoError(t, p.Close())
	assert.Zero(t, f.bodies())
	st := p.Stats()
	assert.Equal(t, uint64(1), st.Retried)
	assert.Equal(t, uint64(2), st.Failures.Lost)
	assert.Equal(t, uint64(1), st.Failed)
}

// A body that cannot seek is sent again when nothing of it was read: with
// DATA the body is read only after the 354.
func TestPoolRetriesAnUnreadNonSeekableBody(t *testing.T) {
	f := poolFakeServe(t, func(n int, c *poolFakeConn) {
		c.session(func(line string) bool { return n == 1 && line == "DATA" })
	})
	p := &Pool{Addrs: []string{f.addr()}}
	body := io.MultiReader(strings.NewReader("Subject: once\r\n\r\n"), strings.NewReader("body\r\n"))
	_, err := p.Send(context.Background(), poolEnv("bob@example.org"), body)
	require.NoError(t, err)
	require.NoError(t, p.Close())
	assert.Equal(t, 1, f.bodies())
	assert.Equal(t, uint64(1), p.Stats().Retried)
}

// A body that cannot seek and was partly sent is not sent again: the
// error is returned.
func TestPoolDoesNotResendAPartlyReadBody(t *testing.T) {
	f := poolFakeServe(t, func(n int, c *poolFakeConn) {
		if n > 1 {
			c.session(func(string) bool { return false })
			return
		}
		// The first connection hangs up after the first line of the body.
		c.session(func(line string) bool {
			if line == "DATA" {
				c.say("354 go on")
				c.line()
				return true
			}
			return false
		})
	})
	p := &Pool{Addrs: []string{f.addr()}}
	// 4 MiB that cannot seek: the client meets the hang-up while writing
	// it, long before its end.
	line := strings.Repeat("x", 78) + "\r\n"
	body := io.MultiReader(strings.NewReader("Subject: big\r\n\r\n"),
		io.LimitReader(poolRepeat(line), 4<<20))
	_, err := p.Send(context.Background(), poolEnv("bob@example.org"), body)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrMaybeDelivered)
	require.NoError(t, p.Close())
	assert.Zero(t, f.bodies())
	st := p.Stats()
	assert.Zero(t, st.Retried)
	assert.Equal(t, uint64(1), st.Failures.Lost)
	assert.Equal(t, uint64(1), st.Failed)
}

// poolRepeat reads s over and over.
type poolRepeat string

func (r poolRepeat) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], r)
	}
	return n, nil
}

// Shutdown with a deadline closes what is still busy: the message whose
// final dot went unanswered is of unknown outcome.
func TestPoolShutdownDeadline(t *testing.T) {
	inData := make(chan struct{})
	release := make(chan struct{})
	be := &poolBackend{data: func() {
		close(inData)
		<-release
	}}
	addr, _ := poolServe(t, be, nil)
	defer close(release)
	p := &Pool{Addrs: []string{addr}}
	sent := make(chan error, 1)
	go func() {
		_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(1))
		sent <- err
	}()
	<-inData
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, p.Shutdown(ctx), context.DeadlineExceeded)
	require.ErrorIs(t, <-sent, ErrMaybeDelivered)
	assert.Equal(t, uint64(1), p.Stats().Unknown)
}

// With Chunking the body goes as BDAT when the server offers CHUNKING.
func TestPoolChunking(t *testing.T) {
	be := &poolBackend{}
	addr, _ := poolServe(t, be, nil)
	trace := &poolTrace{}
	p := &Pool{Addrs: []string{addr}, Chunking: true, DialOptions: DialOptions{Trace: trace}}
	_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(1))
	require.NoError(t, err)
	require.NoError(t, p.Close())
	assert.Equal(t, 1, trace.count("BDAT"))
	assert.Zero(t, trace.count("DATA"))
	msgs, _, _, _ := be.snapshot()
	require.Len(t, msgs, 1)
	assert.Equal(t, "Subject: 1\r\n\r\nmessage 1\r\n", msgs[0].body)
}

// A host that cannot give what the pool requires (STARTTLS, or AUTH with
// these credentials) fails the dial: nothing is sent and the host is set
// aside.
func TestPoolPrepareFailuresAreDialFailures(t *testing.T) {
	srvTLS, cliTLS := clientCert(t)
	be := &poolBackend{}
	plain, _ := poolServe(t, be, nil)
	secure, _ := poolServe(t, be, func(s *Server) { s.TLSConfig = srvTLS })
	for _, tc := range []struct {
		name string
		pool *Pool
	}{
		{"no STARTTLS", &Pool{Addrs: []string{plain}, RequireTLS: true}},
		{"bad password", &Pool{Addrs: []string{secure}, RequireTLS: true,
			Auth:        func() sasl.Client { return sasl.NewPlainClient("", "user", "wrong") },
			DialOptions: DialOptions{TLSConfig: cliTLS}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.pool
			_, err := p.Send(context.Background(), poolEnv("bob@example.org"), poolMsg(1))
			require.Error(t, err)
			st := p.Stats()
			require.NoError(t, p.Close())
			assert.Equal(t, uint64(1), st.Failures.Dial)
			assert.Equal(t, uint64(1), st.Failed)
			assert.True(t, st.Hosts[0].SetAsideUntil.After(time.Now()))
		})
	}
	msgs, _, _, _ := be.snapshot()
	assert.Empty(t, msgs)
}
