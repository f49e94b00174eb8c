package smtp

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// srvDiscardBackend accepts everything and throws bodies away, without
// allocating: the server's own costs are what the benchmarks see.
type srvDiscardBackend struct{}

type srvDiscardSession struct{}

func (srvDiscardBackend) NewSession(*Conn) (Session, error) { return srvDiscardSession{}, nil }

func (srvDiscardSession) Mail(context.Context, string, *MailOptions) error { return nil }
func (srvDiscardSession) Rcpt(context.Context, string, *RcptOptions) error { return nil }
func (srvDiscardSession) Data(_ context.Context, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (srvDiscardSession) Reset()        {}
func (srvDiscardSession) Logout() error { return nil }

// srvBenchServer starts a server with the discard backend and returns a
// connection to it past EHLO, with a reader for replies.
func srvBenchServer(b *testing.B) (net.Conn, *bufio.Reader) {
	b.Helper()
	s := &Server{Hostname: "mx.test", Backend: srvDiscardBackend{}, Logger: srvQuietLogger}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	go s.Serve(l)
	b.Cleanup(func() { s.Close() })
	nc, err := net.Dial("tcp", l.Addr().String())
	require.NoError(b, err)
	b.Cleanup(func() { nc.Close() })
	r := bufio.NewReader(nc)
	srvBenchReply(b, r, '2')
	_, err = io.WriteString(nc, "EHLO bench.test\r\n")
	require.NoError(b, err)
	srvBenchReply(b, r, '2')
	return nc, r
}

// srvBenchReply reads one reply without allocating and checks its class.
func srvBenchReply(b *testing.B, r *bufio.Reader, class byte) {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			b.Fatalf("reading reply: %v", err)
		}
		if len(line) < 4 || line[0] != class {
			b.Fatalf("reply %q, want %cxx", line, class)
		}
		if line[3] == ' ' {
			return
		}
	}
}

// srvBenchBody is a 1 KiB message, CRLF lines, already dot-terminated.
var srvBenchBody = func() []byte {
	var b bytes.Buffer
	b.WriteString("From: a@example.org\r\nTo: b@example.org\r\nSubject: benchmark\r\n\r\n")
	for b.Len() < 1024-2 {
		b.WriteString(strings.Repeat("x", 62) + "\r\n")
	}
	out := append([]byte(nil), b.Bytes()[:1024]...)
	out[1022], out[1023] = '\r', '\n'
	return append(out, ".\r\n"...)
}()

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkServerTransaction is one whole 1 KiB transaction in lock-step
// (MAIL, RCPT, DATA, body, each waiting for its reply) on a long-lived
// connection. allocs/op counts both sides; the client side allocates
// nothing.
func BenchmarkServerTransaction(b *testing.B) {
	nc, r := srvBenchServer(b)
	mail := []byte("MAIL FROM:<alice@example.org>\r\n")
	rcpt := []byte("RCPT TO:<bob@example.net>\r\n")
	data := []byte("DATA\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(srvBenchBody)))
	cpu := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		nc.Write(mail)
		srvBenchReply(b, r, '2')
		nc.Write(rcpt)
		srvBenchReply(b, r, '2')
		nc.Write(data)
		srvBenchReply(b, r, '3')
		nc.Write(srvBenchBody)
		srvBenchReply(b, r, '2')
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e3, "cpu-µs/op")
}

// BenchmarkServerPipelined sends MAIL, RCPT and DATA in one write, then
// the body (RFC 2920: the client waits for 354), as a pipelining client
// does. cpu-µs/op is the process's CPU time per transaction, the client's
// small share included: an upper bound on the server's cost.
func BenchmarkServerPipelined(b *testing.B) {
	nc, r := srvBenchServer(b)
	group := []byte("MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(srvBenchBody)))
	cpu := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		nc.Write(group)
		srvBenchReply(b, r, '2')
		srvBenchReply(b, r, '2')
		srvBenchReply(b, r, '3')
		nc.Write(srvBenchBody)
		srvBenchReply(b, r, '2')
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e3, "cpu-µs/op")
}

// BenchmarkServerPipelinedBDAT is the same transaction with CHUNKING: the
// whole of it, MAIL, RCPT and BDAT LAST with the body, in one write.
func BenchmarkServerPipelinedBDAT(b *testing.B) {
	nc, r := srvBenchServer(b)
	body := srvBenchBody[:len(srvBenchBody)-3]
	msg := []byte("MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nBDAT 1024 LAST\r\n")
	msg = append(msg, body...)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	cpu := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		nc.Write(msg)
		srvBenchReply(b, r, '2')
		srvBenchReply(b, r, '2')
		srvBenchReply(b, r, '2')
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e3, "cpu-µs/op")
}

