package smtp

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What MAIL declares for a body (RFC 6152 section 3, RFC 1870 section 6),
// and a streamed body that breaks its declaration.

const eightBitBody = "Subject: caf\xc3\xa9\r\n\r\nd\xc3\xa9j\xc3\xa0 vu\r\n"

func TestClientEightBitBodyNeeds8BITMIME(t *testing.T) {
	for _, tc := range []struct {
		name string
		body func() io.Reader
	}{
		{"strings.Reader", func() io.Reader { return strings.NewReader(eightBitBody) }},
		{"bytes.Reader", func() io.Reader { return bytes.NewReader([]byte(eightBitBody)) }},
		{"bytes.Buffer", func() io.Reader { return bytes.NewBufferString(eightBitBody) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := clientFake(t, func(s *clientScript) {
				s.greetEHLO("PIPELINING")
				s.expect("QUIT") // refused before MAIL
				s.send("221 bye\r\n")
			})
			c, err := Dial(clientCtx(t), addr, nil)
			require.NoError(t, err)
			defer c.Close()
			_, err = c.Send(clientCtx(t), &Envelope{From: "a@example.org", To: []string{"b@example.org"}}, tc.body())
			require.ErrorIs(t, err, ErrBodyNotAllowed)
			assert.Contains(t, err.Error(), "8BITMIME")
			require.NoError(t, c.Quit(clientCtx(t)))
		})
	}
}

func TestClientEightBitBodyDeclaredAndSized(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("8BITMIME", "SIZE 1000")
		s.expect("MAIL FROM:<a@example.org> SIZE=" + itoa(len(eightBitBody)) + " BODY=8BITMIME")
		s.send("250 ok\r\n")
		s.expect("RCPT TO:<b@example.org>")
		s.send("250 ok\r\n")
		s.expect("DATA")
		s.send("354 go on\r\n")
		assert.Equal(t, eightBitBody+".\r\n", s.body())
		s.send("250 queued\r\n")
		s.expect("QUIT")
		s.send("221 bye\r\n")
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Send(clientCtx(t), &Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader(eightBitBody))
	require.NoError(t, err)
	require.NoError(t, c.Quit(clientCtx(t)))
}

// A bare LF goes as CRLF, and a body without a last line ending gets one:
// SIZE counts the octets as they go.
func TestClientSizeCountsLineEndings(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("SIZE 1000")
		s.expect("MAIL FROM:<a@example.org> SIZE=12") // "a\r\nb\r\nc\r\nd\r\n"
		s.send("550 no\r\n")
		s.expect("QUIT")
		s.send("221 bye\r\n")
	})
	c, err := Dial(clientCtx(t), addr, &DialOptions{DisablePipelining: true})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Send(clientCtx(t), &Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader("a\nb\r\nc\rd"))
	require.Error(t, err)
	require.NoError(t, c.Quit(clientCtx(t)))
}

func TestClientKnownBodyOverSIZE(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("SIZE 10")
		s.expect("QUIT") // refused before MAIL
		s.send("221 bye\r\n")
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Send(clientCtx(t), &Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader(limitsBody))
	require.ErrorIs(t, err, ErrBodyNotAllowed)
	require.NoError(t, c.Quit(clientCtx(t)))
}

func TestClientNULNeedsBinaryMIME(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("8BITMIME")
		s.expect("QUIT")
		s.send("221 bye\r\n")
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Send(clientCtx(t), &Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader("a\x00b\r\n"))
	require.ErrorIs(t, err, ErrBodyNotAllowed)
	require.NoError(t, c.Quit(clientCtx(t)))
}

// A streamed body declared 7-bit (no BODY=) that turns out 8-bit is never
// ended: the server gets no final dot and gives no 250.
func TestClientStreamedBodyBreaksDeclaration(t *testing.T) {
	for _, chunking := range []bool{false, true} {
		name := map[bool]string{false: "DATA", true: "BDAT"}[chunking]
		t.Run(name, func(t *testing.T) {
			got := make(chan string, 1)
			addr := clientFake(t, func(s *clientScript) {
				exts := []string{"8BITMIME"}
				if chunking {
					exts = append(exts, "CHUNKING")
				}
				s.greetEHLO(exts...)
				s.expect("MAIL FROM:<a@example.org>")
				s.send("250 ok\r\n")
				s.expect("RCPT TO:<b@example.org>")
				s.send("250 ok\r\n")
				var sent string
				if chunking {
					hdr := s.line() // the first chunk, all ASCII
					n := 0
					for _, d := range strings.TrimPrefix(hdr, "BDAT ") {
						n = n*10 + int(d-'0')
					}
					sent = hdr + s.readN(n)
					s.send("250 ok\r\n")
				} else {
					s.expect("DATA")
					s.send("354 go on\r\n")
				}
				got <- sent + s.rest()
			})
			c, err := Dial(clientCtx(t), addr, &DialOptions{DisablePipelining: true})
			require.NoError(t, err)
			defer c.Close()
			ascii := strings.Repeat("plain ascii line\r\n", 4000) // more than one read
			body := io.MultiReader(strings.NewReader(ascii), strings.NewReader(eightBitBody))
			_, err = c.Send(clientCtx(t), &Envelope{From: "a@example.org", To: []string{"b@example.org"}}, body)
			require.ErrorIs(t, err, ErrBodyNotAllowed)
			rest := <-got
			assert.NotContains(t, rest, "\xc3", "the 8-bit octets were not sent")
			assert.NotContains(t, rest, "\r\n.\r\n", "the body was not ended")
			assert.NotContains(t, rest, "LAST", "the body was not ended")
		})
	}
}

func itoa(n int) string {
	var b []byte
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
