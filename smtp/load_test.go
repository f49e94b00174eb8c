package smtp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// soak reports whether the long variants of the load and memory tests
// run: POSTWIRE_SOAK=1 in the environment.
func soak() bool { return os.Getenv("POSTWIRE_SOAK") == "1" }

// loadBackend accepts every sender and every recipient but refuse@...,
// and records the SHA-256 of each body it is given in full.
type loadBackend struct {
	mu  sync.Mutex
	got map[[32]byte]int
}

type loadSession struct{ b *loadBackend }

func (b *loadBackend) NewSession(*Conn) (Session, error) { return loadSession{b}, nil }

func (loadSession) Mail(context.Context, string, *MailOptions) error { return nil }

func (loadSession) Rcpt(_ context.Context, to string, _ *RcptOptions) error {
	if strings.HasPrefix(to, "refuse@") {
		return &Error{Code: 550, Enhanced: EnhancedCode{5, 1, 1}, Message: "No such user"}
	}
	return nil
}

func (s loadSession) Data(_ context.Context, r io.Reader) error {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return err
	}
	var sum [32]byte
	h.Sum(sum[:0])
	s.b.mu.Lock()
	s.b.got[sum]++
	s.b.mu.Unlock()
	return nil
}

func (loadSession) Reset()        {}
func (loadSession) Logout() error { return nil }

// loadBody makes a message of about size octets, unique by its first
// line, full of what the wire must carry safely: lines that start with
// dots, bare CRs and LFs, CRLF.CRLF, long and empty lines. It returns the
// body as given to the client and what the backend must receive: the
// client turns each bare CR and bare LF into CRLF (RFC 5321 section
// 2.3.8) and the server undoes the dot-stuffing. The body ends with a line
// ending, so that DATA and BDAT deliver the same octets.
func loadBody(rng *rand.Rand, id string, size int) (raw, want []byte) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Message-ID: <%s@load.test>\r\n\r\n", id)
	pieces := []string{".", "..", ".\r\n", "\r\n.\r\n", "\r", "\n", "\r\n", "\n.\n", "\r.\r", "\r\r\n", "\n\r", "x", "\t", " "}
	for b.Len() < size {
		if rng.IntN(3) == 0 {
			b.WriteString(pieces[rng.IntN(len(pieces))])
			continue
		}
		var word [8]byte
		for range rng.IntN(25) {
			v := rng.Uint64()
			for i := range word {
				word[i] = 'A' + byte(v>>(8*i))%58
			}
			b.Write(word[:])
		}
	}
	if rng.IntN(2) == 0 {
		b.WriteByte('\n')
	} else {
		b.WriteByte('\r')
	}
	raw = b.Bytes()
	want = make([]byte, 0, len(raw)+len(raw)/8)
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '\r':
			want = append(want, '\r', '\n')
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
		case '\n':
			want = append(want, '\r', '\n')
		default:
			want = append(want, raw[i])
		}
	}
	return raw, want
}

// TestLoadWithoutLoss has many clients send many messages of random
// sizes and contents at once, pipelined or in lock-step, with DATA or
// BDAT, one by one or with SendMany, some to a refused recipient only.
// Every message answered 250 must reach the backend byte for byte exactly
// once, and no other. POSTWIRE_SOAK=1 runs the full 200 clients of 50
// messages up to 1 MiB.
func TestLoadWithoutLoss(t *testing.T) {
	clients, perClient, maxSize := 20, 10, 256<<10
	if soak() {
		clients, perClient, maxSize = 200, 50, 1<<20
	}
	if testing.Short() {
		clients, perClient, maxSize = 4, 5, 64<<10
	}
	b := &loadBackend{got: make(map[[32]byte]int)}
	_, addr := srvStart(t, nil, func(s *Server) { s.Backend = b })

	type sent struct {
		sum      [32]byte
		accepted bool
	}
	var (
		mu         sync.Mutex
		all        []sent
		totalBytes int64
		wg         sync.WaitGroup
	)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for ci := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(ci), 42))
			opts := &DialOptions{
				DisablePipelining: rng.IntN(3) == 0,
				DisableChunking:   rng.IntN(2) == 0,
				ChunkSize:         []int{0, 4096, 100 << 10}[rng.IntN(3)],
			}
			c, err := Dial(ctx, addr, opts)
			if !assert.NoError(t, err) {
				return
			}
			defer c.Quit(ctx)
			for j := 0; j < perClient; {
				batch := 1
				if rng.IntN(2) == 0 {
					batch = min(1+rng.IntN(5), perClient-j)
				}
				msgs := make([]Message, batch)
				sums := make([][32]byte, batch)
				for k := range msgs {
					raw, want := loadBody(rng, fmt.Sprintf("%d.%d", ci, j+k), rng.IntN(maxSize))
					to := []string{"r@example.org"}
					switch rng.IntN(10) {
					case 0:
						to = []string{"refuse@example.org"}
					case 1:
						to = []string{"refuse@example.org", "r2@example.org"}
					}
					msgs[k] = Message{Envelope: Envelope{From: "s@example.org", To: to}, Body: bytes.NewReader(raw)}
					sums[k] = sha256.Sum256(want)
					mu.Lock()
					totalBytes += int64(len(want))
					mu.Unlock()
				}
				var results []SendResult
				if batch == 1 && rng.IntN(2) == 0 {
					res, err := c.Send(ctx, &msgs[0].Envelope, msgs[0].Body)
					if !assert.NotNil(t, res, "Send: %v", err) {
						return
					}
					results = []SendResult{*res}
				} else {
					results, err = c.SendMany(ctx, msgs)
					if !assert.NoError(t, err) {
						return
					}
				}
				mu.Lock()
				for k, r := range results {
					refusedOnly := msgs[k].To[0] == "refuse@example.org" && len(msgs[k].To) == 1
					assert.Equal(t, refusedOnly, r.Accepted() == 0, "message %d.%d: %v", ci, j+k, r.Err)
					assert.Equal(t, msgs[k].To[0] == "refuse@example.org", r.Err != nil, "message %d.%d: %v", ci, j+k, r.Err)
					all = append(all, sent{sums[k], r.Accepted() > 0})
				}
				mu.Unlock()
				j += batch
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	b.mu.Lock()
	defer b.mu.Unlock()
	accepted := 0
	want := make(map[[32]byte]bool)
	for _, m := range all {
		if m.accepted {
			accepted++
			want[m.sum] = true
			assert.Equal(t, 1, b.got[m.sum], "an accepted message must reach the backend exactly once")
		} else {
			assert.Zero(t, b.got[m.sum], "a refused message must not reach the backend")
		}
	}
	for sum, n := range b.got {
		assert.True(t, want[sum], "the backend got a message (%d times) no client had accepted", n)
	}
	require.Len(t, all, clients*perClient)
	t.Logf("%d clients x %d messages: %d accepted, %d refused, %.1f MiB in %v (%.1f MiB/s); peak RSS of the test process %s",
		clients, perClient, accepted, len(all)-accepted, float64(totalBytes)/(1<<20), elapsed.Round(time.Millisecond),
		float64(totalBytes)/(1<<20)/elapsed.Seconds(), loadPeakRSS())
}

// loadPeakRSS is VmHWM from /proc/self/status, or "unknown".
func loadPeakRSS() string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
