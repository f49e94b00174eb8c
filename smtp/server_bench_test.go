package smtp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
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
// connection to it past EHLO, with a reader for replies. configure, when
// given, adjusts the Server first.
func srvBenchServer(b *testing.B, configure ...func(*Server)) (net.Conn, *bufio.Reader) {
	b.Helper()
	s := &Server{Hostname: "mx.test", Backend: srvDiscardBackend{}, Logger: srvQuietLogger}
	for _, f := range configure {
		f(s)
	}
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

// srvBenchEnvelope is the MAIL, RCPT and DATA group a pipelining client
// sends in one write (RFC 2920 section 3.1); the floor counts its octets.
var srvBenchEnvelope = []byte("MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n")

// srvBenchNext is what a pipelining sender with several messages writes
// at once in the steady state: a body and the next envelope.
var srvBenchNext = append(append([]byte(nil), srvBenchBody...), srvBenchEnvelope...)

// srvBenchPipelined does one pipelined 1 KiB transaction in two round
// trips: the envelope, a wait for 250, 250, 354, the body, a wait for 250.
func srvBenchPipelined(b *testing.B, w io.Writer, r *bufio.Reader) {
	w.Write(srvBenchEnvelope)
	srvBenchReply(b, r, '2')
	srvBenchReply(b, r, '2')
	srvBenchReply(b, r, '3')
	w.Write(srvBenchBody)
	srvBenchReply(b, r, '2')
}

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
func BenchmarkServerTransaction(b *testing.B) { benchmarkServerTransaction(b) }

// BenchmarkServerTransactionHooks is BenchmarkServerTransaction with every
// hook of ServerHooks set (to functions that count), for their cost.
func BenchmarkServerTransactionHooks(b *testing.B) {
	var events atomic.Int64
	benchmarkServerTransaction(b, func(s *Server) {
		s.Hooks = ServerHooks{
			ConnOpened:   func(*Conn) { events.Add(1) },
			ConnClosed:   func(*Conn, time.Duration) { events.Add(1) },
			TLSHandshake: func(*Conn, *tls.ConnectionState, error) { events.Add(1) },
			Auth:         func(*Conn, string, string, error) { events.Add(1) },
			Command:      func(*Conn, string, int, time.Duration) { events.Add(1) },
			Message:      func(*Conn, MessageEvent) { events.Add(1) },
		}
	})
}

func benchmarkServerTransaction(b *testing.B, configure ...func(*Server)) {
	nc, r := srvBenchServer(b, configure...)
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
	b.ReportAllocs()
	b.SetBytes(int64(len(srvBenchBody)))
	cpu := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		srvBenchPipelined(b, nc, r)
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

// memConn is a net.Conn whose input is a script, each part handed out by
// Read as if it had arrived in one segment: head, then loop loops times,
// then tail. Its output is thrown away: the server with no system calls.
type memConn struct {
	head, loop, tail []byte
	loops            int
	cur              []byte
}

func (m *memConn) Read(p []byte) (int, error) {
	if len(m.cur) == 0 {
		switch {
		case m.head != nil:
			m.cur, m.head = m.head, nil
		case m.loops > 0:
			m.cur, m.loops = m.loop, m.loops-1
		case m.tail != nil:
			m.cur, m.tail = m.tail, nil
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, m.cur)
	m.cur = m.cur[n:]
	return n, nil
}

func (m *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25} }
func (m *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

// onceListener accepts its one connection, then waits to be closed.
type onceListener struct {
	c      net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *onceListener) Accept() (net.Conn, error) {
	if c := l.c; c != nil {
		l.c = nil
		return c, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *onceListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *onceListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25} }

// srvDoneBackend is srvDiscardBackend that says when a session ends.
type srvDoneBackend struct{ done chan struct{} }

type srvDoneSession struct {
	srvDiscardSession
	done chan struct{}
}

func (b srvDoneBackend) NewSession(*Conn) (Session, error) { return srvDoneSession{done: b.done}, nil }
func (s srvDoneSession) Logout() error                     { close(s.done); return nil }

// BenchmarkServerPipelinedMemory is the steady state of a pipelining
// sender (each read carries a 1 KiB body and the next MAIL, RCPT and
// DATA) over a connection in memory: the server's own CPU per
// transaction, without the system calls and the network poller that
// BenchmarkServerPipelinedSteadyCPU includes.
func BenchmarkServerPipelinedMemory(b *testing.B) {
	done := make(chan struct{})
	mc := &memConn{
		head:  append([]byte("EHLO bench.test\r\n"), srvBenchEnvelope...),
		loop:  srvBenchNext,
		loops: b.N,
		tail:  append(append([]byte(nil), srvBenchBody...), "QUIT\r\n"...),
	}
	s := &Server{Hostname: "mx.test", Backend: srvDoneBackend{done}, Logger: srvQuietLogger}
	l := &onceListener{c: mc, closed: make(chan struct{})}
	b.ReportAllocs()
	b.SetBytes(int64(len(srvBenchBody)))
	b.ResetTimer()
	go s.Serve(l)
	<-done
	b.StopTimer()
	s.Close()
}
