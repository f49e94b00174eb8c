package smtp

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memIdleBudget is what an idle connection after EHLO may cost the
// server: its goroutine's stack, its Conn, the kernel socket's Go side.
const memIdleBudget = 8 << 10

// memInUse is the heap and stacks in use after two collections.
func memInUse() (heap, stack uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.StackInuse
}

// TestServerIdleMemoryMany holds many idle connections after EHLO and
// checks that each costs the server less than 8 KiB (heap only under the
// race detector, whose stacks are deeper). The clients run in a
// child process (this test binary, running TestIdleClientsHelper), so
// that only the server's side is measured and each process needs one file
// per connection. By default it opens as many as the file limit allows
// in about three seconds, up to 10,000; POSTWIRE_SOAK=1 insists on 10,000.
func TestServerIdleMemoryMany(t *testing.T) {
	if testing.Short() {
		t.Skip("opens thousands of connections; skipped with -short")
	}
	want, budget := 10000, 3*time.Second
	if soak() {
		budget = 2 * time.Minute
		if !raiseFileLimit(t, uint64(want+256)) {
			t.Skipf("the open file limit (%d) cannot be raised to %d", fileLimit(), want+256)
		}
	} else {
		raiseFileLimit(t, uint64(want+256))
		want = min(want, int(fileLimit())-256)
	}
	if want < 100 {
		t.Skipf("the open file limit (%d) leaves room for too few connections", fileLimit())
	}

	s := &Server{Hostname: "mx.test", Backend: srvDiscardBackend{}, Logger: srvQuietLogger}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go s.Serve(l)
	defer func() {
		s.Close()
		checkNoGoroutines(t, "smtp.(*Conn).serve")
	}()
	warm, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	srvIdleEHLO(t, warm)
	warm.Close()
	require.Eventually(t, func() bool { return s.active.Load() == 0 }, 5*time.Second, 10*time.Millisecond)
	heap0, stack0 := memInUse()

	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientsHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		"POSTWIRE_IDLE_ADDR="+l.Addr().String(),
		"POSTWIRE_IDLE_N="+strconv.Itoa(want),
		"POSTWIRE_IDLE_BUDGET="+budget.String())
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	defer func() {
		stdin.Close() // the helper exits, and its connections close
		cmd.Wait()
	}()
	n := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "idle-ready "); ok {
			n, err = strconv.Atoi(v)
			require.NoError(t, err)
			break
		}
	}
	require.Positive(t, n, "the client process reported no connection")
	require.Eventually(t, func() bool { return s.active.Load() == int64(n) }, 10*time.Second, 10*time.Millisecond)
	time.Sleep(200 * time.Millisecond) // let every connection goroutine park in its read
	heap1, stack1 := memInUse()
	per := (float64(heap1+stack1) - float64(heap0+stack0)) / float64(n)
	t.Logf("%d idle connections after EHLO: %.0f bytes each on the server side (%.0f heap, %.0f stack)",
		n, per, (float64(heap1)-float64(heap0))/float64(n), (float64(stack1)-float64(stack0))/float64(n))
	if soak() {
		assert.Equal(t, want, n, "POSTWIRE_SOAK=1 wants every connection")
	}
	if raceEnabled {
		// The race detector's instrumentation about doubles the stack;
		// the heap is what it does not inflate.
		assert.Less(t, (float64(heap1)-float64(heap0))/float64(n), float64(memIdleBudget), "an idle connection costs the server too much heap")
		return
	}
	assert.Less(t, per, float64(memIdleBudget), "an idle connection costs the server too much")
}

