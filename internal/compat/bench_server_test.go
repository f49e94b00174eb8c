package compat

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/require"
)

// The server benchmarks run the same raw client against our server and
// go-smtp's, each with a backend that reads the body and drops it, with the
// same timeouts (which cost each a deadline per read).
const benchTimeout = time.Minute

// sinkServer is a running server to benchmark.
type sinkServer struct {
	impl string
	addr string
}

// benchServers starts one sink of each implementation for the benchmark.
func benchServers(b *testing.B) []sinkServer {
	b.Helper()
	return []sinkServer{
		{"postwire", startPostwireSink(b)},
		{"gosmtp", startGoSMTPSink(b)},
	}
}

// startPostwireSink starts our server with a discarding backend.
func startPostwireSink(tb testing.TB) string {
	tb.Helper()
	s := &smtp.Server{
		Hostname:     "mx.test.example",
		ReadTimeout:  benchTimeout,
		DataTimeout:  benchTimeout,
		WriteTimeout: benchTimeout,
		Logger:       slog.New(slog.DiscardHandler),
		Backend: smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
			return discardSession{}, nil
		}),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	go s.Serve(l)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return l.Addr().String()
}

type discardSession struct{}

func (discardSession) Mail(context.Context, string, *smtp.MailOptions) error { return nil }
func (discardSession) Rcpt(context.Context, string, *smtp.RcptOptions) error { return nil }
func (discardSession) Data(_ context.Context, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (discardSession) Reset()        {}
func (discardSession) Logout() error { return nil }

// startGoSMTPSink starts go-smtp's server with a discarding backend.
func startGoSMTPSink(tb testing.TB) string {
	tb.Helper()
	s := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) {
		return goDiscardSession{}, nil
	}))
	s.Domain = "mx.test.example"
	s.MaxMessageBytes = 1 << 30
	s.MaxRecipients = 100
	s.ReadTimeout = benchTimeout
	s.WriteTimeout = benchTimeout
	s.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	go s.Serve(l)
	tb.Cleanup(func() { s.Close() })
	return l.Addr().String()
}

type goDiscardSession struct{}

func (goDiscardSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (goDiscardSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (goDiscardSession) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}
func (goDiscardSession) Reset()        {}
func (goDiscardSession) Logout() error { return nil }

// rawClient is the minimal SMTP client the server benchmarks drive both
// servers with: it writes prepared bytes and reads replies, checking codes.
type rawClient struct {
	conn net.Conn
	br   *bufio.Reader
}

// dialRaw connects, reads the greeting and says EHLO.
func dialRaw(addr string) (*rawClient, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(5 * time.Minute))
	c := &rawClient{conn: conn, br: bufio.NewReaderSize(conn, 4096)}
	if err := c.expect(220); err != nil {
		conn.Close()
		return nil, err
	}
	if _, err := conn.Write([]byte("EHLO client.example\r\n")); err != nil {
		conn.Close()
		return nil, err
	}
	if err := c.expect(250); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// expect reads one reply, multi-line or not, and checks its code.
func (c *rawClient) expect(code int) error {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) < 4 {
			return fmt.Errorf("short reply line %q", line)
		}
		got := int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
		if got != code {
			return fmt.Errorf("reply %q, want %d", line, code)
		}
		if line[3] == ' ' {
			return nil
		}
	}
}

// expectN reads n replies with the given codes.
func (c *rawClient) expectN(codes ...int) error {
	for _, code := range codes {
		if err := c.expect(code); err != nil {
			return err
		}
	}
	return nil
}

// The commands of one transaction and a 1 KiB body, stuffed and terminated.
var (
	benchMail     = []byte("MAIL FROM:<alice@client.example>\r\n")
	benchRcpt     = []byte("RCPT TO:<bob@test.example>\r\n")
	benchData     = []byte("DATA\r\n")
	benchEnvelope = []byte("MAIL FROM:<alice@client.example>\r\nRCPT TO:<bob@test.example>\r\nDATA\r\n")
	benchBody1K   = func() []byte {
		wire, _ := stuffedLines(1024 - 80)
		return wire
	}()
)

// pipelined sends one transaction in two groups as RFC 2920 allows: MAIL,
// RCPT and DATA in one write, then the body.
func (c *rawClient) pipelined(body []byte) error {
	if _, err := c.conn.Write(benchEnvelope); err != nil {
		return err
	}
	if err := c.expectN(250, 250, 354); err != nil {
		return err
	}
	if _, err := c.conn.Write(body); err != nil {
		return err
	}
	return c.expect(250)
}

// pipelinedRun sends n transactions with one write and one wait each: RFC
// 2920 section 3.1 lets the body start a group, so each write carries a
// body and the next MAIL, RCPT and DATA.
func (c *rawClient) pipelinedRun(body []byte, n int) error {
	if n == 0 {
		return nil
	}
	group := append(append([]byte(nil), body...), benchEnvelope...)
	if _, err := c.conn.Write(benchEnvelope); err != nil {
		return err
	}
	if err := c.expectN(250, 250, 354); err != nil {
		return err
	}
	for i := 1; i < n; i++ {
		if _, err := c.conn.Write(group); err != nil {
			return err
		}
		if err := c.expectN(250, 250, 250, 354); err != nil {
			return err
		}
	}
	if _, err := c.conn.Write(body); err != nil {
		return err
	}
	return c.expect(250)
}

// bdatWindow is how many BDAT transactions pipelinedBDAT writes at once.
const bdatWindow = 10

