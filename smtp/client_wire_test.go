package smtp

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/textproto"
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
	require.NoError(t, err)
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
	c, rec := clientDialRecorded(t, addr, &DialOptions{Chunking: true, ChunkSize: 64})
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

func TestClientNotAdvertisedBeforeWrite(t *testing.T) {
	prio := 3
	auth := "a@example.org"
	for _, tc := range []struct {
		name string
		env  Envelope
	}{
		{"SIZE", Envelope{MailOptions: &MailOptions{Size: 10}}},
		{"BODY=8BITMIME", Envelope{MailOptions: &MailOptions{Body: Body8BitMIME}}},
		{"BODY=BINARYMIME", Envelope{MailOptions: &MailOptions{Body: BodyBinaryMIME}}},
		{"SMTPUTF8", Envelope{MailOptions: &MailOptions{UTF8: true}}},
		{"UTF-8 address", Envelope{From: "jörg@example.org"}},
		{"RET", Envelope{MailOptions: &MailOptions{Return: DSNReturnHeaders}}},
		{"ENVID", Envelope{MailOptions: &MailOptions{EnvelopeID: "id1"}}},
		{"AUTH=", Envelope{MailOptions: &MailOptions{Auth: &auth}}},
		{"REQUIRETLS", Envelope{MailOptions: &MailOptions{RequireTLS: true}}},
		{"MT-PRIORITY", Envelope{MailOptions: &MailOptions{MTPriority: &prio}}},
		{"BY", Envelope{MailOptions: &MailOptions{DeliverBy: &DeliverByOptions{Time: time.Minute, Mode: DeliverByNotify}}}},
		{"NOTIFY", Envelope{RcptOptions: []*RcptOptions{{Notify: []DSNNotify{DSNNotifyFailure}}}}},
		{"ORCPT", Envelope{RcptOptions: []*RcptOptions{{OriginalRecipient: "b@example.org"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := clientFake(t, func(s *clientScript) {
				s.greetEHLO("PIPELINING")
				assert.Equal(t, "", s.rest(), "nothing may be written")
			})
			c, err := Dial(clientCtx(t), addr, nil)
			require.NoError(t, err)
			defer c.Close()
			env := tc.env
			if env.From == "" {
				env.From = "a@example.org"
			}
			env.To = []string{"b@example.org"}
			_, err = c.Send(clientCtx(t), &env, strings.NewReader("x"))
			require.ErrorIs(t, err, ErrNotAdvertised)
			// The lock-step Mail checks the same way.
			if env.RcptOptions == nil {
				require.ErrorIs(t, c.Mail(clientCtx(t), env.From, env.MailOptions), ErrNotAdvertised)
			}
		})
	}
}

func TestClientParamsFormatting(t *testing.T) {
	prio := -4
	auth := "sender+1=x@example.org"
	empty := ""
	exts := []string{"PIPELINING", "SIZE 1000", "8BITMIME", "SMTPUTF8", "DSN", "AUTH PLAIN", "MT-PRIORITY", "DELIVERBY 60", "CHUNKING", "BINARYMIME"}
	for _, tc := range []struct {
		name string
		from string
		to   string
		mo   *MailOptions
		ro   *RcptOptions
		mail string
		rcpt string
	}{
		{"none", "a@example.org", "b@example.org", nil, nil, "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>"},
		{"null sender", "", "postmaster", nil, nil, "MAIL FROM:<>", "RCPT TO:<postmaster>"},
		{"size body", "a@example.org", "b@example.org", &MailOptions{Size: 999, Body: Body7Bit}, nil,
			"MAIL FROM:<a@example.org> SIZE=999 BODY=7BIT", "RCPT TO:<b@example.org>"},
		{"dsn", "a@example.org", "b@example.org",
			&MailOptions{Return: DSNReturnFull, EnvelopeID: "QQ+x=y"},
			&RcptOptions{Notify: []DSNNotify{DSNNotifySuccess, DSNNotifyDelayed}, OriginalRecipient: "b+x@example.org"},
			"MAIL FROM:<a@example.org> RET=FULL ENVID=QQ+2Bx+3Dy",
			"RCPT TO:<b@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;b+2Bx@example.org"},
		{"notify never", "a@example.org", "b@example.org", nil, &RcptOptions{Notify: []DSNNotify{DSNNotifyNever}},
			"MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org> NOTIFY=NEVER"},
		{"auth mt-priority by", "a@example.org", "b@example.org",
			&MailOptions{Auth: &auth, MTPriority: &prio, DeliverBy: &DeliverByOptions{Time: 120 * time.Second, Mode: DeliverByReturn, Trace: true}}, nil,
			"MAIL FROM:<a@example.org> AUTH=sender+2B1+3Dx@example.org MT-PRIORITY=-4 BY=120;RT", "RCPT TO:<b@example.org>"},
		{"auth empty", "a@example.org", "b@example.org", &MailOptions{Auth: &empty}, nil,
			"MAIL FROM:<a@example.org> AUTH=<>", "RCPT TO:<b@example.org>"},
		{"binarymime", "a@example.org", "b@example.org", &MailOptions{Body: BodyBinaryMIME}, nil,
			"MAIL FROM:<a@example.org> BODY=BINARYMIME", "RCPT TO:<b@example.org>"},
		{"utf8", "jörg@bücher.example", "δοκιμή@example.org", nil,
			&RcptOptions{OriginalRecipientType: DSNAddressTypeUTF8, OriginalRecipient: "δοκιμή@example.org"},
			"MAIL FROM:<jörg@bücher.example> SMTPUTF8",
			"RCPT TO:<δοκιμή@example.org> ORCPT=utf-8;\\x{3B4}\\x{3BF}\\x{3BA}\\x{3B9}\\x{3BC}\\x{3AE}@example.org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clientOffline(t, exts...)
			utf8, err := c.envelopeUTF8(tc.mo != nil && tc.mo.UTF8, tc.from, []string{tc.to})
			require.NoError(t, err)
			line, err := c.appendMail(nil, tc.from, tc.mo, utf8)
			require.NoError(t, err)
			assert.Equal(t, tc.mail+"\r\n", string(line))
			line, err = c.appendRcpt(nil, tc.to, tc.ro, utf8)
			require.NoError(t, err)
			assert.Equal(t, tc.rcpt+"\r\n", string(line))
		})
	}
}

func TestClientParamsRefused(t *testing.T) {
	prio := 10
	exts := []string{"SIZE 1000", "8BITMIME", "DSN", "MT-PRIORITY", "DELIVERBY", "REQUIRETLS"}
	for _, tc := range []struct {
		name string
		mo   *MailOptions
		ro   *RcptOptions
	}{
		{"size over limit", &MailOptions{Size: 1001}, nil},
		{"negative size", &MailOptions{Size: -1}, nil},
		{"unknown body", &MailOptions{Body: "9BIT"}, nil},
		{"unknown ret", &MailOptions{Return: "ALL"}, nil},
		{"envid control", &MailOptions{EnvelopeID: "a\r\nRCPT TO:<x@y>"}, nil},
		{"envid too long", &MailOptions{EnvelopeID: strings.Repeat("x", 101)}, nil},
		{"priority range", &MailOptions{MTPriority: &prio}, nil},
		{"by mode", &MailOptions{DeliverBy: &DeliverByOptions{Time: time.Minute, Mode: "X"}}, nil},
		{"by R not positive", &MailOptions{DeliverBy: &DeliverByOptions{Time: -time.Minute, Mode: DeliverByReturn}}, nil},
		{"requiretls without tls", &MailOptions{RequireTLS: true}, nil},
		{"notify never and more", nil, &RcptOptions{Notify: []DSNNotify{DSNNotifyNever, DSNNotifyFailure}}},
		{"notify twice", nil, &RcptOptions{Notify: []DSNNotify{DSNNotifyFailure, DSNNotifyFailure}}},
		{"notify unknown", nil, &RcptOptions{Notify: []DSNNotify{"ALWAYS"}}},
		{"orcpt control", nil, &RcptOptions{OriginalRecipient: "b@x\r\nDATA"}},
		{"orcpt type", nil, &RcptOptions{OriginalRecipientType: "x400", OriginalRecipient: "b@example.org"}},
		{"orcpt non-ascii rfc822", nil, &RcptOptions{OriginalRecipient: "é@example.org"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clientOffline(t, exts...)
			line, err := c.appendMail(nil, "a@example.org", tc.mo, false)
			if tc.mo != nil {
				require.Error(t, err)
				assert.Empty(t, line)
				return
			}
			require.NoError(t, err)
			line, err = c.appendRcpt(nil, "b@example.org", tc.ro, false)
			require.Error(t, err)
			assert.Empty(t, line)
		})
	}
}

// clientOffline is a Client that believes the server advertised exts,
// without a connection: for formatting tests.
func clientOffline(t *testing.T, exts ...string) *Client {
	t.Helper()
	c := &Client{}
	for _, e := range exts {
		kw, params, _ := strings.Cut(e, " ")
		c.ext.Add(kw, params)
	}
	return c
}

func TestClientControlBytesRefused(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to string
		hello    string
	}{
		{"CRLF in from", "a@example.org>\r\nRCPT TO:<victim@example.org", "b@example.org", ""},
		{"LF in to", "a@example.org", "b@example.org\nDATA", ""},
		{"NUL in to", "a@example.org", "b\x00@example.org", ""},
		{"DEL in from", "a\x7f@example.org", "b@example.org", ""},
		{"angle in to", "a@example.org", "b@example.org> NOTIFY=NEVER", ""},
		{"space in from", "a b@example.org", "b@example.org", ""},
		{"CRLF in EHLO name", "a@example.org", "b@example.org", "me\r\nMAIL FROM:<x@y>"},
		{"space in EHLO name", "a@example.org", "b@example.org", "my host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := clientFake(t, func(s *clientScript) {
				s.send("220 fake\r\n")
				if tc.hello != "" {
					assert.Equal(t, "", s.rest(), "nothing may be written")
					return
				}
				s.expect("EHLO localhost")
				s.send("250-fake\r\n250 PIPELINING\r\n")
				assert.Equal(t, "", s.rest(), "nothing may be written")
			})
			c, err := Dial(clientCtx(t), addr, nil)
			require.NoError(t, err)
			defer c.Close()
			ctx := clientCtx(t)
			if tc.hello != "" {
				require.Error(t, c.Hello(ctx, tc.hello))
				return
			}
			_, err = c.Send(ctx, &Envelope{From: tc.from, To: []string{tc.to}}, strings.NewReader("x"))
			require.Error(t, err)
			if tc.from != "a@example.org" {
				require.Error(t, c.Mail(ctx, tc.from, nil))
			} else {
				require.Error(t, c.Rcpt(ctx, tc.to, nil))
			}
		})
	}
}

