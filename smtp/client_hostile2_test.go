package smtp

// The client against hostile or broken servers, one scripted fake server
// on 127.0.0.1 per case, grouped by family: the greeting, EHLO, STARTTLS,
// AUTH, reply framing, the transaction, and servers that go silent. Every
// case is bounded in time; none may hang, panic, report success wrongly
// or send a credential in clear. The cases of client_hostile_test.go,
// client_wire_test.go and client_auth_test.go are not repeated here.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/textproto"
)

// hostileBound is how long one case may take, whatever the server does.
const hostileBound = 8 * time.Second

// hostileRun runs act and fails the test if it takes longer than
// hostileBound: the client must never hang on a server.
func hostileRun(t *testing.T, act func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		act()
	}()
	select {
	case <-done:
	case <-time.After(hostileBound):
		buf := make([]byte, 1<<20)
		t.Fatalf("the client hung for %v:\n%s", hostileBound, buf[:runtime.Stack(buf, true)])
	}
}

// hostileFarConn makes a loopback connection look remote, so that the
// client applies its rules for credentials over the network.
type hostileFarConn struct{ net.Conn }

func (hostileFarConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 25), Port: 25}
}

// hostileDialFar connects to addr through a hostileFarConn.
func hostileDialFar(t *testing.T, addr string, opts *DialOptions) (*Client, error) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	return NewClient(hostileFarConn{nc}, opts)
}

// hostileShort are timeouts short enough for a test, long enough for a
// loaded machine to answer well within them.
var hostileShort = &DialOptions{
	GreetingTimeout: time.Second, CommandTimeout: time.Second,
	DataInitTimeout: time.Second, DataBlockTimeout: time.Second, DataTermTimeout: time.Second,
}

var hostileEnv = &Envelope{From: "a@example.org", To: []string{"b@example.org"}}

func TestHostileGreeting(t *testing.T) {
	for _, tc := range []struct {
		name     string
		greeting string
		check    func(t *testing.T, c *Client, err error)
	}{
		{"421 is temporary", "421 4.3.2 busy, go away\r\n", func(t *testing.T, c *Client, err error) {
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, 421, se.Code)
			assert.True(t, se.Temporary())
		}},
		{"554 multi-line", "554-no\r\n554 5.7.1 really no\r\n", func(t *testing.T, c *Client, err error) {
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, 554, se.Code)
			assert.False(t, se.Temporary())
		}},
		{"garbage", "HTTP/1.1 400 Bad Request\r\n\r\n", func(t *testing.T, c *Client, err error) {
			var pe *textproto.ProtocolError
			require.ErrorAs(t, err, &pe)
		}},
		{"binary", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n", func(t *testing.T, c *Client, err error) {
			require.Error(t, err)
		}},
		{"no CRLF then close", "220 almost", func(t *testing.T, c *Client, err error) {
			require.Error(t, err)
		}},
		{"mismatched continuation", "220-hello\r\n554 bye\r\n", func(t *testing.T, c *Client, err error) {
			var pe *textproto.ProtocolError
			require.ErrorAs(t, err, &pe)
		}},
		{"multi-line 220 accepted", "220-fake.example ESMTP\r\n220-second line\r\n220 third\r\n", func(t *testing.T, c *Client, err error) {
			require.NoError(t, err)
			assert.Equal(t, "fake.example ESMTP\nsecond line\nthird", c.Greeting())
			c.Close()
		}},
		{"1xx", "100 wait\r\n", func(t *testing.T, c *Client, err error) {
			var pe *textproto.ProtocolError
			require.ErrorAs(t, err, &pe)
		}},
		{"354 instead of 220", "354 go ahead\r\n", func(t *testing.T, c *Client, err error) {
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, 354, se.Code)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := clientFake(t, func(s *clientScript) {
				s.send(tc.greeting)
				if strings.HasPrefix(tc.greeting, "220 almost") {
					return
				}
				s.rest()
			})
			hostileRun(t, func() {
				c, err := Dial(clientCtx(t), addr, hostileShort)
				tc.check(t, c, err)
			})
		})
	}
}

