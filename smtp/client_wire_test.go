package smtp

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/sasl"
)

// Tests against a scripted fake server: what goes on the wire, and what
// the client does with a hostile or broken server.

func TestClientGreeting554(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.send("554 5.7.1 go away\r\n")
		s.expect("QUIT")
	})
	_, err := Dial(clientCtx(t), addr, nil)
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 554, se.Code)
	assert.Equal(t, EnhancedCode{5, 7, 1}, se.Enhanced)
	assert.Equal(t, "go away", se.Message)
}

func TestClientGreetingTimeout(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) { s.rest() })
	start := time.Now()
	_, err := Dial(clientCtx(t), addr, &DialOptions{GreetingTimeout: 100 * time.Millisecond})
	require.Error(t, err)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestClientGreetingContextWins(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) { s.rest() })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := Dial(ctx, addr, nil) // the greeting timeout is 5 minutes
	require.ErrorIs(t, err, context.Canceled)
}

func TestClientHelloFallback(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ehloCode string
		fallback bool
	}{
		{"500 falls back", "500 5.5.1 what?", true},
		{"502 falls back", "502 5.5.1 not implemented", true},
		{"501 does not", "501 5.5.4 bad name", false},
		{"421 does not", "421 4.3.2 bye", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := clientFake(t, func(s *clientScript) {
				s.send("220 old.example\r\n")
				s.expect("EHLO localhost")
				s.send(tc.ehloCode + "\r\n")
				if tc.fallback {
					s.expect("HELO localhost")
					s.send("250 old.example\r\n")
				} else {
					assert.Equal(t, "", s.rest())
				}
			})
			c, err := Dial(clientCtx(t), addr, nil)
			require.NoError(t, err)
			defer c.Close()
			err = c.Hello(clientCtx(t), "")
			if tc.fallback {
				require.NoError(t, err)
				assert.Empty(t, c.Extensions().Keywords())
				return
			}
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, tc.ehloCode[:3], se.Error()[:3])
			c.Close()
		})
	}
}

func TestClientSendPipelinedOneWrite(t *testing.T) {
	const body = "Subject: hi\r\n\r\n.leading dot\r\nbye\r\n"
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("PIPELINING", "8BITMIME", "SIZE 100000")
		s.expect("MAIL FROM:<a@example.org> SIZE=40 BODY=8BITMIME")
		s.expect("RCPT TO:<b@example.org>")
		s.expect("RCPT TO:<nobody@example.org>")
		s.expect("RCPT TO:<c@example.org>")
		s.expect("DATA")
		s.send("250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n250 2.1.5 ok\r\n354 go on\r\n")
		assert.Equal(t, "Subject: hi\r\n\r\n..leading dot\r\nbye\r\n.\r\n", s.body())
		s.send("250 2.0.0 queued as 42\r\n")
		s.expect("QUIT")
		s.send("221 2.0.0 bye\r\n")
	})
	c, rec := clientDialRecorded(t, addr, nil)
	ctx := clientCtx(t)
	require.NoError(t, c.Hello(ctx, ""))
	before := len(rec.Writes())
	res, err := c.Send(ctx, &Envelope{
		From:        "a@example.org",
		To:          []string{"b@example.org", "nobody@example.org", "c@example.org"},
		MailOptions: &MailOptions{Size: 40, Body: Body8BitMIME},
	}, strings.NewReader(body))
	clientRequirePartial(t, err, 2)
	writes := rec.Writes()[before:]
	require.GreaterOrEqual(t, len(writes), 2)
	assert.Equal(t, "MAIL FROM:<a@example.org> SIZE=40 BODY=8BITMIME\r\n"+
		"RCPT TO:<b@example.org>\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n",
		writes[0], "MAIL, every RCPT and DATA leave in one write")
	assert.Equal(t, 2, res.Accepted())
	assert.Equal(t, "queued as 42", res.Reply)
	assert.NoError(t, res.Recipients[0].Err)
	var se *Error
	require.ErrorAs(t, res.Recipients[1].Err, &se)
	assert.Equal(t, 550, se.Code)
	assert.Equal(t, "nobody@example.org", res.Recipients[1].Address)
	assert.NoError(t, res.Recipients[2].Err)
	require.NoError(t, c.Quit(ctx))
}