func TestClientStartTLSInjection(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("STARTTLS")
		s.expect("STARTTLS")
		// A man in the middle appends a reply meant for after the
		// handshake: the client must not trust it.
		s.send("220 2.0.0 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n")
		s.rest()
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	err = c.StartTLS(clientCtx(t), nil)
	var pe *textproto.ProtocolError
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, pe.Msg, "injection")
	require.Error(t, c.Noop(clientCtx(t)), "the connection is closed")
}

func TestClientOverlongReply(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.send("220 fake\r\n")
		s.expect("EHLO localhost")
		s.send("250 " + strings.Repeat("x", 600) + "\r\n")
		s.rest()
	})
	c, err := Dial(clientCtx(t), addr, &DialOptions{MaxReplyLineLength: 512})
	require.NoError(t, err)
	defer c.Close()
	var pe *textproto.ProtocolError
	require.ErrorAs(t, c.Hello(clientCtx(t), ""), &pe)
}

func TestClientTooManyReplyLines(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.send("220 fake\r\n")
		s.expect("EHLO localhost")
		s.send(strings.Repeat("250-x\r\n", 20) + "250 x\r\n")
		s.rest()
	})
	c, err := Dial(clientCtx(t), addr, &DialOptions{MaxReplyLines: 10})
	require.NoError(t, err)
	defer c.Close()
	var pe *textproto.ProtocolError
	require.ErrorAs(t, c.Hello(clientCtx(t), ""), &pe)
}

