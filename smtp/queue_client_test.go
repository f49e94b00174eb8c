package smtp

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// queueDial connects a Client to addr for these tests.
func queueDial(t *testing.T, addr string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr, &DialOptions{LocalName: "customer.test"})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func queueCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestClientETRN runs our Client's ETRN against our Server: each success
// reply of RFC 1985 section 5 comes back as an ETRNReply (253 with its
// count), each refusal as an *Error with its code.
func TestClientETRN(t *testing.T) {
	b := &srvBackend{etrn: true}
	_, addr := srvStart(t, b, func(s *Server) { s.MaxETRN = 8 })
	c := queueDial(t, addr)
	ctx := queueCtx(t)

	for _, tc := range []struct {
		node     string
		code     int
		messages int
	}{
		{"example.org", 250, 0},
		{"none.example", 251, 0},
		{"pending.example", 252, 0},
		{"count.example", 253, 3},
		{"@example.net", 250, 0},
		{"#dialup", 250, 0},
	} {
		rep, err := c.ETRN(ctx, tc.node)
		require.NoError(t, err, tc.node)
		assert.Equal(t, tc.code, rep.Code, tc.node)
		assert.Equal(t, tc.messages, rep.Messages, tc.node)
		assert.Contains(t, rep.Text, "node "+tc.node, tc.node)
	}

	// Refused by the Session; then by the connection's limit: a node
	// asked for already, and one beyond Server.MaxETRN.
	for _, tc := range []struct {
		node string
		code int
	}{{"refused.example", 459}, {"broken.example", 458}, {"example.org", 458}, {"another.example", 458}} {
		_, err := c.ETRN(ctx, tc.node)
		var se *Error
		require.ErrorAs(t, err, &se, tc.node)
		assert.Equal(t, tc.code, se.Code, tc.node)
	}
	assert.Len(t, b.ETRNNodes(), 8, "the Session saw the first eight")
	require.NoError(t, c.Quit(ctx))
}

// TestClientETRNChecksBeforeSending: a node that is not one, and a server
// that does not offer ETRN, are errors before anything is written.
func TestClientETRNChecksBeforeSending(t *testing.T) {
	b := &srvBackend{}
	_, addr := srvStart(t, b, nil)
	c := queueDial(t, addr)
	ctx := queueCtx(t)

	for _, node := range []string{"", "localname", "@", "#", "a.example\r\nQUIT", "#a b", "[192.0.2.1]"} {
		_, err := c.ETRN(ctx, node)
		require.Error(t, err, "%q", node)
		var se *Error
		assert.False(t, errors.As(err, &se), "%q was sent: %v", node, err)
	}
	_, err := c.ETRN(ctx, "example.org")
	require.ErrorIs(t, err, ErrETRNNotOffered)
	require.NoError(t, c.Noop(ctx), "the connection is still in step")
}

// TestClientATRNCollectsHeldMail runs On-Demand Mail Relay both ways with
// this package alone: our Client authenticates to our provider Server,
// says ATRN, and on 250 serves the reversed session with the customer's
// own Server; the provider's session sends its three held messages with
// its Client, and learns per recipient what the customer took.
func TestClientATRNCollectsHeldMail(t *testing.T) {
	provider := &srvBackend{odmr: true}
	_, addr := srvStart(t, provider, func(s *Server) { s.AllowInsecureAuth = true })
	customerBackend := &srvBackend{}
	customer := &Server{Hostname: "customer.test", Backend: customerBackend, Logger: srvQuietLogger}

	c := queueDial(t, addr)
	ctx := queueCtx(t)
	require.NoError(t, c.Auth(ctx, clientPlain("user", "pass")))
	require.NoError(t, c.ATRN(ctx, nil, customer))

	got := customerBackend.Messages()
	require.Len(t, got, 3)
	assert.Equal(t, "held@sender.test", got[0].From)
	assert.Equal(t, []string{"alice@example.org"}, got[0].To)
	assert.Equal(t, "Subject: held 1\r\n\r\nfirst\r\n", got[0].Body)
	assert.Equal(t, []string{"bob@example.org"}, got[1].To, "unknown@ was refused by the customer")
	assert.Equal(t, "", got[2].From)
	assert.Equal(t, []string{"carol@example.net"}, got[2].To)
	assert.Equal(t, []string{
		"alice@example.org:ok", "bob@example.org:ok", "unknown@example.org:550", "carol@example.net:ok",
	}, provider.Delivered())
	assert.Equal(t, "mx.test", customerBackend.LastConn().Hostname(), "the provider said EHLO as itself")

	// The Client is done: the connection went to the reversed session.
	require.Error(t, c.Noop(ctx))
}

