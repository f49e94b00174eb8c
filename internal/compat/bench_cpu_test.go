package compat

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/postwire/postwire/internal/benchproc"
	"github.com/stretchr/testify/require"
)

// The CPU benchmark runs each server in a process of its own (this test
// binary again, as TestBenchSinkProcess) and reads that process's CPU time
// from /proc, so that what it reports is the server's CPU alone, not the
// client's nor the other programs' on the machine. Each op does one
// transaction with every server in turn, so that noise from the rest of
// the machine falls on all of them alike and their ratio holds even when
// the absolute figures move.

// benchSinkEnv names the server TestBenchSinkProcess is to run.
const benchSinkEnv = "COMPAT_BENCH_SINK"

// TestBenchSinkProcess is not a test: BenchmarkServerPipelinedCPU runs the
// test binary with COMPAT_BENCH_SINK=postwire, gosmtp or floor to have
// that server in a process of its own. It prints the address, then serves
// until its standard input closes. With COMPAT_BENCH_SINK_CPUPROFILE=prefix
// it writes its CPU profile to prefix.<impl> (the last sub-benchmark run
// leaves its profiles there).
func TestBenchSinkProcess(t *testing.T) {
	impl := os.Getenv(benchSinkEnv)
	if impl == "" {
		t.Skip("helper process for BenchmarkServerPipelinedCPU")
	}
	var addr string
	switch impl {
	case "postwire":
		addr = startPostwireSink(t)
	case "gosmtp":
		addr = startGoSMTPSink(t)
	case "floor":
		addr = startFloorSink(t)
	default:
		t.Fatalf("%s=%q: want postwire, gosmtp or floor", benchSinkEnv, impl)
	}
	profile := os.Getenv(benchSinkEnv + "_CPUPROFILE")
	if profile != "" {
		profile += "." + impl
	}
	require.NoError(t, benchproc.Serve(addr, profile))
}

// startFloorSink starts the floor: not an SMTP server but a Go program
// that reads the octets of the steady-state exchange and writes replies of
// the same shape, so that its CPU time is what the system calls and the Go
// runtime's network poller cost. The difference to a server's figure is
// that server's own work.
func startFloorSink(tb testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	tb.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go floorConn(c)
		}
	}()
	return l.Addr().String()
}

// floorConn is the floor's side of one connection.
func floorConn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	readN := func(n int) bool { // exactly n octets, never part of the next group
		_, err := io.ReadFull(c, buf[:n])
		return err == nil
	}
	greeting := []byte("220 mx.test.example ESMTP\r\n")
	ehlo := []byte("250-mx.test.example\r\n250 PIPELINING\r\n")
	envelope := []byte("250 2.0.0 Roger, accepting mail\r\n250 2.0.0 I'll make sure <bob@test.example> gets this\r\n354 Go ahead. End your data with <CR><LF>.<CR><LF>\r\n")
	done := []byte("250 2.0.0 OK: queued\r\n")
	both := append(append([]byte(nil), done...), envelope...)
	c.Write(greeting)
	if !readN(len("EHLO client.example\r\n")) {
		return
	}
	c.Write(ehlo)
	if !readN(len(benchEnvelope)) {
		return
	}
	c.Write(envelope)
	for readN(len(benchBody1K) + len(benchEnvelope)) {
		c.Write(both)
	}
}

// sinkProcess is a server in a child process and client connections to
// it, in the steady state: the first envelope sent and answered on each.
type sinkProcess struct {
	impl    string
	pid     int
	clients []*rawClient
	cpu     time.Duration // CPU time when the measurement began
}

// startSinkCmd runs the sink impl in a child process (TestBenchSinkProcess);
// the process ends when the benchmark does.
func startSinkCmd(b *testing.B, impl string) benchproc.Child {
	return benchproc.Start(b, "TestBenchSinkProcess", benchSinkEnv+"="+impl)
}