func TestHostileEHLO(t *testing.T) {
	t.Run("502 falls back to HELO and sends lock-step", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.send("220 old.example\r\n")
			s.expect("EHLO localhost")
			s.send("502 5.5.1 what is EHLO\r\n")
			s.expect("HELO localhost")
			s.send("250 old.example\r\n")
			// No extension: no pipelining, no BDAT, no parameters.
			s.expect("MAIL FROM:<a@example.org>")
			s.send("250 ok\r\n")
			s.expect("RCPT TO:<b@example.org>")
			s.send("250 ok\r\n")
			s.expect("DATA")
			s.send("354 go\r\n")
			assert.Equal(t, "hi\r\n.\r\n", s.body())
			s.send("250 queued\r\n")
		})
		hostileRun(t, func() {
			c := hostileDial(t, addr)
			_, err := c.Send(clientCtx(t), hostileEnv, strings.NewReader("hi"))
			require.NoError(t, err)
			assert.Empty(t, c.Extensions().Keywords())
		})
	})
	t.Run("554 is final, no HELO", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.send("220 fake\r\n")
			s.expect("EHLO localhost")
			s.send("554 5.7.1 go away\r\n")
			assert.NotContains(t, s.rest(), "HELO")
		})
		hostileRun(t, func() {
			c := hostileDial(t, addr)
			var se *Error
			require.ErrorAs(t, c.Hello(clientCtx(t), ""), &se)
			assert.Equal(t, 554, se.Code)
		})
	})
	t.Run("EHLO and HELO both refused", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.send("220 fake\r\n")
			s.expect("EHLO localhost")
			s.send("500 5.5.2 eh?\r\n")
			s.expect("HELO localhost")
			s.send("421 4.3.0 bye\r\n")
			assert.NotContains(t, s.rest(), "MAIL")
		})
		hostileRun(t, func() {
			c := hostileDial(t, addr)
			_, err := c.Send(clientCtx(t), hostileEnv, strings.NewReader("hi"))
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, 421, se.Code)
		})
	})
	t.Run("10000-line reply is bounded", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.send("220 fake\r\n")
			s.expect("EHLO localhost")
			s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(s.conn, strings.Repeat("250-X-PADDING\r\n", 10000)+"250 HELP\r\n")
		})
		hostileRun(t, func() {
			c := hostileDial(t, addr)
			var pe *textproto.ProtocolError
			require.ErrorAs(t, c.Hello(clientCtx(t), ""), &pe)
		})
	})
	t.Run("10 MB reply line is bounded", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.send("220 fake\r\n")
			s.expect("EHLO localhost")
			s.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			line := make([]byte, 10<<20)
			for i := range line {
				line[i] = 'x'
			}
			copy(line, "250-")
			s.conn.Write(append(line, "\r\n250 HELP\r\n"...)) // fails once the client hangs up
		})
		hostileRun(t, func() {
			c := hostileDial(t, addr)
			var pe *textproto.ProtocolError
			require.ErrorAs(t, c.Hello(clientCtx(t), ""), &pe)
		})
	})
	t.Run("malformed keyword line", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.send("220 fake\r\n")
			s.expect("EHLO localhost")
			s.send("250-fake\r\n250-SIZE notanumber\r\n250-\x01\x02\r\n250 PIPELINING\r\n")
			s.rest()
		})
		hostileRun(t, func() {
			c := hostileDial(t, addr)
			// Either refused as malformed, or parsed: never a panic or a hang.
			if err := c.Hello(clientCtx(t), ""); err == nil {
				_, _ = c.Extension("SIZE")
			}
		})
	})
}

