package smtp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzClientSession plays an arbitrary server byte stream to the client,
// through a fake connection, while it runs Send, SendMany (with DATA or
// BDAT, pipelined or not, SMTP or LMTP) or Auth then Send, as mode says;
// seg is how many octets each read of the connection yields. Nothing may
// panic or hang, and every result must be either a success the stream
// backs with 250 replies (235 for AUTH) or an error that leaves no
// recipient looking accepted.
func FuzzClientSession(f *testing.F) {
	ok := "220 fake ESMTP\r\n250-fake\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-SIZE 1000\r\n250 AUTH PLAIN\r\n"
	f.Add(byte(0), byte(0), []byte(ok+"250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n"))
	f.Add(byte(4), byte(3), []byte(ok+"250 ok\r\n250 ok\r\n250 2.0.0 queued\r\n"))
	f.Add(byte(2), byte(7), []byte(ok+"235 2.7.0 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n"))
	f.Add(byte(1), byte(1), []byte(ok+strings.Repeat("250 ok\r\n250 ok\r\n354 go\r\n250 queued\r\n", 3)))
	f.Fuzz(func(t *testing.T, mode, seg byte, stream []byte) {
		conn := &fuzzClientConn{in: stream, seg: int(seg%64) + 1}
		done := make(chan struct{})
		go func() {
			defer close(done)
			fuzzClientRun(t, mode, conn)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			buf := make([]byte, 1<<20)
			t.Fatalf("the client hung on %q:\n%s", stream, buf[:runtime.Stack(buf, true)])
		}
	})
}