// TestServerIdleMemory measures what an idle connection costs the server
// after EHLO: 1000 connections over loopback, heap and stacks in use
// before and after, divided by 1000. It logs the figure (no assertion:
// it depends on the runtime). The client ends of the connections are in
// this process too and are counted: the figure is an upper bound.
func TestServerIdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 2000 connections; skipped with -short")
	}
	const n = 1000
	var stack uint64
	inUse := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		stack = ms.StackInuse
		return ms.HeapInuse + ms.StackInuse
	}

	// The baseline: n bare loopback TCP pairs, both ends held, no server.
	bare, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer bare.Close()
	before := inUse()
	var held []net.Conn
	for range n {
		c, err := net.Dial("tcp", bare.Addr().String())
		require.NoError(t, err)
		a, err := bare.Accept()
		require.NoError(t, err)
		held = append(held, c, a)
	}
	baseline := (float64(inUse()) - float64(before)) / n
	for _, c := range held {
		c.Close()
	}

	s := &Server{Hostname: "mx.test", Backend: srvDiscardBackend{}, Logger: srvQuietLogger}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go s.Serve(l)
	defer s.Close()
	// Warm up the pools and the runtime with one connection.
	warm, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	srvIdleEHLO(t, warm)
	warm.Close()

	before = inUse()
	stackBefore := stack
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", l.Addr().String())
		require.NoError(t, err)
		conns = append(conns, c)
		srvIdleEHLO(t, c)
	}
	time.Sleep(100 * time.Millisecond) // let every server goroutine park in its read
	after := inUse()
	require.EqualValues(t, n, s.active.Load())
	per := (float64(after) - float64(before)) / n
	t.Logf("idle connection after EHLO: %.0f bytes each, both ends of the TCP connection included (HeapInuse+StackInuse over %d connections, %.0f of it stack); "+
		"a bare TCP pair costs %.0f, so the server's own share is about %.0f bytes", per, n, float64(stack-stackBefore)/n, baseline, per-baseline/2)
}

// srvIdleEHLO reads the greeting and does EHLO on c without a bufio.Reader.
func srvIdleEHLO(t *testing.T, c net.Conn) {
	var buf [1024]byte
	readReply := func() {
		got := 0
		for {
			k, err := c.Read(buf[got:])
			require.NoError(t, err)
			got += k
			// The reply is complete when its last line has a space after
			// the code and ends with CRLF.
			text := string(buf[:got])
			if strings.HasSuffix(text, "\r\n") {
				lines := strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n")
				if last := lines[len(lines)-1]; len(last) >= 4 && last[3] == ' ' {
					return
				}
			}
		}
	}
	readReply()
	_, err := io.WriteString(c, "EHLO idle.test\r\n")
	require.NoError(t, err)
	readReply()
}

// TestServerHelperProcess is not a test: BenchmarkServerPipelinedCPU runs
// the test binary with SRV_HELPER_PROCESS=1 to have a server in a process
// of its own, whose CPU time it can read from /proc.
func TestServerHelperProcess(t *testing.T) {
	if os.Getenv("SRV_HELPER_PROCESS") != "1" {
		t.Skip("helper process for BenchmarkServerPipelinedCPU")
	}
	s := &Server{Hostname: "mx.test", Backend: srvDiscardBackend{}, Logger: srvQuietLogger}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	fmt.Println(l.Addr().String())
	go s.Serve(l)
	io.Copy(io.Discard, os.Stdin) // until the benchmark closes our stdin
	s.Close()
	os.Exit(0)
}