func TestHostileStartTLS(t *testing.T) {
	t.Run("refused, then no credential in clear", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("STARTTLS", "AUTH PLAIN LOGIN")
			s.expect("STARTTLS")
			s.send("454 4.7.0 TLS not available\r\n")
			rest := s.rest()
			assert.NotContains(t, rest, "AUTH")
			assert.NotContains(t, rest, "c2VjcmV0") // "secret" in base64
		})
		hostileRun(t, func() {
			c, err := hostileDialFar(t, addr, hostileShort)
			require.NoError(t, err)
			defer c.Close()
			var se *Error
			require.ErrorAs(t, c.StartTLS(clientCtx(t), nil), &se)
			assert.Equal(t, 454, se.Code)
			require.ErrorIs(t, c.Auth(clientCtx(t), clientPlain("user", "secret")), ErrInsecureAuth)
			require.ErrorIs(t, c.Auth(clientCtx(t), clientLoginFor("user", "secret")), ErrInsecureAuth)
		})
	})
	t.Run("absent when required", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("AUTH PLAIN")
			rest := s.rest()
			assert.NotContains(t, rest, "STARTTLS")
			assert.NotContains(t, rest, "AUTH")
			assert.NotContains(t, rest, "MAIL")
		})
		hostileRun(t, func() {
			_, err := DialStartTLS(clientCtx(t), addr, hostileShort)
			require.Error(t, err)
		})
	})
	t.Run("bytes after the 220 in a later segment", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("STARTTLS")
			s.expect("STARTTLS")
			s.send("220 2.0.0 ready\r\n")
			time.Sleep(50 * time.Millisecond)
			// The client is in its handshake: these are not a ServerHello.
			s.send("250-injected\r\n250 AUTH PLAIN\r\n")
			s.rest()
		})
		hostileRun(t, func() {
			c := hostileDial(t, addr)
			require.Error(t, c.StartTLS(clientCtx(t), nil))
			require.Error(t, c.Noop(clientCtx(t)), "the connection is closed")
			_, secured := c.TLSConnectionState()
			assert.False(t, secured)
		})
	})
	t.Run("220 then silence: the handshake times out", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("STARTTLS")
			s.expect("STARTTLS")
			s.send("220 2.0.0 ready\r\n")
			s.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			io.Copy(io.Discard, s.conn) // reads the ClientHello, never answers
		})
		hostileRun(t, func() {
			c := hostileDial(t, addr)
			require.Error(t, c.StartTLS(clientCtx(t), nil))
		})
	})
	t.Run("EHLO after TLS not re-read from the clear", func(t *testing.T) {
		// The server answers STARTTLS with a 220 and a whole fake
		// post-TLS EHLO reply in one segment: refused as injection
		// (in client_hostile_test.go); here it comes as a multi-line
		// 220 whose last line would start the TLS: still a protocol
		// error or a failed handshake, never a usable connection.
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("STARTTLS")
			s.expect("STARTTLS")
			s.send("220-ready\r\n220 ready\r\n250 fake\r\n")
			s.rest()
		})
		hostileRun(t, func() {
			c := hostileDial(t, addr)
			require.Error(t, c.StartTLS(clientCtx(t), nil))
			require.Error(t, c.Noop(clientCtx(t)))
		})
	})
}

// clientLoginFor is LOGIN without an initial response.
func clientLoginFor(user, pass string) saslLoginClient {
	return saslLoginClient{user: user, pass: pass}
}

// saslLoginClient speaks LOGIN: it answers "Username:" and "Password:".
type saslLoginClient struct{ user, pass string }

func (l saslLoginClient) Start() (string, []byte, error) { return "LOGIN", nil, nil }

func (l saslLoginClient) Next(ch []byte) ([]byte, error) {
	switch strings.ToLower(string(ch)) {
	case "username:":
		return []byte(l.user), nil
	case "password:":
		return []byte(l.pass), nil
	}
	return nil, errors.New("unexpected LOGIN challenge")
}

// hostileChatty answers every challenge, forever.
type hostileChatty struct{}

func (hostileChatty) Start() (string, []byte, error) { return "X-CHATTY", nil, nil }
func (hostileChatty) Next([]byte) ([]byte, error)    { return []byte("more"), nil }

