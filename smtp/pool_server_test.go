package smtp

// The harness of the pool's tests: a Server on loopback whose backend
// records each message with the connection that carried it, counts the
// connections open at once, and can be told to refuse, to stall or to
// answer 421; and a scripted fake server for what a real one will not do
// (hang up at a chosen moment).

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/sasl"
)

type poolRecord struct {
	conn int // which connection carried it, from 1
	to   []string
	body string
	tls  bool
	user string
}

type poolBackend struct {
	mu       sync.Mutex
	messages []poolRecord
	conns    int // sessions begun
	open     int // sessions open now
	maxOpen  int // the most open at once
	logouts  int

	// mail, when set, answers MAIL on connection n (from 1).
	mail func(n int) error
	// rcpt, when set, answers RCPT.
	rcpt func(to string) error
	// data, when set, runs before a message is recorded.
	data func()
}

func (b *poolBackend) NewSession(c *Conn) (Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.conns++
	b.open++
	b.maxOpen = max(b.maxOpen, b.open)
	return &poolSession{b: b, n: b.conns, conn: c}, nil
}

func (b *poolBackend) snapshot() (msgs []poolRecord, conns, maxOpen, logouts int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]poolRecord(nil), b.messages...), b.conns, b.maxOpen, b.logouts
}

type poolSession struct {
	b    *poolBackend
	n    int
	conn *Conn
	to   []string
	user string
}

func (s *poolSession) Mail(context.Context, string, *MailOptions) error {
	if s.b.mail != nil {
		return s.b.mail(s.n)
	}
	return nil
}

func (s *poolSession) Rcpt(_ context.Context, to string, _ *RcptOptions) error {
	if s.b.rcpt != nil {
		if err := s.b.rcpt(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *poolSession) Data(_ context.Context, r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.b.data != nil {
		s.b.data()
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.b.mu.Lock()
	s.b.messages = append(s.b.messages, poolRecord{conn: s.n, to: s.to, body: string(body), tls: isTLS, user: s.user})
	s.b.mu.Unlock()
	return nil
}

func (s *poolSession) Reset() { s.to = nil }

func (s *poolSession) Logout() error {
	s.b.mu.Lock()
	s.b.open--
	s.b.logouts++
	s.b.mu.Unlock()
	return nil
}

func (s *poolSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *poolSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "user" || pass != "pass" {
			return sasl.ErrInvalidCredentials
		}
		s.user = user
		return nil
	}), nil
}

// poolServe runs a Server with be on loopback, configured by configure,
// and returns its address and a function that stops it.
func poolServe(t *testing.T, be *poolBackend, configure func(*Server)) (string, func()) {
	t.Helper()
	srv := &Server{Hostname: "pool.example", Backend: be, Logger: slog.New(slog.DiscardHandler)}
	if configure != nil {
		configure(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
			if err := <-done; err != nil && !errors.Is(err, ErrServerClosed) && !errors.Is(err, fs.ErrClosed) {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// poolFake is a scripted server: each connection, numbered from 1, is
// greeted and then given to script, which answers lines until it returns;
// the connection is then closed.
type poolFake struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	dots int // message bodies read to their final dot
}

// poolFakeConn is what a script reads from and writes to.
type poolFakeConn struct {
	f *poolFake
	r *bufio.Reader
	w net.Conn
}

// line reads one command line, "" at the end of the connection.
func (c *poolFakeConn) line() string {
	s, _ := c.r.ReadString('\n')
	return strings.TrimRight(s, "\r\n")
}

func (c *poolFakeConn) say(s string) { io.WriteString(c.w, s+"\r\n") }

// body reads a DATA body to its final dot and counts it.
func (c *poolFakeConn) body() {
	for {
		l := c.line()
		if l == "." {
			c.f.mu.Lock()
			c.f.dots++
			c.f.mu.Unlock()
			return
		}
		if l == "" && c.r.Buffered() == 0 {
			if _, err := c.r.Peek(1); err != nil {
				return
			}
		}
	}
}

// session answers an ordinary session (EHLO with PIPELINING, MAIL, RCPT,
// DATA, QUIT) until stop returns true for a command line before it is
// answered.
func (c *poolFakeConn) session(stop func(line string) bool) {
	for {
		l := c.line()
		if l == "" || stop(l) {
			return
		}
		verb := strings.ToUpper(strings.SplitN(l, " ", 2)[0])
		switch verb {
		case "EHLO":
			c.say("250-fake.example\r\n250 PIPELINING")
		case "DATA":
			c.say("354 go on")
			c.body()
			if stop(".") {
				return
			}
			c.say("250 2.0.0 queued")
		case "QUIT":
			c.say("221 2.0.0 bye")
			return
		default:
			c.say("250 2.0.0 ok")
		}
	}
}

func poolFakeServe(t *testing.T, script func(n int, c *poolFakeConn)) *poolFake {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &poolFake{ln: ln}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for n := 1; ; n++ {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				c := &poolFakeConn{f: f, r: bufio.NewReader(conn), w: conn}
				c.say("220 fake.example ESMTP")
				script(n, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.wg.Wait()
	})
	return f
}

func (f *poolFake) addr() string { return f.ln.Addr().String() }

func (f *poolFake) bodies() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dots
}
