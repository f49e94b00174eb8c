package smtp

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// srvServe starts s on loopback and returns its address and Serve's result.
func srvServe(t *testing.T, s *Server) (string, chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() { s.Close() })
	return l.Addr().String(), done
}

func TestShutdownIdleConnectionGets421(t *testing.T) {
	s := &Server{Hostname: "mx.test", Backend: &srvBackend{}, Logger: srvQuietLogger}
	addr, done := srvServe(t, s)
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
	c.expect("421 4.3.2")
	c.expectClosed()
	require.ErrorIs(t, <-done, ErrServerClosed)
	_, err := net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "the listener must be closed")
	require.ErrorIs(t, s.ListenAndServe(), ErrServerClosed)
}

// Shutdown lets a transaction in flight finish, then says 421 4.3.2.
func TestShutdownLetsTransactionFinish(t *testing.T) {
	b := &srvBackend{}
	s := &Server{Hostname: "mx.test", Backend: b, Logger: srvQuietLogger}
	addr, _ := srvServe(t, s)
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	time.Sleep(50 * time.Millisecond) // Shutdown is polling now
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a transaction in flight", err)
	default:
	}
	c.cmd("RCPT TO:<b@example.org>", "250 ")
	c.cmd("DATA", "354")
	c.send("body", ".")
	c.expect("250 2.0.0")
	c.expect("421 4.3.2")
	c.expectClosed()
	require.NoError(t, <-shut)
	require.Len(t, b.Messages(), 1)
}

// When Shutdown's context ends first, the rest is closed and the sessions'
// contexts are cancelled.
func TestShutdownDeadline(t *testing.T) {
	b := &srvBackend{}
	s := &Server{Hostname: "mx.test", Backend: b, Logger: srvQuietLogger}
	addr, _ := srvServe(t, s)
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.Shutdown(ctx), context.DeadlineExceeded)
	c.expectClosed()
	b.mu.Lock()
	mctx := b.mailCtx
	b.mu.Unlock()
	select {
	case <-mctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the session's context was not cancelled")
	}
}

// No connection goroutine is left after Shutdown.
func TestShutdownLeavesNoGoroutines(t *testing.T) {
	s := &Server{Hostname: "mx.test", Backend: &srvBackend{}, Logger: srvQuietLogger}
	addr, done := srvServe(t, s)
	for range 5 {
		c := srvDial(t, addr)
		c.expect("220 ")
		c.cmd("EHLO client.test", "250 ")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
	<-done
	stacks := func() string {
		buf := make([]byte, 1<<20)
		return string(buf[:runtime.Stack(buf, true)])
	}
	if !assert.Eventually(t, func() bool { return !strings.Contains(stacks(), "smtp.(*Conn).serve") }, 5*time.Second, 10*time.Millisecond) {
		t.Logf("goroutines:\n%s", stacks())
	}
}

func TestCloseDropsConnections(t *testing.T) {
	s := &Server{Hostname: "mx.test", Backend: &srvBackend{}, Logger: srvQuietLogger}
	addr, done := srvServe(t, s)
	c := srvDial(t, addr)
	c.expect("220 ")
	require.NoError(t, s.Close())
	c.expectClosed()
	require.ErrorIs(t, <-done, ErrServerClosed)
}

func TestMaxConnections(t *testing.T) {
	_, addr := srvStart(t, &srvBackend{}, func(s *Server) { s.MaxConnections = 1 })
	first := srvDial(t, addr)
	first.expect("220 ")
	second := srvDial(t, addr)
	second.expect("421 4.7.0")
	second.expectClosed()
	first.cmd("QUIT", "221")
	first.expectClosed()
	require.Eventually(t, func() bool {
		c := srvDial(t, addr)
		ok := c.reply()[0][:3] == "220"
		c.nc.Close()
		return ok
	}, 5*time.Second, 20*time.Millisecond, "a slot frees when a connection ends")
}

// A body that stalls past DataTimeout: 421 4.4.2 and close.
func TestDataTimeout(t *testing.T) {
	b := &srvBackend{}
	_, addr := srvStart(t, b, func(s *Server) { s.DataTimeout = 100 * time.Millisecond })
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("RCPT TO:<b@example.org>", "250 ")
	c.cmd("DATA", "354")
	c.send("partial line")
	c.expect("421 4.4.2")
	c.expectClosed()
	require.Empty(t, b.Messages())
}

// The whole body is bounded by DataFinalTimeout even when blocks keep
// coming.
func TestDataFinalTimeout(t *testing.T) {
	_, addr := srvStart(t, &srvBackend{}, func(s *Server) {
		s.DataTimeout = time.Second
		s.DataFinalTimeout = 200 * time.Millisecond
	})
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	c.cmd("RCPT TO:<b@example.org>", "250 ")
	c.cmd("DATA", "354")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if _, err := c.nc.Write([]byte("trickle\r\n")); err != nil {
				return
			}
		}
	}()
	c.expect("421 4.4.2")
}

// A backend's plain error never leaks its text; a panic ends only its own
// connection.
func TestBackendPanicIsolated(t *testing.T) {
	_, addr := srvStart(t, &srvBackend{}, nil)
	other := srvDial(t, addr)
	other.expect("220 ")
	other.cmd("EHLO other.test", "250 ")
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	lines := c.cmd("MAIL FROM:<tempfail@example.org>", "451 4.3.0")
	assert.NotContains(t, lines[0], "database")
	assert.NotContains(t, lines[0], "10.0.0.7")
	c.cmd("MAIL FROM:<panic@example.org>", "421 4.3.0")
	c.expectClosed()
	other.cmd("MAIL FROM:<a@example.org>", "250 ")
}

type srvRefusingBackend struct{ err error }

func (b srvRefusingBackend) NewSession(*Conn) (Session, error) { return nil, b.err }

func TestNewSessionError(t *testing.T) {
	_, addr := srvStart(t, nil, func(s *Server) {
		s.Backend = srvRefusingBackend{&Error{Code: 554, Enhanced: EnhancedCode{5, 7, 1}, Message: "Go away"}}
	})
	c := srvDial(t, addr)
	c.expect("554 5.7.1 Go away")
	c.expectClosed()

	_, addr = srvStart(t, nil, func(s *Server) { s.Backend = srvRefusingBackend{errors.New("secret")} })
	c = srvDial(t, addr)
	lines := c.expect("421 4.3.0")
	assert.NotContains(t, lines[0], "secret")
	c.expectClosed()
}

func TestServeWithoutBackend(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	require.Error(t, (&Server{}).Serve(l))
}

func TestConnAccessors(t *testing.T) {
	b := &srvBackend{}
	s, addr := srvStart(t, b, nil)
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	conn := b.LastConn()
	assert.Equal(t, c.nc.LocalAddr().String(), conn.RemoteAddr().String())
	assert.Equal(t, addr, conn.LocalAddr().String())
	assert.Equal(t, "client.test", conn.Hostname())
	assert.Same(t, s, conn.Server())
	_, _, ok := conn.AuthIdentity()
	assert.False(t, ok)
	assert.NotNil(t, conn.NetConn())
}

// The session's context ends with the connection, and Logout is called.
func TestSessionContextEndsWithConnection(t *testing.T) {
	b := &srvBackend{}
	_, addr := srvStart(t, b, nil)
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	b.mu.Lock()
	ctx := b.mailCtx
	b.mu.Unlock()
	require.NoError(t, ctx.Err())
	c.nc.Close()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("context not cancelled when the client went away")
	}
	require.Eventually(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.logouts == 1 && b.resets >= 0
	}, 5*time.Second, 10*time.Millisecond)
}