func TestHostileAuth(t *testing.T) {
	t.Run("non-base64 challenge to LOGIN", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("AUTH LOGIN")
			s.expect("AUTH LOGIN")
			s.send("334 !!not*base64\r\n")
			s.expect("*")
			s.send("501 5.7.0 cancelled\r\n")
			s.expect("NOOP")
			s.send("250 ok\r\n")
		})
		hostileRun(t, func() {
			c := hostileDial(t, addr)
			require.Error(t, c.Auth(clientCtx(t), clientLoginFor("user", "secret")))
			require.NoError(t, c.Noop(clientCtx(t)), "the session stays in step")
		})
	})
	t.Run("endless challenges are cut off", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("AUTH X-CHATTY")
			s.expect("AUTH X-CHATTY")
			for {
				s.send("334 \r\n")
				if l := s.line(); l == "*" || l == "" {
					s.send("501 5.7.0 cancelled\r\n")
					return
				}
			}
		})
		hostileRun(t, func() {
			c, err := Dial(clientCtx(t), addr, &DialOptions{AllowInsecureAuth: true, CommandTimeout: time.Second})
			require.NoError(t, err)
			defer c.Close()
			err = c.Auth(clientCtx(t), hostileChatty{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "too many challenges")
		})
	})
	t.Run("235 with no AUTH pending is refused", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.send("220 fake\r\n")
			s.expect("EHLO localhost")
			s.send("250-fake\r\n250 AUTH PLAIN\r\n235 2.7.0 you are in\r\n")
			s.rest()
		})
		hostileRun(t, func() {
			c := hostileDial(t, addr)
			require.NoError(t, c.Hello(clientCtx(t), ""))
			time.Sleep(50 * time.Millisecond)
			var pe *textproto.ProtocolError
			require.ErrorAs(t, c.Auth(clientCtx(t), clientPlain("user", "secret")), &pe)
		})
	})
	t.Run("multi-line challenge", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("AUTH LOGIN")
			s.expect("AUTH LOGIN")
			s.send("334-VXNlcm5hbWU6\r\n334 VXNlcm5hbWU6\r\n")
			s.expect("*")
			s.send("501 5.7.0 cancelled\r\n")
		})
		hostileRun(t, func() {
			c := hostileDial(t, addr)
			require.Error(t, c.Auth(clientCtx(t), clientLoginFor("user", "secret")))
		})
	})
	t.Run("no AUTH over a remote plaintext connection, any mechanism", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("AUTH PLAIN LOGIN XOAUTH2 X-UNKNOWN")
			assert.Equal(t, "", s.rest(), "nothing at all may be sent")
		})
		hostileRun(t, func() {
			c, err := hostileDialFar(t, addr, hostileShort)
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.Hello(clientCtx(t), ""))
			require.ErrorIs(t, c.Auth(clientCtx(t), clientPlain("user", "secret")), ErrInsecureAuth)
			require.ErrorIs(t, c.Auth(clientCtx(t), clientLoginFor("user", "secret")), ErrInsecureAuth)
			require.ErrorIs(t, c.Auth(clientCtx(t), hostileUnknown{}), ErrInsecureAuth)
		})
	})
}

// hostileUnknown is a mechanism the client knows nothing about.
type hostileUnknown struct{}

func (hostileUnknown) Start() (string, []byte, error) { return "X-UNKNOWN", []byte("secret"), nil }
func (hostileUnknown) Next([]byte) ([]byte, error)    { return nil, errors.New("no") }

func TestHostileReplies(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mailReply string
	}{
		{"699", "699 what\r\n"},
		{"100", "100 continue\r\n"},
		{"150", "150 opening data connection\r\n"},
		{"mismatched continuation", "250-ok\r\n550 no\r\n"},
		{"continuation with another class", "250-ok\r\n350 ok\r\n"},
		{"no space after code, text glued", "250ok\r\n"},
		{"code alone with dash", "250-\r\n"},
		{"NUL in reply", "250 o\x00k\r\n"},
		{"bare LF lines, mismatched", "250-ok\n251 ok\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := clientFake(t, func(s *clientScript) {
				s.greetEHLO()
				s.expect("MAIL FROM:<a@example.org>")
				s.send(tc.mailReply)
				s.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
				rest, _ := io.ReadAll(s.br)
				assert.NotContains(t, string(rest), "DATA", "no body after a broken reply to MAIL")
			})
			hostileRun(t, func() {
				c := hostileDial(t, addr)
				res, err := c.Send(clientCtx(t), hostileEnv, strings.NewReader("hi"))
				require.Error(t, err, "a broken reply to MAIL is never a success")
				if res != nil {
					assert.Zero(t, res.Accepted())
				}
			})
		})
	}

	t.Run("reply with no command pending, pipelined send", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("PIPELINING")
			s.expect("MAIL FROM:<a@example.org>")
			s.expect("RCPT TO:<b@example.org>")
			s.expect("DATA")
			// Two replies too many, in the same segment.
			s.send("250 ok\r\n250 ok\r\n354 go\r\n250 2.0.0 early verdict\r\n250 extra\r\n")
			s.rest()
		})
		hostileRun(t, func() {
			c := hostileDial(t, addr)
			time.Sleep(20 * time.Millisecond)
			_, err := c.Send(clientCtx(t), hostileEnv, strings.NewReader("hi"))
			var pe *textproto.ProtocolError
			require.ErrorAs(t, err, &pe, "a verdict before the body is an injection, not a success")
		})
	})
	t.Run("reply with no command pending before Hello", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.send("220 fake\r\n250-fake\r\n250 PIPELINING\r\n")
			s.rest()
		})
		hostileRun(t, func() {
			c, err := Dial(clientCtx(t), addr, hostileShort)
			if err != nil {
				return // also fine: refused with the greeting
			}
			defer c.Close()
			time.Sleep(20 * time.Millisecond)
			var pe *textproto.ProtocolError
			require.ErrorAs(t, c.Hello(clientCtx(t), ""), &pe)
		})
	})
}