func TestClientBadReplyCode(t *testing.T) {
	for _, reply := range []string{"600 what\r\n", "199 early\r\n", "2x0 bad\r\n"} {
		addr := clientFake(t, func(s *clientScript) {
			s.send("220 fake\r\n")
			s.expect("EHLO localhost")
			s.send(reply)
			s.rest()
		})
		c, err := Dial(clientCtx(t), addr, nil)
		require.NoError(t, err)
		var pe *textproto.ProtocolError
		require.ErrorAs(t, c.Hello(clientCtx(t), ""), &pe, reply)
		c.Close()
	}
}

func TestClientUnsolicitedReply(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.send("220 fake\r\n")
		s.expect("EHLO localhost")
		s.send("250 fake\r\n250 2.0.0 nobody asked\r\n")
		assert.Equal(t, "", s.rest(), "nothing may be written after an unsolicited reply")
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello(clientCtx(t), ""))
	time.Sleep(50 * time.Millisecond) // let the stray reply arrive
	_, err = c.Send(clientCtx(t), &Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader("x"))
	var pe *textproto.ProtocolError
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, pe.Msg, "no command pending")
}

func TestClientDroppedConnectionIsTemporary(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after func(s *clientScript)
	}{
		{"after the envelope", func(s *clientScript) {
			s.expect("MAIL FROM:<a@example.org>")
			s.expect("RCPT TO:<b@example.org>")
			s.expect("DATA")
			s.send("250 ok\r\n250 ok\r\n")
		}},
		{"during the body", func(s *clientScript) {
			s.expect("MAIL FROM:<a@example.org>")
			s.expect("RCPT TO:<b@example.org>")
			s.expect("DATA")
			s.send("250 ok\r\n250 ok\r\n354 go\r\n")
			s.line()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := clientFake(t, func(s *clientScript) {
				s.greetEHLO("PIPELINING")
				tc.after(s)
				s.conn.(*net.TCPConn).SetLinger(0)
			})
			c, err := Dial(clientCtx(t), addr, nil)
			require.NoError(t, err)
			defer c.Close()
			res, err := c.Send(clientCtx(t), &Envelope{From: "a@example.org", To: []string{"b@example.org"}},
				strings.NewReader(strings.Repeat("line of body\r\n", 50000)))
			require.Error(t, err)
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, 451, se.Code)
			assert.True(t, se.Temporary())
			var tmp interface{ Temporary() bool }
			require.ErrorAs(t, err, &tmp)
			assert.True(t, tmp.Temporary())
			assert.Empty(t, res.Reply)
			// The client stays closed with the same error.
			assert.Equal(t, err, c.Noop(clientCtx(t)))
		})
	}
}

func TestClientContextCancelMidReply(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO()
		s.expect("NOOP")
		s.rest() // never answers
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello(clientCtx(t), ""))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err = c.Noop(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 3*time.Second)
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
	require.NoError(t, err)
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
	assert.Contains(t, out, "C: [credentials hidden]\r\n")
	assert.NotContains(t, out, "AHUAcA")
	assert.Contains(t, out, "C: QUIT\r\n")
}

func TestClientBodyReadErrorDropsConnection(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("PIPELINING")
		s.expect("MAIL FROM:<a@example.org>")
		s.expect("RCPT TO:<b@example.org>")
		s.expect("DATA")
		s.send("250 ok\r\n250 ok\r\n354 go\r\n")
		got := s.rest()
		assert.NotContains(t, got, "\r\n.\r\n", "a truncated body must never be ended")
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	boom := errors.New("disk on fire")
	_, err = c.Send(clientCtx(t), &Envelope{From: "a@example.org", To: []string{"b@example.org"}},
		io.MultiReader(strings.NewReader("partial\r\n"), clientErrReader{boom}))
	require.ErrorIs(t, err, boom)
}

type clientErrReader struct{ err error }

func (r clientErrReader) Read([]byte) (int, error) { return 0, r.err }