// fuzzClientRun runs one client session over conn as mode says and checks
// its results against what the client read.
func fuzzClientRun(t *testing.T, mode byte, conn *fuzzClientConn) {
	opts := &DialOptions{
		DisableChunking:   mode&4 != 0,
		DisablePipelining: mode&8 != 0,
		LMTP:              mode&16 != 0,
		ChunkSize:         16, // several chunks per body
		MaxReplyLines:     8,
		CommandTimeout:    time.Second, GreetingTimeout: time.Second,
		DataInitTimeout: time.Second, DataBlockTimeout: time.Second, DataTermTimeout: time.Second,
	}
	c, err := NewClient(conn, opts)
	if err != nil {
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	env := &Envelope{From: "a@example.org", To: []string{"b@example.org", "c@example.org"}}
	body := "Subject: x\r\n\r\n.leading dot\r\nbare\nLF and bare\rCR and a long enough line to need two chunks\r\n"

	switch mode % 4 {
	case 0, 2:
		if mode%4 == 2 {
			if err := c.Auth(ctx, clientPlain("user", "secret")); err == nil && !fuzzSawCode(conn.seen(), "235") {
				t.Fatalf("Auth succeeded without a 235 in %q", conn.seen())
			}
		}
		res, err := c.Send(ctx, env, strings.NewReader(body))
		fuzzCheckResult(t, conn, opts.LMTP, res, err, 1)
	case 1:
		msgs := []Message{
			{Envelope: *env, Body: strings.NewReader(body)},
			{Envelope: Envelope{From: "", To: []string{"d@example.org"}}, Body: strings.NewReader("x")},
			{Envelope: *env, Body: strings.NewReader(strings.Repeat("y", 100))},
		}
		results, err := c.SendMany(ctx, msgs)
		if len(results) != len(msgs) {
			t.Fatalf("SendMany returned %d results for %d messages", len(results), len(msgs))
		}
		succ := 0
		for i := range results {
			r := &results[i]
			if err != nil && r.Err == nil && i == len(results)-1 {
				t.Fatalf("SendMany failed (%v) yet its last message succeeded", err)
			}
			fuzzCheckResult(t, conn, opts.LMTP, r, r.Err, 0)
			if r.Err == nil {
				succ++
			}
		}
		if need := 1 + 2*succ; succ > 0 && fuzzCount250(conn.seen()) < need {
			t.Fatalf("%d messages succeeded with fewer than %d 250 replies in %q", succ, need, conn.seen())
		}
	case 3:
		if err := c.Mail(ctx, "a@example.org", nil); err != nil {
			return
		}
		if err := c.Rcpt(ctx, "b@example.org", nil); err != nil {
			return
		}
		w, err := c.Data(ctx)
		if err != nil {
			return
		}
		io.WriteString(w, body)
		if err := w.Close(); err == nil && fuzzCount250(conn.seen()) < 3 {
			t.Fatalf("Data succeeded with fewer than three 250 replies in %q", conn.seen())
		}
	}
}

// fuzzCheckResult checks one Send result: a success has at least one
// recipient accepted and, when min250 > 0, that many 250 replies behind
// it besides EHLO's; a failure has every recipient refused, but in LMTP
// those delivered before the connection was lost.
func fuzzCheckResult(t *testing.T, conn *fuzzClientConn, lmtp bool, res *SendResult, err error, min250 int) {
	if res == nil {
		if err == nil {
			t.Fatal("no result and no error")
		}
		return
	}
	var partial *RecipientsError
	if errors.As(err, &partial) && partial.Accepted > 0 {
		if partial.Accepted != res.Accepted() || res.Accepted() == len(res.Recipients) {
			t.Fatalf("a partial success (%v) that disagrees with its results: %+v", err, res)
		}
		err = nil
	}
	if err != nil {
		for _, r := range res.Recipients {
			// In LMTP a recipient whose own verdict was 250 keeps the
			// message when the connection is lost before the next one.
			if r.Err == nil && !(lmtp && fuzzCount250(conn.seen()) >= 3) {
				t.Fatalf("the send failed (%v) but %s looks accepted", err, r.Address)
			}
		}
		return
	}
	if res.Accepted() == 0 {
		t.Fatalf("a success with no recipient accepted: %+v", res)
	}
	if min250 > 0 && fuzzCount250(conn.seen()) < 1+2*min250 {
		t.Fatalf("a success with fewer than three 250 replies in %q", conn.seen())
	}
}

// fuzzCount250 counts the last lines of 250 replies in what was read.
func fuzzCount250(seen []byte) int {
	n := 0
	for _, l := range bytes.Split(seen, []byte("\n")) {
		l = bytes.TrimSuffix(l, []byte("\r"))
		if bytes.HasPrefix(l, []byte("250")) && (len(l) == 3 || l[3] == ' ') {
			n++
		}
	}
	return n
}

// fuzzSawCode reports whether a line of seen starts with code.
func fuzzSawCode(seen []byte, code string) bool {
	for _, l := range bytes.Split(seen, []byte("\n")) {
		if bytes.HasPrefix(l, []byte(code)) {
			return true
		}
	}
	return false
}

// fuzzClientConn is a net.Conn whose peer is a fixed byte stream, handed
// out seg octets per read, then io.EOF; writes are counted and dropped.
// A deadline in the past (how the client interrupts a call) fails reads
// and writes as the network would.
type fuzzClientConn struct {
	mu       sync.Mutex
	in       []byte
	off      int
	seg      int
	written  int
	closed   bool
	deadline time.Time
}

func (c *fuzzClientConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(); err != nil {
		return 0, err
	}
	if c.off == len(c.in) {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.seg)], c.in[c.off:])
	c.off += n
	return n, nil
}

func (c *fuzzClientConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(); err != nil {
		return 0, err
	}
	c.written += len(p)
	return len(p), nil
}

func (c *fuzzClientConn) check() error {
	switch {
	case c.closed:
		return net.ErrClosed
	case !c.deadline.IsZero() && time.Now().After(c.deadline):
		return os.ErrDeadlineExceeded
	}
	return nil
}

// seen is what the client has read so far.
func (c *fuzzClientConn) seen() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.in[:c.off]
}

func (c *fuzzClientConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

func (c *fuzzClientConn) SetDeadline(d time.Time) error {
	c.mu.Lock()
	c.deadline = d
	c.mu.Unlock()
	return nil
}

func (c *fuzzClientConn) SetReadDeadline(d time.Time) error  { return c.SetDeadline(d) }
func (c *fuzzClientConn) SetWriteDeadline(d time.Time) error { return c.SetDeadline(d) }
func (c *fuzzClientConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (c *fuzzClientConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25}
}