func TestHostileTransaction(t *testing.T) {
	t.Run("354 after every RCPT refused: no body", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("PIPELINING")
			s.expect("MAIL FROM:<a@example.org>")
			s.expect("RCPT TO:<b@example.org>")
			s.expect("DATA")
			s.send("250 ok\r\n550 5.1.1 no such user\r\n354 go ahead anyway\r\n")
			// Only the end of an empty body may follow, or RSET.
			if l := s.line(); l != "." && l != "RSET" {
				t.Errorf("after 354 with no recipient, got %q", l)
			}
			s.send("554 5.5.1 no valid recipients\r\n")
			assert.NotContains(t, s.rest(), "secret body")
		})
		hostileRun(t, func() {
			c := hostileDial(t, addr)
			res, err := c.Send(clientCtx(t), hostileEnv, strings.NewReader("secret body\r\n"))
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, 550, se.Code)
			assert.Zero(t, res.Accepted())
		})
	})
	t.Run("354 after every RCPT refused, SendMany", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("PIPELINING")
			s.expect("MAIL FROM:<a@example.org>")
			s.expect("RCPT TO:<b@example.org>")
			s.expect("DATA")
			s.send("250 ok\r\n550 5.1.1 no\r\n354 go\r\n")
			if l := s.line(); l != "." && l != "RSET" {
				t.Errorf("after 354 with no recipient, got %q", l)
			}
			assert.NotContains(t, s.rest(), "secret body")
		})
		hostileRun(t, func() {
			c, err := Dial(clientCtx(t), addr, &DialOptions{DisableChunking: true, CommandTimeout: time.Second, DataTermTimeout: time.Second})
			require.NoError(t, err)
			defer c.Close()
			res, _ := c.SendMany(clientCtx(t), []Message{{Envelope: *hostileEnv, Body: strings.NewReader("secret body\r\n")}})
			require.Len(t, res, 1)
			require.Error(t, res[0].Err)
		})
	})
	t.Run("BDAT LAST answered 250 with every RCPT refused", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("PIPELINING", "CHUNKING")
			s.expect("MAIL FROM:<a@example.org>")
			s.expect("RCPT TO:<b@example.org>")
			s.expect("BDAT 4 LAST")
			s.readN(4)
			s.send("250 ok\r\n550 5.1.1 no\r\n250 2.0.0 queued (liar)\r\n")
			s.rest()
		})
		hostileRun(t, func() {
			c := hostileDial(t, addr)
			res, err := c.Send(clientCtx(t), hostileEnv, strings.NewReader("hi\r\n"))
			require.Error(t, err, "no recipient was accepted: not a success")
			assert.Zero(t, res.Accepted())
			assert.Empty(t, res.Reply)
		})
	})
	t.Run("MAIL refused, RCPT 250, DATA 354", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("PIPELINING")
			s.expect("MAIL FROM:<a@example.org>")
			s.expect("RCPT TO:<b@example.org>")
			s.expect("DATA")
			s.send("550 5.7.1 no sender\r\n250 ok\r\n354 go\r\n")
			if l := s.line(); l != "." && l != "RSET" {
				t.Errorf("after 354 with MAIL refused, got %q", l)
			}
			s.send("250 2.0.0 queued (liar)\r\n")
			assert.NotContains(t, s.rest(), "secret body")
		})
		hostileRun(t, func() {
			c := hostileDial(t, addr)
			res, err := c.Send(clientCtx(t), hostileEnv, strings.NewReader("secret body\r\n"))
			var se *Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, 550, se.Code)
			assert.Zero(t, res.Accepted())
		})
	})

	// The connection drops right after the end of the body: the message
	// may or may not have been taken, so the client reports a temporary
	// failure (RFC 5321 section 3.8 and 4.1.1.4), never a success.
	for _, tc := range []struct {
		name string
		exts []string
		opts *DialOptions
		read func(s *clientScript)
		many bool
	}{
		{"DATA", []string{"PIPELINING"}, &DialOptions{DisableChunking: true}, func(s *clientScript) {
			s.expect("MAIL FROM:<a@example.org>")
			s.expect("RCPT TO:<b@example.org>")
			s.expect("DATA")
			s.send("250 ok\r\n250 ok\r\n354 go\r\n")
			s.body()
		}, false},
		{"DATA lock-step", nil, nil, func(s *clientScript) {
			s.expect("MAIL FROM:<a@example.org>")
			s.send("250 ok\r\n")
			s.expect("RCPT TO:<b@example.org>")
			s.send("250 ok\r\n")
			s.expect("DATA")
			s.send("354 go\r\n")
			s.body()
		}, false},
		{"BDAT LAST", []string{"PIPELINING", "CHUNKING"}, nil, func(s *clientScript) {
			s.expect("MAIL FROM:<a@example.org>")
			s.expect("RCPT TO:<b@example.org>")
			s.expect("BDAT 4 LAST")
			s.readN(4)
			s.send("250 ok\r\n250 ok\r\n")
		}, false},
		{"BDAT LAST lock-step", []string{"CHUNKING"}, nil, func(s *clientScript) {
			s.expect("MAIL FROM:<a@example.org>")
			s.send("250 ok\r\n")
			s.expect("RCPT TO:<b@example.org>")
			s.send("250 ok\r\n")
			s.expect("BDAT 4 LAST")
			s.readN(4)
		}, false},
		{"SendMany DATA", []string{"PIPELINING"}, &DialOptions{DisableChunking: true}, func(s *clientScript) {
			s.expect("MAIL FROM:<a@example.org>")
			s.expect("RCPT TO:<b@example.org>")
			s.expect("DATA")
			s.send("250 ok\r\n250 ok\r\n354 go\r\n")
			s.body()
		}, true},
		{"SendMany BDAT", []string{"PIPELINING", "CHUNKING"}, nil, func(s *clientScript) {
			s.expect("MAIL FROM:<a@example.org>")
			s.expect("RCPT TO:<b@example.org>")
			s.expect("BDAT 4 LAST")
			s.readN(4)
			s.send("250 ok\r\n250 ok\r\n")
		}, true},
	} {
		t.Run("dropped after the final dot/"+tc.name, func(t *testing.T) {
			t.Parallel()
			addr := clientFake(t, func(s *clientScript) {
				s.greetEHLO(tc.exts...)
				tc.read(s)
				s.conn.(*net.TCPConn).SetLinger(0)
			})
			hostileRun(t, func() {
				c, err := Dial(clientCtx(t), addr, tc.opts)
				require.NoError(t, err)
				defer c.Close()
				if tc.many {
					res, err := c.SendMany(clientCtx(t), []Message{{Envelope: *hostileEnv, Body: strings.NewReader("hi\r\n")}})
					require.Error(t, err)
					require.Len(t, res, 1)
					hostileCheckTemporary(t, res[0].Err)
					return
				}
				res, err := c.Send(clientCtx(t), hostileEnv, strings.NewReader("hi\r\n"))
				hostileCheckTemporary(t, err)
				if res != nil {
					assert.Empty(t, res.Reply)
				}
			})
		})
	}
}

