package smtp

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clientSink is a minimal, fast SMTP sink on loopback for the client
// benchmarks: it answers every command at once, pipelining-aware (replies
// are flushed only when no further command is buffered, RFC 2920 section
// 3.1), swallows DATA and BDAT bodies and keeps nothing.
func clientSink(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go clientSinkConn(conn)
		}
	}()
	return ln.Addr().String()
}

func clientSinkConn(conn net.Conn) {
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 64<<10)
	bw := bufio.NewWriterSize(conn, 16<<10)
	bw.WriteString("220 sink ESMTP\r\n")
	bw.Flush()
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		if len(line) < 4 {
			bw.WriteString("500 5.5.2 what?\r\n")
		} else {
			var verb [4]byte
			for i := range verb {
				verb[i] = line[i] &^ 0x20 // upper case, letters only
			}
			switch string(verb[:]) {
			case "EHLO", "LHLO":
				bw.WriteString("250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-CHUNKING\r\n250 SIZE 10000000\r\n")
			case "MAIL", "RCPT", "RSET", "NOOP":
				bw.WriteString("250 2.0.0 ok\r\n")
			case "DATA":
				bw.WriteString("354 go ahead\r\n")
				bw.Flush()
				for {
					l, err := br.ReadSlice('\n')
					if err != nil && err != bufio.ErrBufferFull {
						return
					}
					if len(l) == 3 && l[0] == '.' && l[1] == '\r' {
						break
					}
				}
				bw.WriteString("250 2.0.0 queued\r\n")
			case "BDAT":
				fields := bytes.Fields(line)
				n, _ := strconv.Atoi(string(fields[1]))
				if _, err := br.Discard(n); err != nil {
					return
				}
				bw.WriteString("250 2.0.0 chunk ok\r\n")
			case "QUIT":
				bw.WriteString("221 2.0.0 bye\r\n")
				bw.Flush()
				return
			default:
				bw.WriteString("502 5.5.1 not implemented\r\n")
			}
		}
		if br.Buffered() == 0 {
			if bw.Flush() != nil {
				return
			}
		}
	}
}

// clientBenchMessage is a 1 KiB message with CRLF line endings.
func clientBenchMessage() []byte {
	var b bytes.Buffer
	b.WriteString("From: a@example.org\r\nTo: b@example.org\r\nSubject: benchmark\r\n\r\n")
	for b.Len() < 1024 {
		b.WriteString("The quick brown fox jumps over the lazy dog, again and again.\r\n")
	}
	b.Truncate(1024 - 2)
	b.WriteString("\r\n")
	return b.Bytes()
}

// benchmarkClientSend sends b.N 1 KiB messages over one connection; run
// with -benchtime=2000x for the 2000 messages of the issue. allocs/op and
// B/op are per message.
func benchmarkClientSend(b *testing.B, opts *DialOptions) {
	benchmarkClientSendCtx(b, context.Background(), opts)
}

func benchmarkClientSendCtx(b *testing.B, ctx context.Context, opts *DialOptions) {
	addr := clientSink(b)
	c, err := Dial(ctx, addr, opts)
	require.NoError(b, err)
	defer c.Close()
	require.NoError(b, c.Hello(ctx, ""))
	msg := clientBenchMessage()
	env := &Envelope{From: "a@example.org", To: []string{"b@example.org"}}
	r := bytes.NewReader(msg)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	start := time.Now()
	b.ResetTimer()
	for range b.N {
		r.Reset(msg)
		res, err := c.Send(ctx, env, r)
		if err != nil || res.Accepted() != 1 {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	require.NoError(b, c.Quit(ctx))
}

func BenchmarkClientSendPipelined(b *testing.B) { benchmarkClientSend(b, nil) }

// With a context that can be cancelled each call arms a watcher
// (context.AfterFunc), which costs a few allocations.
func BenchmarkClientSendPipelinedCancelableContext(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	benchmarkClientSendCtx(b, ctx, nil)
}

func BenchmarkClientSendPipelinedBDAT(b *testing.B) {
	benchmarkClientSend(b, &DialOptions{Chunking: true})
}

func BenchmarkClientSendLockstep(b *testing.B) {
	benchmarkClientSend(b, &DialOptions{DisablePipelining: true})
}
