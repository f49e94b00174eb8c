package smtp

import (
	"bufio"
	"io"
	"net"
	"os"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/internal/benchproc"
)

// The CPU benchmarks run the server in a process of its own (this test
// binary again) and read its CPU time from /proc, in 10 ms ticks: use
// -benchtime=3s or more. Beside it runs the floor, a Go program that only
// reads and writes the same octets: each op does one transaction with the
// server, then one with the floor, so that noise from the rest of the
// machine falls on both alike and "server minus floor" is the SMTP
// server's own work, the system calls and the runtime's poller excluded.

// TestServerHelperProcess is not a test: the CPU benchmarks run the test
// binary with SRV_HELPER_PROCESS=server to have our server in a process of
// its own, or =floor for the floor. It prints the address, then serves
// until its standard input closes. With SRV_HELPER_CPUPROFILE=file it
// writes its CPU profile there (go tool pprof smtp.test file).
func TestServerHelperProcess(t *testing.T) {
	mode := os.Getenv("SRV_HELPER_PROCESS")
	if mode == "" {
		t.Skip("helper process for the CPU benchmarks")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	switch mode {
	case "server":
		s := &Server{Hostname: "mx.test", Backend: srvDiscardBackend{}, Logger: srvQuietLogger}
		go s.Serve(l)
	case "floor":
		go srvFloor(l, os.Getenv("SRV_HELPER_STEADY") == "true")
	default:
		t.Fatalf("SRV_HELPER_PROCESS=%q: want server or floor", mode)
	}
	require.NoError(t, benchproc.Serve(l.Addr().String(), os.Getenv("SRV_HELPER_CPUPROFILE")))
}

// srvFloor is the floor's side of the one connection it accepts on l: it
// reads fixed octet counts and writes fixed replies. When steady, each
// read after the first takes a body and the next envelope.
func srvFloor(l net.Listener, steady bool) {
	c, err := l.Accept()
	if err != nil {
		return
	}
	buf := make([]byte, 4096)
	readN := func(n int) bool { // exactly n octets, never part of the next group
		_, err := io.ReadFull(c, buf[:n])
		return err == nil
	}
	replies := []byte("250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 Start mail input\r\n")
	done := []byte("250 2.0.0 OK: message accepted\r\n")
	if steady {
		both := append(append([]byte(nil), done...), replies...)
		if !readN(len(srvBenchEnvelope)) {
			return
		}
		c.Write(replies)
		for readN(len(srvBenchNext)) {
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
}

// srvHelper is a helper process and a connection to it.
type srvHelper struct {
	pid    int
	nc     net.Conn
	r      *bufio.Reader
	steady bool
}

// startSrvHelper starts the helper process of mode ("server" or "floor")
// and connects to it, past EHLO for the server, and past the first
// envelope when steady.
func startSrvHelper(b *testing.B, mode string, steady bool) *srvHelper {
	child := benchproc.Start(b, "TestServerHelperProcess", "SRV_HELPER_PROCESS="+mode, "SRV_HELPER_STEADY="+strconv.FormatBool(steady))
	nc, err := net.Dial("tcp", child.Addr)
	require.NoError(b, err)
	b.Cleanup(func() { nc.Close() })
	h := &srvHelper{pid: child.PID, nc: nc, r: bufio.NewReader(nc), steady: steady}
	if mode != "floor" {
		srvBenchReply(b, h.r, '2')
		io.WriteString(nc, "EHLO bench.test\r\n")
		srvBenchReply(b, h.r, '2')
	}
	if steady {
		nc.Write(srvBenchEnvelope)
		srvBenchReply(b, h.r, '2')
		srvBenchReply(b, h.r, '2')
		srvBenchReply(b, h.r, '3')
	}
	return h
}

// transaction does one pipelined 1 KiB transaction: steady, one write of
// the body and the next envelope and one wait for four replies; otherwise
// the envelope, a wait for 354, the body, a wait for 250.
func (h *srvHelper) transaction(b *testing.B) {
	if h.steady {
		h.nc.Write(srvBenchNext)
		srvBenchReply(b, h.r, '2')
		srvBenchReply(b, h.r, '2')
		srvBenchReply(b, h.r, '2')
		srvBenchReply(b, h.r, '3')
		return
	}
	srvBenchPipelined(b, h.nc, h.r)
}

// srvBenchCPU runs transactions against our server and the floor in turn
// and reports each one's CPU time per transaction.
func srvBenchCPU(b *testing.B, steady bool) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		b.Skip("needs /proc")
	}
	server := startSrvHelper(b, "server", steady)
	floor := startSrvHelper(b, "floor", steady)
	b.SetBytes(int64(len(srvBenchBody)))
	serverCPU, floorCPU := benchproc.CPU(b, server.pid), benchproc.CPU(b, floor.pid)
	b.ResetTimer()
	for b.Loop() {
		server.transaction(b)
		floor.transaction(b)
	}
	b.StopTimer()
	serverCPU = benchproc.CPU(b, server.pid) - serverCPU
	floorCPU = benchproc.CPU(b, floor.pid) - floorCPU
	b.ReportMetric(float64(serverCPU)/float64(b.N)/1e3, "server-cpu-µs/op")
	b.ReportMetric(float64(floorCPU)/float64(b.N)/1e3, "floor-cpu-µs/op")
	b.ReportMetric(float64(serverCPU-floorCPU)/float64(b.N)/1e3, "above-floor-µs/op")
}

// BenchmarkServerPipelinedCPU: a pipelined 1 KiB transaction in two round
// trips (MAIL, RCPT and DATA, wait for 354, then the body, wait for 250),
// against our server in its own process and against the floor. ns/op is
// the wall time of both transactions.
func BenchmarkServerPipelinedCPU(b *testing.B) { srvBenchCPU(b, false) }

// BenchmarkServerPipelinedSteadyCPU: the steady state of a pipelining
// sender with several messages (RFC 2920 section 3.1: the end of a body
// may be followed by the next MAIL, RCPT and DATA in the same write): one
// write and one wait for 250, 250, 250, 354 per transaction, against our
// server and against the floor.
func BenchmarkServerPipelinedSteadyCPU(b *testing.B) { srvBenchCPU(b, true) }