// startSinkProcess runs the sink impl in a child process and makes conns
// connections to it.
func startSinkProcess(b *testing.B, impl string, conns int) *sinkProcess {
	var addr string
	var pid int
	if impl == "smtpsink" {
		addr, pid = startSmtpSink(b)
	} else {
		child := startSinkCmd(b, impl)
		addr, pid = child.Addr, child.PID
	}
	s := &sinkProcess{impl: impl, pid: pid}
	for range conns {
		c, err := dialRaw(addr)
		require.NoError(b, err)
		b.Cleanup(func() { c.conn.Close() })
		_, err = c.conn.Write(benchEnvelope)
		require.NoError(b, err)
		require.NoError(b, c.expectN(250, 250, 354))
		s.clients = append(s.clients, c)
	}
	return s
}

// smtpSinkPath is Postfix's smtp-sink, the C server ours is judged against
// (its reference figure: 14.6 µs per pipelined transaction), or "" when it
// is not installed or we are not root (it needs -u to drop privileges).
func smtpSinkPath() string {
	p, err := exec.LookPath("smtp-sink")
	if err != nil || os.Geteuid() != 0 {
		return ""
	}
	return p
}

// startSmtpSink starts smtp-sink (which answers and discards, one process,
// event-driven) and returns its address and PID.
func startSmtpSink(tb testing.TB) (string, int) {
	addr := freeAddr(tb)
	cmd := exec.Command(smtpSinkPath(), "-u", "nobody", addr, "256")
	startPeer(tb, addr, cmd)
	return addr, cmd.Process.Pid
}

// BenchmarkServerPipelinedCPU: 1 KiB transactions in the steady state of
// a pipelining sender (RFC 2920 section 3.1): each write carries a body
// and the next MAIL, RCPT and DATA, and one read takes their four
// replies. Each op does one such transaction on each connection (the
// writes first, then the reads) with our server, go-smtp's, the floor
// (startFloorSink) and, where installed, Postfix's smtp-sink, each in a
// process of its own; <impl>-cpu-µs/op is
// that process's CPU time per transaction, from /proc (10 ms ticks: run it
// with -benchtime=3s or more). With one connection every transaction pays
// a wait in the network poller; with ten they share it, as on a busy MX.
// ns/op is the wall time of one op, clients included.
func BenchmarkServerPipelinedCPU(b *testing.B) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		b.Skip("needs /proc")
	}
	next := append(append([]byte(nil), benchBody1K...), benchEnvelope...)
	for _, conns := range []int{1, 10} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			var sinks []*sinkProcess
			impls := []string{"postwire", "gosmtp", "floor"}
			if smtpSinkPath() != "" {
				impls = append(impls, "smtpsink")
			}
			for _, impl := range impls {
				sinks = append(sinks, startSinkProcess(b, impl, conns))
			}
			for _, s := range sinks {
				s.cpu = benchproc.CPU(b, s.pid)
			}
			b.ResetTimer()
			for b.Loop() {
				for _, s := range sinks {
					for _, c := range s.clients {
						if _, err := c.conn.Write(next); err != nil {
							b.Fatal(s.impl, err)
						}
					}
					for _, c := range s.clients {
						if err := c.expectN(250, 250, 250, 354); err != nil {
							b.Fatal(s.impl, err)
						}
					}
				}
			}
			b.StopTimer()
			for _, s := range sinks {
				b.ReportMetric(float64(benchproc.CPU(b, s.pid)-s.cpu)/float64(b.N*conns)/1e3, s.impl+"-cpu-µs/op")
			}
		})
	}
}

// TestBenchSinkProcessesWork runs the CPU benchmark's exchange, in
// process, against each sink for a few transactions, so that a change
// that breaks it fails the tests.
func TestBenchSinkProcessesWork(t *testing.T) {
	next := append(append([]byte(nil), benchBody1K...), benchEnvelope...)
	starts := []func(testing.TB) string{startPostwireSink, startGoSMTPSink, startFloorSink}
	if smtpSinkPath() != "" {
		starts = append(starts, func(tb testing.TB) string { addr, _ := startSmtpSink(tb); return addr })
	}
	for _, start := range starts {
		c, err := dialRaw(start(t))
		require.NoError(t, err)
		_, err = c.conn.Write(benchEnvelope)
		require.NoError(t, err)
		require.NoError(t, c.expectN(250, 250, 354))
		for range 3 {
			_, err = c.conn.Write(next)
			require.NoError(t, err)
			require.NoError(t, c.expectN(250, 250, 250, 354))
		}
		c.conn.Close()
	}
}