// pipelinedBDAT sends n transactions with CHUNKING (RFC 3030), which needs
// no 354: MAIL, RCPT and "BDAT size LAST" with the body, bdatWindow
// transactions per write, then their replies.
func (c *rawClient) pipelinedBDAT(body []byte, n int) error {
	one := fmt.Appendf(nil, "MAIL FROM:<alice@client.example>\r\nRCPT TO:<bob@test.example>\r\nBDAT %d LAST\r\n%s",
		len(body), body)
	window := bytes.Repeat(one, bdatWindow)
	codes := make([]int, 3*bdatWindow)
	for i := range codes {
		codes[i] = 250
	}
	for n > 0 {
		k := min(n, bdatWindow)
		if _, err := c.conn.Write(window[:k*len(one)]); err != nil {
			return err
		}
		if err := c.expectN(codes[:3*k]...); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// lockstep sends one transaction waiting for each reply.
func (c *rawClient) lockstep(body []byte) error {
	for _, step := range []struct {
		line []byte
		code int
	}{{benchMail, 250}, {benchRcpt, 250}, {benchData, 354}, {body, 250}} {
		if _, err := c.conn.Write(step.line); err != nil {
			return err
		}
		if err := c.expect(step.code); err != nil {
			return err
		}
	}
	return nil
}

func (c *rawClient) quit() error {
	defer c.conn.Close()
	if _, err := c.conn.Write([]byte("QUIT\r\n")); err != nil {
		return err
	}
	return c.expect(221)
}

// runConns runs b.N transactions spread over conns connections, each
// already greeted, with run (given its share of b.N).
func runConns(b *testing.B, addr string, conns int, run func(c *rawClient, n int) error) {
	clients := make([]*rawClient, conns)
	for i := range clients {
		c, err := dialRaw(addr)
		require.NoError(b, err)
		clients[i] = c
	}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i, c := range clients {
		n := b.N / conns
		if i < b.N%conns {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(c, n); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	for _, c := range clients {
		require.NoError(b, c.quit())
	}
}

// BenchmarkServerPipelined: 1 KiB transactions, pipelined (one write and
// one wait per transaction), 10 connections.
func BenchmarkServerPipelined(b *testing.B) {
	for _, s := range benchServers(b) {
		b.Run("impl="+s.impl, func(b *testing.B) {
			runConns(b, s.addr, 10, func(c *rawClient, n int) error { return c.pipelinedRun(benchBody1K, n) })
		})
	}
}

// BenchmarkServerPipelinedBDAT: 1 KiB transactions with BDAT, ten per
// write, 10 connections: the server's own cost, with fewer round trips.
func BenchmarkServerPipelinedBDAT(b *testing.B) {
	_, body := stuffedLines(1024 - 80)
	for _, s := range benchServers(b) {
		b.Run("impl="+s.impl, func(b *testing.B) {
			runConns(b, s.addr, 10, func(c *rawClient, n int) error { return c.pipelinedBDAT(body, n) })
		})
	}
}

// BenchmarkServerLockstep: 1 KiB transactions, one command at a time, 10
// connections.
func BenchmarkServerLockstep(b *testing.B) {
	for _, s := range benchServers(b) {
		b.Run("impl="+s.impl, func(b *testing.B) {
			runConns(b, s.addr, 10, func(c *rawClient, n int) error {
				for range n {
					if err := c.lockstep(benchBody1K); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
}

// BenchmarkServerLargeBody: one 10 MiB message per transaction, one
// connection.
func BenchmarkServerLargeBody(b *testing.B) {
	wire, _ := stuffedLines(10 << 20)
	for _, s := range benchServers(b) {
		b.Run("impl="+s.impl, func(b *testing.B) {
			b.SetBytes(int64(len(wire)))
			runConns(b, s.addr, 1, func(c *rawClient, n int) error {
				for range n {
					if err := c.pipelined(wire); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
}

// BenchmarkServerConnPerMessage: a new connection for each 1 KiB message
// (greeting, EHLO, pipelined transaction, QUIT), 10 clients at a time.
func BenchmarkServerConnPerMessage(b *testing.B) {
	for _, s := range benchServers(b) {
		b.Run("impl="+s.impl, func(b *testing.B) {
			b.ReportAllocs()
			var wg sync.WaitGroup
			errs := make(chan error, 10)
			for i := range 10 {
				n := b.N / 10
				if i < b.N%10 {
					n++
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range n {
						c, err := dialRaw(s.addr)
						if err == nil {
							err = c.pipelined(benchBody1K)
							if qerr := c.quit(); err == nil {
								err = qerr
							}
						}
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
		})
	}
}

// TestBenchClientsWork runs the benchmarks' raw client once against each
// server, so that a change that breaks them fails the tests.
func TestBenchClientsWork(t *testing.T) {
	for _, impl := range []string{"postwire", "gosmtp"} {
		addr := startPostwireSink(t)
		if impl == "gosmtp" {
			addr = startGoSMTPSink(t)
		}
		c, err := dialRaw(addr)
		require.NoError(t, err, impl)
		require.NoError(t, c.pipelined(benchBody1K), impl)
		require.NoError(t, c.lockstep(benchBody1K), impl)
		require.NoError(t, c.pipelinedRun(benchBody1K, 3), impl)
		require.NoError(t, c.pipelinedBDAT([]byte("Subject: x\r\n\r\nhi\r\n"), 13), impl)
		require.NoError(t, c.quit(), impl)
		require.True(t, strings.HasSuffix(string(benchBody1K), "\r\n.\r\n"))
	}
}
