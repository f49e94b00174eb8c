package smtp

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type srvCtxKey string

// BaseContext and ConnContext shape the context every Session method
// receives, as net/http.Server's do; the connection's own cancellation
// still applies on top of them.
func TestServerBaseAndConnContext(t *testing.T) {
	b := &srvBackend{}
	var seen net.Listener
	s := &Server{
		Hostname: "mx.test", Backend: b, Logger: srvQuietLogger,
		BaseContext: func(l net.Listener) context.Context {
			seen = l
			return context.WithValue(context.Background(), srvCtxKey("base"), "from BaseContext")
		},
		ConnContext: func(ctx context.Context, nc net.Conn) context.Context {
			return context.WithValue(ctx, srvCtxKey("conn"), nc.RemoteAddr().String())
		},
	}
	addr, _ := srvServe(t, s)
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	c.cmd("MAIL FROM:<a@example.org>", "250 ")

	b.mu.Lock()
	ctx := b.mailCtx
	b.mu.Unlock()
	require.NotNil(t, ctx)
	assert.NotNil(t, seen, "BaseContext is called with the listener")
	assert.Equal(t, "from BaseContext", ctx.Value(srvCtxKey("base")))
	assert.Equal(t, c.nc.LocalAddr().String(), ctx.Value(srvCtxKey("conn")))
	require.NoError(t, ctx.Err(), "alive while the connection is")

	s.Close()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not cancel the connection's context")
	}
}

func TestServerRefusesBadSettings(t *testing.T) {
	for name, s := range map[string]*Server{
		"negative MaxLineLength": {Backend: &srvBackend{}, MaxLineLength: -1},
		"nil BaseContext":        {Backend: &srvBackend{}, BaseContext: func(net.Listener) context.Context { return nil }},
	} {
		t.Run(name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer l.Close()
			assert.Error(t, s.Serve(l))
		})
	}
}

// A negative MaxRecipients means no limit: 150 recipients, more than the
// default of 100, are all accepted.
func TestServerNoRecipientLimit(t *testing.T) {
	_, addr := srvStart(t, &srvBackend{}, func(s *Server) { s.MaxRecipients = -1 })
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	for i := range 150 {
		c.cmd(fmt.Sprintf("RCPT TO:<r%d@example.org>", i), "250 2.1.5")
	}
}

// The client's limits that bound memory cannot be switched off: a
// negative one is an error before anything is read.
func TestClientRefusesNegativeLimits(t *testing.T) {
	for name, opts := range map[string]DialOptions{
		"ChunkSize":          {ChunkSize: -1},
		"MaxReplyLineLength": {MaxReplyLineLength: -1},
		"MaxReplyLines":      {MaxReplyLines: -1},
	} {
		t.Run(name, func(t *testing.T) {
			server, client := net.Pipe()
			defer server.Close()
			_, err := NewClient(client, &opts)
			assert.ErrorContains(t, err, name)
		})
	}
}

// MaxConnectionsPerIP turns away a client's connection beyond the limit
// with 421 4.7.0, and counts one freed when it closes.
func TestMaxConnectionsPerIP(t *testing.T) {
	_, addr := srvStart(t, &srvBackend{}, func(s *Server) { s.MaxConnectionsPerIP = 2 })
	first, second := srvDial(t, addr), srvDial(t, addr)
	first.expect("220 ")
	second.expect("220 ")
	third := srvDial(t, addr)
	third.expect("421 4.7.0")
	third.expectClosed()

	first.cmd("QUIT", "221 ")
	first.expectClosed()
	var again *srvClient
	for range 100 { // the server forgets the first connection soon after its 221
		again = srvDial(t, addr)
		if line, err := again.r.ReadString('\n'); err == nil && strings.HasPrefix(line, "220 ") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("a freed slot was never given to a new connection")
}

// GreetingBanner replaces the default text of the 220 greeting; text that
// could break the reply falls back to the default.
func TestGreetingBanner(t *testing.T) {
	for _, tc := range []struct{ banner, want string }{
		{"", "220 mx.test ESMTP Service ready"},
		{"ESMTP Postwire", "220 mx.test ESMTP Postwire"},
		{"ESMTP x\r\n250 injected", "220 mx.test ESMTP Service ready"},
	} {
		_, addr := srvStart(t, &srvBackend{}, func(s *Server) { s.GreetingBanner = tc.banner })
		c := srvDial(t, addr)
		require.Equal(t, []string{tc.want}, c.expect("220 "))
	}
}