// TestClientATRNRefusals: RFC 2645's refusals come back as *Error, and
// the Client stays usable after them.
func TestClientATRNRefusals(t *testing.T) {
	provider := &srvBackend{odmr: true}
	_, addr := srvStart(t, provider, func(s *Server) { s.AllowInsecureAuth = true })
	customer := &Server{Hostname: "customer.test", Backend: &srvBackend{}, Logger: srvQuietLogger}
	c := queueDial(t, addr)
	ctx := queueCtx(t)

	code := func(err error) int {
		t.Helper()
		var se *Error
		require.ErrorAs(t, err, &se)
		return se.Code
	}
	assert.Equal(t, 530, code(c.ATRN(ctx, []string{"example.org"}, customer)))
	require.NoError(t, c.Auth(ctx, clientPlain("user", "pass")))
	assert.Equal(t, 450, code(c.ATRN(ctx, []string{"other.example"}, customer)))
	assert.Equal(t, 453, code(c.ATRN(ctx, []string{"empty.example"}, customer)))
	assert.Equal(t, 451, code(c.ATRN(ctx, []string{"broken.example"}, customer)))

	require.Error(t, c.ATRN(ctx, []string{"localname"}, customer))
	require.Error(t, c.ATRN(ctx, nil, nil))
	require.Error(t, c.ATRN(ctx, nil, &Server{Backend: &srvBackend{}, ProxyProtocol: true}))
	require.NoError(t, c.Noop(ctx))
	assert.Empty(t, provider.Delivered())
}

// TestClientATRNNotOffered: a server that does not advertise ATRN gets no
// ATRN.
func TestClientATRNNotOffered(t *testing.T) {
	_, addr := srvStart(t, &srvBackend{auth: true}, func(s *Server) { s.AllowInsecureAuth = true })
	c := queueDial(t, addr)
	ctx := queueCtx(t)
	err := c.ATRN(ctx, nil, &Server{Backend: &srvBackend{}, Logger: srvQuietLogger})
	require.ErrorIs(t, err, ErrATRNNotOffered)
	require.NoError(t, c.Noop(ctx))
}

// queueFakeProvider accepts one connection and plays an ODMR provider
// from a script: it greets, answers EHLO with ATRN, and answers ATRN with
// after (written in one write). Then it runs reversed, reading with the
// returned reader.
func queueFakeProvider(t *testing.T, after string, reversed func(r *bufio.Reader, w net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(20 * time.Second))
		r := bufio.NewReader(nc)
		nc.Write([]byte("220 provider.test ODMR\r\n"))
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch {
			case strings.HasPrefix(line, "EHLO"):
				nc.Write([]byte("250-provider.test\r\n250 ATRN\r\n"))
			case strings.HasPrefix(line, "ATRN"):
				nc.Write([]byte(after))
				reversed(r, nc)
				return
			default:
				nc.Write([]byte("502 5.5.1 no\r\n"))
			}
		}
	}()
	return l.Addr().String()
}

// TestClientATRNKeepsBufferedOctets: a provider that sends its EHLO in
// the same write as the 250 to ATRN loses nothing: the octets the Client
// had buffered are the reversed session's first command.
func TestClientATRNKeepsBufferedOctets(t *testing.T) {
	lines := make(chan string, 64) // room for every line, so the provider never blocks
	addr := queueFakeProvider(t, "250 OK now reversing the connection\r\nEHLO provider.test\r\n",
		func(r *bufio.Reader, w net.Conn) {
			for range 2 { // the greeting, then the EHLO reply's last line
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					lines <- strings.TrimSuffix(l, "\r\n")
					if len(l) < 4 || l[3] == ' ' {
						break
					}
				}
			}
			w.Write([]byte("QUIT\r\n"))
			l, _ := r.ReadString('\n')
			lines <- strings.TrimSuffix(l, "\r\n")
			close(lines)
		})
	c := queueDial(t, addr)
	customer := &Server{Hostname: "customer.test", Backend: &srvBackend{}, Logger: srvQuietLogger}
	require.NoError(t, c.ATRN(queueCtx(t), []string{"example.org"}, customer))

	var got []string
	for l := range lines {
		got = append(got, l)
	}
	require.NotEmpty(t, got)
	assert.True(t, strings.HasPrefix(got[0], "220 customer.test"), "greeting %q", got[0])
	assert.Contains(t, got, "250-customer.test greets provider.test")
	assert.True(t, strings.HasPrefix(got[len(got)-1], "221 "), "QUIT answered: %q", got)
}

// TestClientATRNContextEndsReversedSession: ending ATRN's context ends
// the reversed session and closes the connection.
func TestClientATRNContextEndsReversedSession(t *testing.T) {
	greeted := make(chan struct{})
	addr := queueFakeProvider(t, "250 OK\r\n", func(r *bufio.Reader, w net.Conn) {
		r.ReadString('\n')
		close(greeted)
		io := make([]byte, 1)
		r.Read(io) // until the customer closes
	})
	c := queueDial(t, addr)
	customer := &Server{Hostname: "customer.test", Backend: &srvBackend{}, Logger: srvQuietLogger}
	ctx, cancel := context.WithCancel(queueCtx(t))
	go func() { <-greeted; cancel() }()
	err := c.ATRN(ctx, nil, customer)
	require.ErrorIs(t, err, context.Canceled)
}