// hostileCheckTemporary checks that err is a temporary 4xx failure.
func hostileCheckTemporary(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err, "a lost verdict is never a success")
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 4, se.Code/100, "%v", err)
	assert.True(t, se.Temporary())
}

// A server that never answers: the client's timeouts, or the caller's
// context, end the call within its bound.
func TestHostileSilentServer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		script  func(s *clientScript)
		opts    *DialOptions
		ctx     time.Duration // a context deadline for the call, when not 0
		act     func(ctx context.Context, c *Client) error
		noDial  bool
		wantCtx bool
	}{
		{name: "greeting", noDial: true, opts: &DialOptions{GreetingTimeout: 300 * time.Millisecond},
			script: func(s *clientScript) {
				s.rest()
				s.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				io.Copy(io.Discard, s.conn)
			}},
		{name: "greeting, context", noDial: true, ctx: 300 * time.Millisecond, wantCtx: true,
			script: func(s *clientScript) {
				s.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				io.Copy(io.Discard, s.conn)
			}},
		{name: "EHLO", opts: &DialOptions{CommandTimeout: 300 * time.Millisecond},
			script: func(s *clientScript) { s.send("220 fake\r\n"); s.line(); s.rest() },
			act:    func(ctx context.Context, c *Client) error { return c.Hello(ctx, "") }},
		{name: "final dot", opts: &DialOptions{DataTermTimeout: 300 * time.Millisecond},
			script: func(s *clientScript) {
				s.greetEHLO("PIPELINING")
				s.line()
				s.line()
				s.line()
				s.send("250 ok\r\n250 ok\r\n354 go\r\n")
				s.body()
				s.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				io.Copy(io.Discard, s.conn)
			},
			act: func(ctx context.Context, c *Client) error {
				_, err := c.Send(ctx, hostileEnv, strings.NewReader("hi\r\n"))
				return err
			}},
		{name: "final dot, context", ctx: 300 * time.Millisecond, wantCtx: true,
			script: func(s *clientScript) {
				s.greetEHLO("PIPELINING", "CHUNKING")
				s.line()
				s.line()
				s.line()
				s.readN(4)
				s.send("250 ok\r\n250 ok\r\n")
				s.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				io.Copy(io.Discard, s.conn)
			},
			act: func(ctx context.Context, c *Client) error {
				_, err := c.Send(ctx, hostileEnv, strings.NewReader("hi\r\n"))
				return err
			}},
		{name: "server stops reading the body", opts: &DialOptions{DataBlockTimeout: 300 * time.Millisecond, DisableChunking: true},
			script: func(s *clientScript) {
				s.greetEHLO("PIPELINING")
				s.line()
				s.line()
				s.line()
				s.send("250 ok\r\n250 ok\r\n354 go\r\n")
				time.Sleep(2 * time.Second) // reads nothing: the client's writes block
			},
			act: func(ctx context.Context, c *Client) error {
				_, err := c.Send(ctx, hostileEnv, io.LimitReader(hostileZeros{}, 256<<20))
				return err
			}},
		{name: "server stops reading BDAT chunks, context", ctx: 300 * time.Millisecond, wantCtx: true,
			script: func(s *clientScript) {
				s.greetEHLO("PIPELINING", "CHUNKING")
				time.Sleep(2 * time.Second)
			},
			act: func(ctx context.Context, c *Client) error {
				_, err := c.SendMany(ctx, []Message{
					{Envelope: *hostileEnv, Body: io.LimitReader(hostileZeros{}, 256<<20)},
					{Envelope: *hostileEnv, Body: strings.NewReader("x")},
				})
				return err
			}},
		{name: "AUTH", opts: &DialOptions{CommandTimeout: 300 * time.Millisecond},
			script: func(s *clientScript) { s.greetEHLO("AUTH PLAIN"); s.line(); s.rest() },
			act:    func(ctx context.Context, c *Client) error { return c.Auth(ctx, clientPlain("u", "p")) }},
		{name: "QUIT", opts: &DialOptions{CommandTimeout: 300 * time.Millisecond},
			script: func(s *clientScript) { s.greetEHLO(); s.line(); s.rest() },
			act:    func(ctx context.Context, c *Client) error { return c.Quit(ctx) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := clientFake(t, tc.script)
			hostileRun(t, func() {
				ctx := clientCtx(t)
				if tc.ctx > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.ctx)
					defer cancel()
				}
				start := time.Now()
				var err error
				if tc.noDial {
					_, err = Dial(ctx, addr, tc.opts)
				} else {
					dctx := clientCtx(t)
					c, derr := Dial(dctx, addr, tc.opts)
					require.NoError(t, derr)
					defer c.Close()
					if tc.name != "EHLO" {
						require.NoError(t, c.Hello(dctx, ""))
					}
					err = tc.act(ctx, c)
				}
				require.Error(t, err)
				if tc.wantCtx {
					require.ErrorIs(t, err, context.DeadlineExceeded)
				}
				t.Logf("ended after %v: %v", time.Since(start).Round(time.Millisecond), err)
			})
		})
	}
}

