package smtp

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clientScript is one side of a scripted fake server: it reads the
// client's lines and writes canned replies, recording everything.
type clientScript struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

// send writes raw reply bytes.
func (s *clientScript) send(reply string) {
	if _, err := io.WriteString(s.conn, reply); err != nil {
		s.t.Errorf("fake server: write: %v", err)
	}
}

// line reads one line from the client, without CRLF; "" at EOF.
func (s *clientScript) line() string {
	s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := s.br.ReadString('\n')
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(l, "\r\n")
}

// expect reads one line and checks it.
func (s *clientScript) expect(want string) {
	if got := s.line(); got != want {
		s.t.Errorf("fake server: got line %q, want %q", got, want)
	}
}

// readN reads exactly n bytes (a BDAT chunk).
func (s *clientScript) readN(n int) string {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.br, b); err != nil {
		s.t.Errorf("fake server: read %d: %v", n, err)
	}
	return string(b)
}

// body reads a DATA body up to and including ".\r\n", raw.
func (s *clientScript) body() string {
	var b strings.Builder
	for {
		l, err := s.br.ReadString('\n')
		b.WriteString(l)
		if err != nil || l == ".\r\n" {
			return b.String()
		}
	}
}

// rest reads whatever the client sends until it closes or goes quiet.
func (s *clientScript) rest() string {
	s.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	b, _ := io.ReadAll(s.br)
	return string(b)
}

// clientFake starts a server on loopback that runs script for one
// connection and returns its address; the test waits for the script.
func clientFake(t *testing.T, script func(s *clientScript)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		defer conn.Close()
		script(&clientScript{t: t, conn: conn, br: bufio.NewReader(conn)})
	}()
	t.Cleanup(func() {
		ln.Close()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("fake server script did not finish")
		}
	})
	return ln.Addr().String()
}

// clientRecorder is a net.Conn that records each Write the client makes.
type clientRecorder struct {
	net.Conn
	mu     sync.Mutex
	writes []string
}

func (r *clientRecorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	r.writes = append(r.writes, string(p))
	r.mu.Unlock()
	return r.Conn.Write(p)
}

func (r *clientRecorder) Writes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.writes...)
}

// clientDialRecorded connects to addr through a clientRecorder.
func clientDialRecorded(t *testing.T, addr string, opts *DialOptions) (*Client, *clientRecorder) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	rec := &clientRecorder{Conn: conn}
	c, err := NewClient(rec, opts)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c, rec
}

// clientEHLO is a greeting and an EHLO exchange advertising exts.
func (s *clientScript) greetEHLO(exts ...string) {
	s.send("220 fake.example ESMTP\r\n")
	s.expect("EHLO localhost")
	reply := "250-fake.example\r\n"
	for _, e := range exts {
		reply += "250-" + e + "\r\n"
	}
	s.send(reply + "250 HELP\r\n")
}

// clientRequirePartial checks that err reports a message accepted for
// accepted recipients but not for all.
func clientRequirePartial(t *testing.T, err error, accepted int) {
	t.Helper()
	var re *RecipientsError
	require.ErrorAs(t, err, &re, "a message accepted for some recipients only is an error")
	require.Equal(t, accepted, re.Accepted)
}

func clientCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
