package smtp

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// raiseFileLimit raises the process's soft limit of open files to at
// least n when it is lower, and reports whether n fit.
func raiseFileLimit(t testing.TB, n uint64) bool {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Logf("getrlimit: %v", err)
		return false
	}
	if lim.Cur >= n {
		return true
	}
	lim.Cur = min(n, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Logf("setrlimit: %v", err)
		return false
	}
	return lim.Cur >= n
}

// fileLimit is the process's soft limit of open files.
func fileLimit() uint64 {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) != nil {
		return 1024
	}
	return lim.Cur
}

// slowSend sends msgs messages of 64 KiB and returns how long it took.
func slowSend(t *testing.T, ctx context.Context, addr string, msgs int) time.Duration {
	t.Helper()
	start := time.Now()
	c, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	defer c.Close()
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range msgs {
		raw, _ := loadBody(rng, "slow."+string(rune('a'+i)), 64<<10)
		_, err := c.Send(ctx, &Envelope{From: "s@example.org", To: []string{"r@example.org"}}, bytes.NewReader(raw))
		require.NoError(t, err)
	}
	require.NoError(t, c.Quit(ctx))
	return time.Since(start)
}

// slowMedian runs f five times and returns the median duration.
func slowMedian(f func() time.Duration) time.Duration {
	var d [5]time.Duration
	for i := range d {
		d[i] = f()
	}
	slices.Sort(d[:])
	return d[2]
}

// 500 connections that trickle a command a byte a second must not keep a
// normal client from its mail. The ratio of its time with them to its
// time without is logged; the test asserts only that it finishes well
// before a generous deadline.
func TestSlowClientsDoNotStarve(t *testing.T) {
	n := 500
	if testing.Short() {
		n = 50
	}
	if !raiseFileLimit(t, uint64(2*n+200)) {
		t.Skipf("the open file limit (%d) cannot be raised to %d for %d connections and their peers", fileLimit(), 2*n+200, n)
	}
	b := &loadBackend{got: make(map[[32]byte]int)}
	s, addr := srvStart(t, nil, func(s *Server) { s.Backend = b; s.ReadTimeout = time.Minute })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	slowSend(t, ctx, addr, 2) // warm up
	alone := slowMedian(func() time.Duration { return slowSend(t, ctx, addr, 10) })

	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		require.NoError(t, err)
		conns = append(conns, c)
	}
	require.Eventually(t, func() bool { return s.active.Load() >= int64(n) }, 10*time.Second, 10*time.Millisecond)
	// Each waits for its greeting, as a client must (one that talks first
	// is turned away): the greetings of a loaded server may come late.
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		greeting, err := bufio.NewReader(c).ReadString('\n')
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(greeting, "220 "), greeting)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cmd := "EHLO trickle.example.org\r\n"
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; ; i++ {
			for _, c := range conns {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				c.Write([]byte{cmd[i%len(cmd)]})
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	time.Sleep(2500 * time.Millisecond) // a few bytes from each
	loaded := slowMedian(func() time.Duration { return slowSend(t, ctx, addr, 10) })
	close(stop)
	wg.Wait()
	assert.GreaterOrEqual(t, s.active.Load(), int64(n), "the trickling clients are still connected")
	t.Logf("10 messages of 64 KiB, median of 5 runs: %v alone, %v beside %d trickling connections (ratio %.2f)",
		alone.Round(time.Millisecond), loaded.Round(time.Millisecond), n, float64(loaded)/float64(alone))
}

// A client that sends a byte less often than ReadTimeout is told 421
// 4.4.2 and disconnected, whether it is between commands, in the middle of
// one, or in a body (DataTimeout).
func TestTricklingClientTimesOut(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before []string // sent whole first
		drip   string   // then a byte a second
	}{
		{"before EHLO", nil, "EHLO slow.example.org\r\n"},
		{"after EHLO", []string{"EHLO slow.example.org"}, "MAIL FROM:<a@example.org>\r\n"},
		{"in a body", []string{"EHLO slow.example.org", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "DATA"}, "Subject: slow\r\n\r\nbody\r\n.\r\n"},
		{"in a BDAT chunk", []string{"EHLO slow.example.org", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "BDAT 100 LAST"}, strings.Repeat("x", 100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := &srvBackend{}
			_, addr := srvStart(t, b, func(s *Server) { s.ReadTimeout = 300 * time.Millisecond; s.DataTimeout = 300 * time.Millisecond })
			c := srvDial(t, addr)
			c.expect("220 ")
			for _, l := range tc.before {
				c.send(l)
			}
			got := make(chan string, 1)
			go func() {
				// The replies to the commands sent whole, then the 421.
				var last string
				br := bufio.NewReader(c.nc)
				for {
					l, err := br.ReadString('\n')
					if err != nil {
						got <- last
						return
					}
					last = l
				}
			}()
			for i := 0; i < len(tc.drip); i++ {
				if _, err := c.nc.Write([]byte{tc.drip[i]}); err != nil {
					break
				}
				select {
				case l := <-got:
					assert.True(t, strings.HasPrefix(l, "421 4.4.2"), "last reply %q, want 421 4.4.2", l)
					assert.Empty(t, b.Messages())
					return
				case <-time.After(time.Second):
				}
			}
			t.Fatal("the trickling client was not disconnected")
		})
	}
}

// ReadTimeout "bounds the wait for each command": a client that sends a
// byte of its command every 100 ms, well within a 500 ms ReadTimeout,
// never finishes the command and must still be cut off.
func TestTricklingCommandBoundedByReadTimeout(t *testing.T) {
	_, addr := srvStart(t, &srvBackend{}, func(s *Server) { s.ReadTimeout = 500 * time.Millisecond })
	c := srvDial(t, addr)
	c.expect("220 ")
	closed := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c.r)
		close(closed)
	}()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case <-closed:
			return
		case <-deadline:
			t.Fatal("a command trickled for 5 s under a 500 ms ReadTimeout is still being read")
		case <-time.After(100 * time.Millisecond):
			c.nc.Write([]byte("N"))
		}
	}
}

// With MaxConnections taken, every further connection is answered 421
// 4.7.0 and closed; the ones within the limit are served.
func TestMaxConnectionsMany(t *testing.T) {
	const limit, extra = 20, 10
	s, addr := srvStart(t, &srvBackend{}, func(s *Server) { s.MaxConnections = limit })
	var held []*srvClient
	for range limit {
		c := srvDial(t, addr)
		c.expect("220 ")
		held = append(held, c)
	}
	for range extra {
		c := srvDial(t, addr)
		c.expect("421 4.7.0")
		c.expectClosed()
	}
	for _, c := range held {
		c.cmd("NOOP", "250 ")
	}
	held[0].cmd("QUIT", "221 ")
	require.Eventually(t, func() bool { return s.active.Load() == limit-1 }, 5*time.Second, 10*time.Millisecond)
	c := srvDial(t, addr)
	c.expect("220 ")
}