// hostileZeros is an endless body.
type hostileZeros struct{}

func (hostileZeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'z'
	}
	return len(p), nil
}

// A server that accepts the message and then drops the connection instead
// of answering QUIT has the message: SendMail must report success, or the
// caller would send it again.
func TestHostileDroppedAfterAcceptance(t *testing.T) {
	for _, tc := range []struct {
		name string
		exts []string
		read func(s *clientScript)
	}{
		{"DATA", []string{"PIPELINING"}, func(s *clientScript) {
			s.expect("MAIL FROM:<a@example.org>")
			s.expect("RCPT TO:<b@example.org>")
			s.expect("DATA")
			s.send("250 ok\r\n250 ok\r\n354 go\r\n")
			s.body()
		}},
		{"BDAT", []string{"PIPELINING", "CHUNKING"}, func(s *clientScript) {
			s.expect("MAIL FROM:<a@example.org>")
			s.expect("RCPT TO:<b@example.org>")
			s.expect("BDAT 4 LAST")
			s.readN(4)
			s.send("250 ok\r\n250 ok\r\n")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := clientFake(t, func(s *clientScript) {
				s.greetEHLO(tc.exts...)
				tc.read(s)
				s.send("250 2.0.0 queued as 12345\r\n")
				s.expect("QUIT")
				s.conn.(*net.TCPConn).SetLinger(0)
			})
			hostileRun(t, func() {
				err := SendMail(clientCtx(t), addr, nil, "a@example.org", []string{"b@example.org"}, []byte("hi\r\n"))
				require.NoError(t, err, "the server took the message")
			})
		})
	}
}

