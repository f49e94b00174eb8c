package smtp

import (
	"crypto/tls"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/sasl"
)

// hookLog records every ClientHooks event as a line of text.
type hookLog struct {
	mu     sync.Mutex
	events []string
	msgs   []ClientMessageEvent
}

func (l *hookLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
}

func (l *hookLog) hooks() ClientHooks {
	return ClientHooks{
		ConnOpened: func(c *Client) { l.add("opened") },
		ConnClosed: func(c *Client, lasted time.Duration) { l.add("closed") },
		TLSHandshake: func(c *Client, st *tls.ConnectionState, err error) {
			l.add("tls %v %v", st != nil && st.HandshakeComplete, err != nil)
		},
		Auth:    func(c *Client, mech string, err error) { l.add("auth %s %v", mech, err == nil) },
		Command: func(c *Client, verb string, code int, took time.Duration) { l.add("%s %d", verb, code) },
		Message: func(c *Client, m ClientMessageEvent) {
			l.mu.Lock()
			l.msgs = append(l.msgs, m)
			l.mu.Unlock()
			l.add("message %d/%d %d %v", m.Accepted, m.Recipients, m.Size, m.Err == nil)
		},
	}
}

func (l *hookLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

// hookBody is dot-stuffed on the wire: ".dot" goes as "..dot".
const hookBody = "Subject: hooks\r\n\r\nhi\r\n.dot\r\n"

// Every hook fires, in order, over STARTTLS, AUTH and a pipelined DATA
// transaction with one recipient refused; the replies are paired with
// their commands, the 354 and the body's reply both with DATA, and the
// size is the body as sent, dot-stuffed.
func TestClientHooksDATA(t *testing.T) {
	srvTLS, cliTLS := clientCert(t)
	addr := clientServe(t, &clientBackend{}, func(s *Server) { s.TLSConfig = srvTLS }, nil)
	var l hookLog
	ctx := clientCtx(t)
	c, err := DialStartTLS(ctx, addr, &DialOptions{TLSConfig: cliTLS, DisableChunking: true, Hooks: l.hooks()})
	require.NoError(t, err)
	require.NoError(t, c.Auth(ctx, clientPlain("user", "pass")))
	_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.org", "unknown@example.org"}},
		strings.NewReader(hookBody))
	var partial *RecipientsError
	require.ErrorAs(t, err, &partial, "one recipient of two refused")
	require.NoError(t, c.Quit(ctx))
	require.NoError(t, c.Close())

	assert.Equal(t, []string{
		"opened", "EHLO 250", "STARTTLS 220", "tls true false", "EHLO 250",
		"AUTH 235", "auth PLAIN true",
		"MAIL 250", "RCPT 250", "RCPT 550", "DATA 354", "DATA 250",
		"message 1/2 " + fmt.Sprint(len(hookBody)+1) + " true",
		"QUIT 221", "closed",
	}, l.all())
}

// With BDAT (RFC 3030) the chunk is skipped by its size and counted; a
// SCRAM exchange's responses are paired with AUTH; a refused AUTH is
// reported as such.
func TestClientHooksBDATAndSCRAM(t *testing.T) {
	addr := clientServe(t, &clientBackend{}, func(s *Server) { s.AllowInsecureAuth = true }, nil)
	var l hookLog
	ctx := clientCtx(t)
	c, err := Dial(ctx, addr, &DialOptions{Hooks: l.hooks()})
	require.NoError(t, err)
	defer c.Close()
	require.Error(t, c.Auth(ctx, sasl.NewScramSHA256Client("user", "wrong", "")))
	require.NoError(t, c.Auth(ctx, sasl.NewScramSHA256Client("user", "pass", "")))
	_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader(hookBody))
	require.NoError(t, err)
	require.NoError(t, c.Quit(ctx))

	assert.Equal(t, []string{
		"opened", "EHLO 250",
		"AUTH 334", "AUTH 535", "auth SCRAM-SHA-256 false",
		"AUTH 334", "AUTH 334", "AUTH 235", "auth SCRAM-SHA-256 true",
		"MAIL 250", "RCPT 250", "BDAT 250",
		"message 1/1 " + fmt.Sprint(len(hookBody)) + " true",
		"QUIT 221", "closed",
	}, l.all())
}