// procCPU returns the CPU time (user+system) of process pid, from
// /proc/pid/stat, in clock ticks of 10 ms.
func procCPU(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	require.NoError(b, err)
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// BenchmarkServerPipelinedCPU is BenchmarkServerPipelined against a server
// in another process, so that server-cpu-µs/op is the server's CPU time
// alone per transaction (from /proc, 10 ms resolution: use -benchtime=3s
// or more). Each transaction takes two round trips: MAIL, RCPT and DATA,
// wait for 354, then the body, wait for 250.
func BenchmarkServerPipelinedCPU(b *testing.B) {
	srvBenchHelperCPU(b, "1", false)
}

// BenchmarkServerPipelinedSteadyCPU is the steady state of a pipelining
// sender with several messages (RFC 2920 section 3.1: the end of a body may
// be followed by the next MAIL, RCPT and DATA in the same write): one write
// and one wait for 250, 250, 250, 354 per transaction. server-cpu-µs/op is
// the server process's CPU time per transaction.
func BenchmarkServerPipelinedSteadyCPU(b *testing.B) {
	srvBenchHelperCPU(b, "1", true)
}

// srvBenchEnvelope is the MAIL, RCPT and DATA group of the CPU benchmarks:
// 64 octets, which the floor helper counts.
var srvBenchEnvelope = []byte("MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n")

// srvBenchHelperCPU runs the pipelined exchange against a helper process
// (mode "1": our Server; "floor": a bare reader and writer) and reports
// the helper's CPU time per transaction. steady sends each body with the
// next envelope in one write.
func srvBenchHelperCPU(b *testing.B, mode string, steady bool) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		b.Skip("needs /proc")
	}
	test := "^TestServerHelperProcess$"
	if mode == "floor" {
		test = "^TestServerFloorHelperProcess$"
	}
	cmd := exec.Command(os.Args[0], "-test.run="+test)
	cmd.Env = append(os.Environ(), "SRV_HELPER_PROCESS="+mode, "SRV_HELPER_STEADY="+strconv.FormatBool(steady))
	stdin, err := cmd.StdinPipe()
	require.NoError(b, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(b, err)
	require.NoError(b, cmd.Start())
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(b, err)
	nc, err := net.Dial("tcp", strings.TrimSpace(addr))
	require.NoError(b, err)
	defer nc.Close()
	r := bufio.NewReader(nc)
	if mode != "floor" {
		srvBenchReply(b, r, '2')
		io.WriteString(nc, "EHLO bench.test\r\n")
		srvBenchReply(b, r, '2')
	}
	group := srvBenchEnvelope
	next := append(append([]byte(nil), srvBenchBody...), srvBenchEnvelope...)
	if steady {
		nc.Write(group)
		srvBenchReply(b, r, '2')
		srvBenchReply(b, r, '2')
		srvBenchReply(b, r, '3')
	}
	b.SetBytes(int64(len(srvBenchBody)))
	cpu := procCPU(b, cmd.Process.Pid)
	b.ResetTimer()
	for b.Loop() {
		if steady {
			nc.Write(next)
			srvBenchReply(b, r, '2')
			srvBenchReply(b, r, '2')
			srvBenchReply(b, r, '2')
			srvBenchReply(b, r, '3')
			continue
		}
		nc.Write(group)
		srvBenchReply(b, r, '2')
		srvBenchReply(b, r, '2')
		srvBenchReply(b, r, '3')
		nc.Write(srvBenchBody)
		srvBenchReply(b, r, '2')
	}
	b.StopTimer()
	b.ReportMetric(float64(procCPU(b, cmd.Process.Pid)-cpu)/float64(b.N)/1e3, "server-cpu-µs/op")
}

// TestServerFloorHelperProcess is not a test: BenchmarkNetFloorPipelined
// runs it as the other end of the floor measurement.
func TestServerFloorHelperProcess(t *testing.T) {
	if os.Getenv("SRV_HELPER_PROCESS") != "floor" {
		t.Skip("helper process for BenchmarkNetFloorPipelined")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	fmt.Println(l.Addr().String())
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 4096)
		readN := func(n int) bool {
			for got := 0; got < n; {
				k, err := c.Read(buf[got:])
				if err != nil {
					return false
				}
				got += k
			}
			return true
		}
		replies := []byte("250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 Start mail input\r\n")
		done := []byte("250 2.0.0 OK: message accepted\r\n")
		if os.Getenv("SRV_HELPER_STEADY") == "true" {
			// Each read after the first takes a body and the next envelope.
			both := append(append([]byte(nil), done...), replies...)
			if !readN(len(srvBenchEnvelope)) {
				return
			}
			c.Write(replies)
			for readN(len(srvBenchBody) + len(srvBenchEnvelope)) {
				c.Write(both)
			}
			return
		}
		for readN(len(srvBenchEnvelope)) {
			c.Write(replies)
			if !readN(len(srvBenchBody)) {
				return
			}
			c.Write(done)
		}
	}()
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// BenchmarkNetFloorPipelined is the floor under BenchmarkServerPipelinedCPU:
// the same exchange, octet for octet, against a Go program that only
// reads and writes fixed byte counts. Its server-cpu-µs/op is what the
// system calls and the Go runtime's network poller cost on this machine;
// the difference to BenchmarkServerPipelinedCPU is the SMTP server's own
// work.
func BenchmarkNetFloorPipelined(b *testing.B) {
	srvBenchHelperCPU(b, "floor", false)
}

// BenchmarkNetFloorPipelinedSteady is the floor under
// BenchmarkServerPipelinedSteadyCPU: one read of body and envelope, one
// write of four replies per transaction.
func BenchmarkNetFloorPipelinedSteady(b *testing.B) {
	srvBenchHelperCPU(b, "floor", true)
}