// TestIdleClientsHelper is the client process of TestServerIdleMemoryMany:
// it opens POSTWIRE_IDLE_N connections to POSTWIRE_IDLE_ADDR (as many as
// it can within POSTWIRE_IDLE_BUDGET), says EHLO on each, prints how many
// and holds them until its standard input closes.
func TestIdleClientsHelper(t *testing.T) {
	addr := os.Getenv("POSTWIRE_IDLE_ADDR")
	if addr == "" {
		t.Skip("only run by TestServerIdleMemoryMany")
	}
	want, _ := strconv.Atoi(os.Getenv("POSTWIRE_IDLE_N"))
	budget, _ := time.ParseDuration(os.Getenv("POSTWIRE_IDLE_BUDGET"))
	raiseFileLimit(t, uint64(want+256))
	stopAt := time.Now().Add(budget)
	var (
		mu    sync.Mutex
		conns []net.Conn
		next  atomic.Int64
		wg    sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(want) && time.Now().Before(stopAt) {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					return
				}
				if err := memEHLO(c); err != nil {
					c.Close()
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Printf("idle-ready %d\n", len(conns))
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

// memEHLO reads the greeting and says EHLO, reading its reply.
func memEHLO(c net.Conn) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	br := bufio.NewReaderSize(c, 512)
	read := func() error {
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return err
			}
			if len(l) < 4 || l[0] != '2' {
				return fmt.Errorf("reply %q", l)
			}
			if l[3] == ' ' {
				return nil
			}
		}
	}
	if err := read(); err != nil {
		return err
	}
	if _, err := io.WriteString(c, "EHLO idle.test\r\n"); err != nil {
		return err
	}
	return read()
}

// memPeak samples the heap in use every few milliseconds until stop is
// closed and returns the highest value seen.
func memPeak(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// A 100 MB body over a 25 MiB limit, in one BDAT chunk or as DATA, is
// answered 552 5.3.4 while the server holds no more than its buffers.
func TestOversizedBodyMemory(t *testing.T) {
	const total = 100 << 20
	for _, tc := range []struct {
		name   string
		header string
		body   func(w io.Writer) error
	}{
		{"BDAT one chunk", "BDAT " + strconv.Itoa(total) + " LAST\r\n", func(w io.Writer) error {
			buf := []byte(strings.Repeat("0123456789abcdef", 4096))
			for sent := 0; sent < total; sent += len(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
			}
			return nil
		}},
		{"DATA", "DATA\r\n", func(w io.Writer) error {
			buf := []byte(strings.Repeat(strings.Repeat("x", 78)+"\r\n", 800))
			for sent := 0; sent < total; sent += len(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
			}
			_, err := io.WriteString(w, ".\r\n")
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &loadBackend{got: make(map[[32]byte]int)} // streams, holds nothing
			_, addr := srvStart(t, nil, func(s *Server) { s.Backend = b; s.MaxMessageBytes = 25 << 20 })
			c := srvDial(t, addr)
			c.expect("220 ")
			c.cmd("EHLO client.test", "250 ")
			c.cmd("MAIL FROM:<a@example.org>", "250 ")
			c.cmd("RCPT TO:<b@example.org>", "250 ")
			if tc.name == "DATA" {
				c.cmd("DATA", "354 ")
			} else {
				c.raw(tc.header)
			}

			heap0, _ := memInUse()
			stop := make(chan struct{})
			peak := memPeak(stop)
			wrote := make(chan error, 1)
			go func() { wrote <- tc.body(c.nc) }()
			reply := c.reply()
			werr := <-wrote
			close(stop)
			growth := float64(<-peak) - float64(heap0)
			last := reply[len(reply)-1]
			assert.True(t, strings.HasPrefix(last, "552 5.3.4"), "reply %q, want 552 5.3.4", reply)
			if werr == nil {
				c.cmd("NOOP", "250 ") // drained and still in step
			}
			b.mu.Lock()
			assert.Empty(t, b.got)
			b.mu.Unlock()
			t.Logf("100 MB body: heap grew by at most %.1f MiB while the server read it (write error %v)", growth/(1<<20), werr)
			assert.Less(t, growth, float64(8<<20), "the server must not hold the body")
		})
	}
}
