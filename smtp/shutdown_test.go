package smtp

import (
	"context"
	"crypto/sha256"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shutdownGate is a body that yields its first part, then waits for open
// to be closed before yielding the rest.
type shutdownGate struct {
	first, rest string
	started     chan struct{}
	open        chan struct{}
	once        sync.Once
	done        bool
}

func (g *shutdownGate) Read(p []byte) (int, error) {
	if g.first != "" {
		n := copy(p, g.first)
		g.first = g.first[n:]
		return n, nil
	}
	g.once.Do(func() { close(g.started) })
	<-g.open
	if g.rest == "" {
		return 0, io.EOF
	}
	n := copy(p, g.rest)
	g.rest = g.rest[n:]
	return n, nil
}

// Shutdown with a body in flight, from our Client with DATA and with
// BDAT: the transaction completes, the message is delivered once, Send
// reports the success, and then the connection is closed with 421 4.3.2
// and its goroutine ends.
func TestShutdownBodyInFlight(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts DialOptions
	}{
		{"DATA", DialOptions{DisableChunking: true}},
		{"DATA lock-step", DialOptions{DisableChunking: true, DisablePipelining: true}},
		{"BDAT", DialOptions{ChunkSize: 1024}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &loadBackend{got: make(map[[32]byte]int)}
			s, addr := srvStart(t, nil, func(s *Server) { s.Backend = b })
			ctx := clientCtx(t)
			c, err := Dial(ctx, addr, &tc.opts)
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.Hello(ctx, ""))

			first := strings.Repeat("first half of the body\r\n", 200)
			rest := strings.Repeat("second half of the body\r\n", 200)
			gate := &shutdownGate{first: first, rest: rest, started: make(chan struct{}), open: make(chan struct{})}
			sent := make(chan error, 1)
			go func() {
				_, err := c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.org"}}, gate)
				sent <- err
			}()
			<-gate.started
			time.Sleep(50 * time.Millisecond) // let the first half reach the server

			shut := make(chan error, 1)
			go func() {
				sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				shut <- s.Shutdown(sctx)
			}()
			time.Sleep(100 * time.Millisecond)
			select {
			case err := <-shut:
				t.Fatalf("Shutdown returned %v with a body in flight", err)
			case err := <-sent:
				t.Fatalf("Send returned %v before its body was complete", err)
			default:
			}
			close(gate.open)
			require.NoError(t, <-sent, "the transaction in flight completes")
			require.NoError(t, <-shut)
			require.Error(t, c.Noop(ctx), "then the connection is closed")

			b.mu.Lock()
			defer b.mu.Unlock()
			require.Len(t, b.got, 1)
			assert.Equal(t, 1, b.got[sha256.Sum256([]byte(first+rest))], "delivered whole, exactly once")
			checkNoGoroutines(t, "smtp.(*Conn).serve")
		})
	}
}