func TestClientSendAllRefused(t *testing.T) {
	for _, tc := range []struct {
		name      string
		dataReply string
		expect    string // what the client sends after the replies
	}{
		// The normal case: DATA is refused, no body goes out.
		{"DATA refused", "554 5.5.1 no valid recipients\r\n", ""},
		// A server that says 354 anyway gets an empty body (RFC 2920 3.1).
		{"354 anyway", "354 go on\r\n", ".\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := clientFake(t, func(s *clientScript) {
				s.greetEHLO("PIPELINING")
				s.expect("MAIL FROM:<>")
				s.expect("RCPT TO:<x@example.org>")
				s.expect("RCPT TO:<y@example.org>")
				s.expect("DATA")
				s.send("250 ok\r\n550 5.1.1 no\r\n450 4.2.1 later\r\n" + tc.dataReply)
				if tc.expect != "" {
					s.expect(strings.TrimSuffix(tc.expect, "\r\n"))
					s.send("554 5.5.1 no valid recipients\r\n")
				}
				// The next transaction starts with RSET, pipelined.
				s.expect("RSET")
				s.expect("MAIL FROM:<>")
				s.expect("RCPT TO:<x@example.org>")
				s.expect("DATA")
				s.send("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n")
				assert.Equal(t, "hello\r\n.\r\n", s.body())
				s.send("250 ok\r\n")
			})
			c, err := Dial(clientCtx(t), addr, nil)
			require.NoError(t, err)
			defer c.Close()
			ctx := clientCtx(t)
			res, err := c.Send(ctx, &Envelope{To: []string{"x@example.org", "y@example.org"}}, strings.NewReader("must not be sent"))
			require.Error(t, err)
			assert.Equal(t, 0, res.Accepted())
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, 550, se.Code)
			require.ErrorAs(t, res.Recipients[1].Err, &se)
			assert.True(t, se.Temporary())

			res, err = c.Send(ctx, &Envelope{To: []string{"x@example.org"}}, strings.NewReader("hello"))
			require.NoError(t, err)
			assert.Equal(t, 1, res.Accepted())
		})
	}
}

func TestClientSendLockstep(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("PIPELINING") // offered, but disabled by the client
		s.expect("MAIL FROM:<a@example.org>")
		s.send("250 ok\r\n")
		s.expect("RCPT TO:<b@example.org>")
		s.send("250 ok\r\n")
		s.expect("DATA")
		s.send("354 go\r\n")
		assert.Equal(t, "x\r\n.\r\n", s.body())
		s.send("250 2.0.0 done\r\n")
	})
	c, rec := clientDialRecorded(t, addr, &DialOptions{DisablePipelining: true})
	ctx := clientCtx(t)
	require.NoError(t, c.Hello(ctx, ""))
	before := len(rec.Writes())
	res, err := c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader("x\n"))
	require.NoError(t, err)
	assert.Equal(t, "done", res.Reply)
	assert.Equal(t, []string{"MAIL FROM:<a@example.org>\r\n", "RCPT TO:<b@example.org>\r\n", "DATA\r\n", "x\r\n.\r\n"}, rec.Writes()[before:])
}