// A QUIT that the server answers by hanging up is not a lost transaction:
// Quit's error must not read as the temporary failure (451 4.4.2) that
// tells a caller to send the message again.
func TestHostileQuitDropped(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO()
		s.expect("QUIT")
		s.conn.(*net.TCPConn).SetLinger(0)
	})
	hostileRun(t, func() {
		c, err := Dial(clientCtx(t), addr, nil)
		require.NoError(t, err)
		require.NoError(t, c.Hello(clientCtx(t), ""))
		err = c.Quit(clientCtx(t))
		var se *Error
		assert.False(t, errors.As(err, &se), "Quit returned %v", err)
	})
}

// In LMTP each recipient gets its own verdict (RFC 2033 section 4.2): when
// the connection drops after the first, that recipient has the message
// and must read as delivered, the other as a temporary failure.
func TestHostileLMTPDroppedBetweenVerdicts(t *testing.T) {
	for _, pipelined := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelined=%v", pipelined), func(t *testing.T) {
			t.Parallel()
			addr := clientFake(t, func(s *clientScript) {
				s.send("220 lmtp.example\r\n")
				s.expect("LHLO localhost")
				s.send("250-lmtp.example\r\n250 PIPELINING\r\n")
				if pipelined {
					s.expect("MAIL FROM:<a@example.org>")
					s.expect("RCPT TO:<b@example.org>")
					s.expect("RCPT TO:<c@example.org>")
					s.expect("DATA")
					s.send("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n")
				} else {
					for _, l := range []string{"MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>", "RCPT TO:<c@example.org>"} {
						s.expect(l)
						s.send("250 ok\r\n")
					}
					s.expect("DATA")
					s.send("354 go\r\n")
				}
				s.body()
				s.send("250 2.0.0 <b@example.org> delivered\r\n")
				s.conn.(*net.TCPConn).SetLinger(0)
			})
			hostileRun(t, func() {
				c, err := Dial(clientCtx(t), addr, &DialOptions{LMTP: true, DisablePipelining: !pipelined})
				require.NoError(t, err)
				defer c.Close()
				res, _ := c.Send(clientCtx(t), &Envelope{From: "a@example.org", To: []string{"b@example.org", "c@example.org"}}, strings.NewReader("hi\r\n"))
				require.NotNil(t, res)
				require.Len(t, res.Recipients, 2)
				assert.NoError(t, res.Recipients[0].Err, "b@ has the message")
				hostileCheckTemporary(t, res.Recipients[1].Err)
			})
		})
	}
}

// hostileDial connects to a fake server with hostileShort's timeouts,
// requiring the greeting to go through, and closes the client at the
// end of the test.
func hostileDial(t *testing.T, addr string) *Client {
	t.Helper()
	c, err := Dial(clientCtx(t), addr, hostileShort)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}
