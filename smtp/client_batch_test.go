package smtp

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientSendManyOnTheWire(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("PIPELINING")
		s.expect("MAIL FROM:<a@example.org>")
		s.expect("RCPT TO:<b@example.org>")
		s.expect("DATA")
		s.send("250 ok\r\n250 ok\r\n354 go\r\n")
		assert.Equal(t, "one\r\n.\r\n", s.body())
		// The next envelope came with the end of the first body.
		s.expect("MAIL FROM:<a@example.org>")
		s.expect("RCPT TO:<unknown@example.org>")
		s.expect("DATA")
		s.send("250 2.0.0 first queued\r\n250 ok\r\n550 5.1.1 unknown\r\n554 5.5.1 no valid recipients\r\n")
		// After a refused DATA the third message starts with RSET.
		s.expect("RSET")
		s.expect("MAIL FROM:<a@example.org>")
		s.expect("RCPT TO:<c@example.org>")
		s.expect("DATA")
		s.send("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n")
		assert.Equal(t, "three\r\n.\r\n", s.body())
		s.send("250 2.0.0 third queued\r\n")
	})
	c, rec := clientDialRecorded(t, addr, nil)
	ctx := clientCtx(t)
	require.NoError(t, c.Hello(ctx, ""))
	before := len(rec.Writes())
	msgs := []Message{
		{Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader("one\r\n")},
		{Envelope{From: "a@example.org", To: []string{"unknown@example.org"}}, strings.NewReader("two\r\n")},
		{Envelope{From: "a@example.org", To: []string{"bad\r\naddress"}}, strings.NewReader("never\r\n")},
		{Envelope{From: "a@example.org", To: []string{"c@example.org"}}, strings.NewReader("three\r\n")},
	}
	res, err := c.SendMany(ctx, msgs)
	require.NoError(t, err)
	require.Len(t, res, 4)
	assert.NoError(t, res[0].Err)
	assert.Equal(t, "first queued", res[0].Reply)
	var se *Error
	require.ErrorAs(t, res[1].Err, &se)
	assert.Equal(t, 550, se.Code)
	assert.ErrorContains(t, res[2].Err, "control byte")
	assert.NoError(t, res[3].Err)
	assert.Equal(t, "third queued", res[3].Reply)
	writes := rec.Writes()[before:]
	require.GreaterOrEqual(t, len(writes), 3)
	assert.Equal(t, "one\r\n.\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<unknown@example.org>\r\nDATA\r\n", writes[1],
		"the end of a body and the next envelope leave in one write")
}

func TestClientServerSendMany(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts DialOptions
	}{
		{"pipelined across messages", DialOptions{DisableChunking: true}},
		{"BDAT", DialOptions{}},
		{"BDAT small chunks", DialOptions{ChunkSize: 512}},
		{"LMTP BDAT", DialOptions{LMTP: true, ChunkSize: 512}},
		{"lock-step", DialOptions{DisableChunking: true, DisablePipelining: true}},
		{"LMTP", DialOptions{LMTP: true, DisableChunking: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := &clientBackend{}
			addr := clientServe(t, be, func(s *Server) { s.LMTP = tc.opts.LMTP }, nil)
			ctx := clientCtx(t)
			c, err := Dial(ctx, addr, &tc.opts)
			require.NoError(t, err)
			defer c.Close()
			long, short := clientTestBody(), "Subject: short\r\n\r\nhi\r\n"
			var msgs []Message
			want := map[string]int{}
			for i := range 75 { // more than clientWindow
				body := long
				if i%4 < 2 {
					body = short
				}
				to := []string{"b@example.org"}
				switch i % 3 {
				case 1:
					to = []string{"unknown@example.org"}
				case 2:
					to = []string{"unknown@example.org", "c@example.org"}
				}
				msgs = append(msgs, Message{Envelope{From: "a@example.org", To: to}, strings.NewReader(body)})
				if i%3 != 1 {
					want[body]++
				}
			}
			res, err := c.SendMany(ctx, msgs)
			require.NoError(t, err)
			for i, r := range res {
				switch i % 3 {
				case 1:
					assert.Error(t, r.Err, "message %d", i)
				case 2: // accepted for c@example.org only
					clientRequirePartial(t, r.Err, 1)
				default:
					assert.NoError(t, r.Err, "message %d", i)
				}
			}
			require.NoError(t, c.Noop(ctx))
			require.NoError(t, c.Quit(ctx))
			got := map[string]int{}
			for _, m := range be.all() {
				got[m.Body]++
			}
			assert.Equal(t, want, got, "every accepted body arrives byte for byte")
		})
	}
}

func BenchmarkClientSendManyPipelined(b *testing.B) {
	benchmarkClientSendMany(b, &DialOptions{DisableChunking: true})
}

func BenchmarkClientSendManyBDAT(b *testing.B) {
	benchmarkClientSendMany(b, &DialOptions{})
}

// benchmarkClientSendMany sends b.N 1 KiB messages over one connection in
// batches of 100; allocs/op and B/op are per message.
func benchmarkClientSendMany(b *testing.B, opts *DialOptions) {
	addr := clientSink(b)
	ctx := context.Background()
	c, err := Dial(ctx, addr, opts)
	require.NoError(b, err)
	defer c.Close()
	require.NoError(b, c.Hello(ctx, ""))
	msg := string(clientBenchMessage())
	const batch = 100
	readers := make([]strings.Reader, batch)
	msgs := make([]Message, batch)
	for i := range msgs {
		msgs[i] = Message{Envelope{From: "a@example.org", To: []string{"b@example.org"}}, &readers[i]}
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += batch {
		n := min(batch, b.N-sent)
		for i := range n {
			readers[i].Reset(msg)
		}
		res, err := c.SendMany(ctx, msgs[:n])
		if err != nil || res[n-1].Err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func TestClientSendManyConnectionLost(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("PIPELINING", "CHUNKING")
		s.expect("MAIL FROM:<a@example.org>")
		s.expect("RCPT TO:<b@example.org>")
		s.send("250 ok\r\n250 ok\r\n")
		// and the connection drops
	})
	c, err := Dial(clientCtx(t), addr, &DialOptions{})
	require.NoError(t, err)
	defer c.Close()
	msgs := []Message{
		{Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader("one\r\n")},
		{Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader("two\r\n")},
	}
	res, err := c.SendMany(clientCtx(t), msgs)
	require.Error(t, err)
	for i, r := range res {
		var se *Error
		require.ErrorAs(t, r.Err, &se, "message %d", i)
		assert.Equal(t, 451, se.Code)
		assert.True(t, se.Temporary())
	}
}
