package compat

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/require"
)

// clientBenchMessages is how many messages one benchmark op sends over one
// connection.
const clientBenchMessages = 2000

// benchMessage1K is a 1 KiB message as a client is given it (not stuffed).
var benchMessage1K = func() []byte {
	_, body := stuffedLines(1024 - 80)
	return body
}()

// senders are the clients compared: each dials addr, sends n copies of msg
// one after the other over that one connection, and says QUIT.
var senders = []struct {
	impl string
	send func(addr string, n int, msg []byte) error
}{
	{"postwire", func(addr string, n int, msg []byte) error {
		return postwireSend(addr, n, msg, false)
	}},
	// With CHUNKING, MAIL, RCPT and "BDAT n LAST" with the body leave in
	// one write: one round trip per message.
	{"postwire-bdat", func(addr string, n int, msg []byte) error {
		return postwireSend(addr, n, msg, true)
	}},
	// SendMany pipelines across messages: with DATA the end of a body
	// leaves with the next MAIL, RCPT and DATA (one round trip each).
	{"postwire-many", func(addr string, n int, msg []byte) error {
		return postwireSendMany(addr, n, msg, false)
	}},
	// SendMany with BDAT writes a window of messages before reading.
	{"postwire-many-bdat", func(addr string, n int, msg []byte) error {
		return postwireSendMany(addr, n, msg, true)
	}},
	{"gosmtp", func(addr string, n int, msg []byte) error {
		c, err := gosmtp.Dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Hello("client.example"); err != nil {
			return err
		}
		for range n {
			if err := c.Mail("alice@client.example", nil); err != nil {
				return err
			}
			if err := c.Rcpt("bob@test.example", nil); err != nil {
				return err
			}
			w, err := c.Data()
			if err != nil {
				return err
			}
			if _, err := w.Write(msg); err != nil {
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
		}
		return c.Quit()
	}},
}

// postwireSend sends n copies of msg over one connection with our client,
// with DATA (MAIL, RCPT and DATA pipelined, then the body) or with BDAT.
func postwireSend(addr string, n int, msg []byte, chunking bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := smtp.Dial(ctx, addr, &smtp.DialOptions{LocalName: "client.example", DisableChunking: !chunking})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello(ctx, ""); err != nil {
		return err
	}
	env := &smtp.Envelope{From: "alice@client.example", To: []string{"bob@test.example"}}
	r := bytes.NewReader(msg)
	for range n {
		r.Reset(msg)
		if _, err := c.Send(ctx, env, r); err != nil {
			return err
		}
	}
	return c.Quit(ctx)
}

// postwireSendMany sends n copies of msg over one connection with one call
// of our client's SendMany.
func postwireSendMany(addr string, n int, msg []byte, chunking bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := smtp.Dial(ctx, addr, &smtp.DialOptions{LocalName: "client.example", DisableChunking: !chunking})
	if err != nil {
		return err
	}
	defer c.Close()
	msgs := make([]smtp.Message, n)
	for i := range msgs {
		msgs[i] = smtp.Message{
			Envelope: smtp.Envelope{From: "alice@client.example", To: []string{"bob@test.example"}},
			Body:     bytes.NewReader(msg),
		}
	}
	results, err := c.SendMany(ctx, msgs)
	if err != nil {
		return err
	}
	for i, r := range results {
		if r.Err != nil {
			return fmt.Errorf("message %d: %w", i, r.Err)
		}
	}
	return c.Quit(ctx)
}

// BenchmarkClient sends 2000 messages of 1 KiB over one connection per op,
// with our client and go-smtp's, into the same sink: our server, then
// go-smtp's (both discarding what they receive).
func BenchmarkClient(b *testing.B) {
	for _, sink := range benchServers(b) {
		for _, s := range senders {
			b.Run("sink="+sink.impl+"/impl="+s.impl, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := s.send(sink.addr, clientBenchMessages, benchMessage1K); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*clientBenchMessages)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

// TestBenchSendersWork runs each benchmark client once into each sink and
// checks that the messages arrive whole.
func TestBenchSendersWork(t *testing.T) {
	for _, s := range senders {
		for _, sink := range []*receiver{startPostwire(t, recvConfig{}), startGoSMTP(t, recvConfig{})} {
			require.NoError(t, s.send(sink.addr, 3, benchMessage1K), s.impl)
			for _, m := range sink.rec.wait(t, 3, 5*time.Second) {
				requireSameBody(t, benchMessage1K, m.Data, s.impl)
			}
		}
	}
}