// In LMTP the body gets one reply per accepted recipient (RFC 2033
// section 4.2): all are paired with DATA, and QUIT still with its own.
func TestClientHooksLMTP(t *testing.T) {
	for _, chunking := range []bool{false, true} {
		t.Run(fmt.Sprint("chunking=", chunking), func(t *testing.T) {
			addr := clientServe(t, &clientBackend{}, func(s *Server) { s.LMTP = true }, nil)
			var l hookLog
			ctx := clientCtx(t)
			c, err := Dial(ctx, addr, &DialOptions{LMTP: true, DisableChunking: !chunking, Hooks: l.hooks()})
			require.NoError(t, err)
			defer c.Close()
			_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.org", "lmtpfail@example.org"}},
				strings.NewReader(hookBody))
			var partial *RecipientsError
			require.ErrorAs(t, err, &partial, "delivered to one recipient of two")
			require.NoError(t, c.Quit(ctx))
			final := []string{"DATA 354", "DATA 250", "DATA 552"}
			size := len(hookBody) + 1
			if chunking {
				final, size = []string{"BDAT 250", "BDAT 552"}, len(hookBody)
			}
			want := append([]string{"opened", "LHLO 250", "MAIL 250", "RCPT 250", "RCPT 250"}, final...)
			want = append(want, fmt.Sprintf("message 1/2 %d true", size), "QUIT 221", "closed")
			assert.Equal(t, want, l.all())
		})
	}
}

// A STARTTLS handshake that fails (the certificate is not trusted) is
// reported with its error.
func TestClientHooksTLSFailure(t *testing.T) {
	srvTLS, _ := clientCert(t)
	addr := clientServe(t, &clientBackend{}, func(s *Server) { s.TLSConfig = srvTLS }, nil)
	var l hookLog
	_, err := DialStartTLS(clientCtx(t), addr, &DialOptions{Hooks: l.hooks()})
	require.Error(t, err)
	assert.Equal(t, []string{"opened", "EHLO 250", "STARTTLS 220", "tls false true", "closed"}, l.all())
}

// Without hooks the connection is not wrapped: the cost is a nil check.
func TestClientHooksUnsetDoNotWrap(t *testing.T) {
	addr := clientServe(t, &clientBackend{}, nil, nil)
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	_, wrapped := c.conn.(*hookConn)
	assert.False(t, wrapped)
	assert.Nil(t, c.watch)
}

// BenchmarkClientSendPipelinedHooks is BenchmarkClientSendPipelined with
// every hook set to a counter: the cost of following the dialogue.
func BenchmarkClientSendPipelinedHooks(b *testing.B) {
	var n int
	count := func() { n++ }
	benchmarkClientSend(b, &DialOptions{DisableChunking: true, Hooks: ClientHooks{
		ConnOpened:   func(*Client) { count() },
		ConnClosed:   func(*Client, time.Duration) { count() },
		TLSHandshake: func(*Client, *tls.ConnectionState, error) { count() },
		Auth:         func(*Client, string, error) { count() },
		Command:      func(*Client, string, int, time.Duration) { count() },
		Message:      func(*Client, ClientMessageEvent) { count() },
	}})
}

// After ATRN hands the connection to the customer's Server (RFC 2645
// section 5.3), the reversed session's commands are not reported as the
// client's: the Command hook stops at ATRN's 250.
func TestClientHooksStopAtATRN(t *testing.T) {
	provider := &srvBackend{odmr: true}
	_, addr := srvStart(t, provider, func(s *Server) { s.AllowInsecureAuth = true })
	customer := &Server{Hostname: "customer.test", Backend: &srvBackend{}, Logger: srvQuietLogger}
	var l hookLog
	ctx := queueCtx(t)
	c, err := Dial(ctx, addr, &DialOptions{LocalName: "customer.test", Hooks: l.hooks()})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Auth(ctx, clientPlain("user", "pass")))
	require.NoError(t, c.ATRN(ctx, nil, customer))
	require.Len(t, provider.Delivered(), 4, "the reversed session ran")
	assert.Equal(t, []string{"opened", "EHLO 250", "AUTH 235", "auth PLAIN true", "ATRN 250"}, l.all())
}