func TestClientSendBdatPipelined(t *testing.T) {
	body := "Subject: chunks\r\n\r\n" + strings.Repeat("0123456789\r\n", 10) + ".not stuffed\r\n"
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("PIPELINING", "CHUNKING")
		s.expect("MAIL FROM:<a@example.org>")
		s.expect("RCPT TO:<b@example.org>")
		var got strings.Builder
		first := true
		for {
			var n int
			var last bool
			line := s.line()
			fields := strings.Fields(line)
			if !assert.True(t, len(fields) >= 2 && fields[0] == "BDAT", line) {
				return
			}
			n = atoiTest(fields[1])
			last = len(fields) == 3 && fields[2] == "LAST"
			got.WriteString(s.readN(n))
			if first {
				s.send("250 ok\r\n250 ok\r\n")
				first = false
			}
			s.send("250 2.0.0 chunk ok\r\n")
			if last {
				break
			}
		}
		assert.Equal(t, body, got.String())
	})
	c, rec := clientDialRecorded(t, addr, &DialOptions{ChunkSize: 64})
	ctx := clientCtx(t)
	require.NoError(t, c.Hello(ctx, ""))
	before := len(rec.Writes())
	res, err := c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader(body))
	require.NoError(t, err)
	assert.Equal(t, 1, res.Accepted())
	first := rec.Writes()[before]
	assert.True(t, strings.HasPrefix(first, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nBDAT "), first)
}

func atoiTest(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestClientLMTPPipelined(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.send("220 lmtp.example LMTP\r\n")
		s.expect("LHLO localhost")
		s.send("250-lmtp.example\r\n250 PIPELINING\r\n")
		s.expect("MAIL FROM:<a@example.org>")
		s.expect("RCPT TO:<b@example.org>")
		s.expect("RCPT TO:<gone@example.org>")
		s.expect("RCPT TO:<c@example.org>")
		s.expect("DATA")
		s.send("250 ok\r\n250 ok\r\n550 5.1.1 gone\r\n250 ok\r\n354 go\r\n")
		assert.Equal(t, "hi\r\n.\r\n", s.body())
		s.send("250 2.0.0 b delivered\r\n452 4.2.2 c over quota\r\n")
	})
	c, err := Dial(clientCtx(t), addr, &DialOptions{LMTP: true})
	require.NoError(t, err)
	defer c.Close()
	res, err := c.Send(clientCtx(t), &Envelope{From: "a@example.org",
		To: []string{"b@example.org", "gone@example.org", "c@example.org"}}, strings.NewReader("hi\r\n"))
	clientRequirePartial(t, err, 1)
	assert.Equal(t, 1, res.Accepted())
	assert.Equal(t, "b delivered", res.Reply)
	var se *Error
	require.ErrorAs(t, res.Recipients[1].Err, &se)
	assert.Equal(t, 550, se.Code)
	require.ErrorAs(t, res.Recipients[2].Err, &se)
	assert.Equal(t, 452, se.Code)
}

func TestClientTrace(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("AUTH PLAIN")
		s.expect("AUTH PLAIN AHUAcA==")
		s.send("235 2.7.0 ok\r\n")
		s.expect("QUIT")
		s.send("221 bye\r\n")
	})
	var trace strings.Builder
	c, err := Dial(clientCtx(t), addr, &DialOptions{Trace: &trace})
	require.NoError(t, err)
	require.NoError(t, c.Auth(clientCtx(t), clientPlain("u", "p")))
	require.NoError(t, c.Quit(clientCtx(t)))
	out := trace.String()
	assert.Contains(t, out, "S: 220 fake.example ESMTP\r\n")
	assert.Contains(t, out, "C: EHLO localhost\r\n")
	assert.Contains(t, out, "S: 250 HELP\r\n")
	assert.Contains(t, out, "C: AUTH PLAIN [credentials hidden]\r\n", "the command shows, the credentials do not")
	assert.NotContains(t, out, "AHUAcA")
	assert.Contains(t, out, "C: QUIT\r\n")
}

// AUTH LOGIN sends no credentials on its command line: the trace shows it
// whole, and masks each response.
func TestClientTraceAuthLogin(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("AUTH LOGIN")
		s.expect("AUTH LOGIN")
		s.send("334 VXNlcm5hbWU6\r\n")
		s.expect("dQ==")
		s.send("334 UGFzc3dvcmQ6\r\n")
		s.expect("cA==")
		s.send("235 2.7.0 ok\r\n")
		s.expect("QUIT")
		s.send("221 bye\r\n")
	})
	var trace strings.Builder
	c, err := Dial(clientCtx(t), addr, &DialOptions{Trace: &trace})
	require.NoError(t, err)
	require.NoError(t, c.Auth(clientCtx(t), sasl.NewLoginClient("u", "p")))
	require.NoError(t, c.Quit(clientCtx(t)))
	out := trace.String()
	assert.Contains(t, out, "C: AUTH LOGIN\r\n")
	assert.Equal(t, 2, strings.Count(out, "C: [credentials hidden]\r\n"), out)
	assert.NotContains(t, out, "dQ==")
	assert.NotContains(t, out, "cA==")
}
