package smtp

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
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
// with -benchtime=2000x for the 2000 messages of the client target in
// internal/compat/README.md (2000 × 1 KiB over one connection). allocs/op and
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

func BenchmarkClientSendPipelined(b *testing.B) {
	benchmarkClientSend(b, &DialOptions{DisableChunking: true})
}

// With a context that can be cancelled each call arms a watcher
// (context.AfterFunc), which costs a few allocations.
func BenchmarkClientSendPipelinedCancelableContext(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	benchmarkClientSendCtx(b, ctx, &DialOptions{DisableChunking: true})
}

func BenchmarkClientSendPipelinedBDAT(b *testing.B) {
	benchmarkClientSend(b, &DialOptions{})
}

func BenchmarkClientSendLockstep(b *testing.B) {
	benchmarkClientSend(b, &DialOptions{DisableChunking: true, DisablePipelining: true})
}

// Against this module's Server, in the same process: the figures include
// the server's own work and allocations, so they show the end-to-end
// speed, not the client's cost.

type clientDiscard struct{}

func (clientDiscard) NewSession(*Conn) (Session, error)                { return clientDiscard{}, nil }
func (clientDiscard) Mail(context.Context, string, *MailOptions) error { return nil }
func (clientDiscard) Rcpt(context.Context, string, *RcptOptions) error { return nil }
func (clientDiscard) Data(_ context.Context, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (clientDiscard) Reset()        {}
func (clientDiscard) Logout() error { return nil }

func benchmarkClientServer(b *testing.B, opts *DialOptions, many bool) {
	srv := &Server{Hostname: "bench.example", Backend: clientDiscard{}, Logger: slog.New(slog.DiscardHandler)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	go srv.Serve(ln)
	defer srv.Close()
	ctx := context.Background()
	c, err := Dial(ctx, ln.Addr().String(), opts)
	require.NoError(b, err)
	defer c.Close()
	msg := string(clientBenchMessage())
	const batch = 100
	readers := make([]strings.Reader, batch)
	msgs := make([]Message, batch)
	for i := range msgs {
		msgs[i] = Message{Envelope{From: "a@example.org", To: []string{"b@example.org"}}, &readers[i]}
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		n := 1
		if many {
			n = min(batch, b.N-sent)
		}
		for i := range n {
			readers[i].Reset(msg)
		}
		if many {
			if _, err := c.SendMany(ctx, msgs[:n]); err != nil {
				b.Fatal(err)
			}
		} else if _, err := c.Send(ctx, &msgs[0].Envelope, msgs[0].Body); err != nil {
			b.Fatal(err)
		}
		sent += n
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkClientServerSendPipelined(b *testing.B) {
	benchmarkClientServer(b, &DialOptions{DisableChunking: true}, false)
}
func BenchmarkClientServerSendLockstep(b *testing.B) {
	benchmarkClientServer(b, &DialOptions{DisableChunking: true, DisablePipelining: true}, false)
}
func BenchmarkClientServerSendManyBDAT(b *testing.B) {
	benchmarkClientServer(b, &DialOptions{}, true)
}
