package compat

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/require"
)

// The pool benchmark: a service's load, many goroutines each sending 1 KiB
// messages into one server, through Postwire's Pool, through nodemailer's
// pooled transport (pool: true) with the same limits, and through go-smtp
// with one client (one connection) per goroutine, which is what its users
// write. Plain into Postfix's smtp-sink; with STARTTLS into examples/server
// -discard, since smtp-sink offers no STARTTLS. Each run reports messages a
// second and the client's CPU per message (getrusage for the Go clients,
// which run in this process while the server runs in its own;
// process.cpuUsage for Node.js).
//
// go test runs it briefly (POOL_BENCH_MESSAGES, default 500, one run);
// internal/compat/bench-pool.sh runs 10,000 messages five times and the
// table shows the medians.

const (
	poolBenchGoroutines = 50
	poolBenchMaxConns   = 5   // nodemailer's maxConnections default
	poolBenchMaxMsgs    = 100 // nodemailer's maxMessages default
)

// poolBenchMessage is a message of exactly 1 KiB: a header and lines of
// 70 letters, CRLF-terminated.
var poolBenchMessage = func() []byte {
	b := []byte("From: alice@client.example\r\nTo: bob@test.example\r\nSubject: pool benchmark\r\n\r\n")
	for len(b) < 1024 {
		line := bytes.Repeat([]byte{'a' + byte(len(b)%26)}, min(70, 1024-len(b)-2))
		b = append(append(b, line...), '\r', '\n')
	}
	return b
}()

// poolBenchResult is one run of one client.
type poolBenchResult struct {
	msgsPerSec float64
	cpuPerMsg  time.Duration
}

// poolBenchClient sends n copies of msg to addr from poolBenchGoroutines
// goroutines (or concurrent senders), over STARTTLS when starttls.
type poolBenchClient struct {
	impl string
	run  func(t *testing.T, addr string, n int, msg []byte, starttls bool) poolBenchResult
}

var poolBenchClients = []poolBenchClient{
	{"postwire-pool", poolBenchPostwire},
	{"nodemailer-pool", poolBenchNodemailer},
	{"gosmtp-per-goroutine", poolBenchGoSMTP},
}

// poolBenchSpread runs send for messages 0..n-1 from poolBenchGoroutines
// goroutines and returns the first error.
func poolBenchSpread(n int, send func(i int) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	work := make(chan int, n)
	for i := range n {
		work <- i
	}
	close(work)
	for range poolBenchGoroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := send(i); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("message %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func poolBenchPostwire(t *testing.T, addr string, n int, msg []byte, starttls bool) poolBenchResult {
	p := &smtp.Pool{
		Addrs:              []string{addr},
		MaxConnsPerHost:    poolBenchMaxConns,
		MaxMessagesPerConn: poolBenchMaxMsgs,
		RequireTLS:         starttls,
		DialOptions: smtp.DialOptions{
			LocalName: "client.example",
			TLSConfig: &tls.Config{InsecureSkipVerify: true},
		},
	}
	env := &smtp.Envelope{From: "alice@client.example", To: []string{"bob@test.example"}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	cpu0, t0 := selfCPU(), time.Now()
	err := poolBenchSpread(n, func(int) error {
		_, err := p.Send(ctx, env, bytes.NewReader(msg))
		return err
	})
	require.NoError(t, err)
	require.NoError(t, p.Close())
	wall, cpu := time.Since(t0), selfCPU()-cpu0
	st := p.Stats()
	require.Equal(t, uint64(n), st.Sent)
	return poolBenchResult{float64(n) / wall.Seconds(), cpu / time.Duration(n)}
}

func poolBenchGoSMTP(t *testing.T, addr string, n int, msg []byte, starttls bool) poolBenchResult {
	work := make(chan int, n)
	for i := range n {
		work <- i
	}
	close(work)
	cpu0, t0 := selfCPU(), time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, poolBenchGoroutines)
	for range poolBenchGoroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- poolBenchGoSMTPClient(addr, work, msg, starttls)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	wall, cpu := time.Since(t0), selfCPU()-cpu0
	return poolBenchResult{float64(n) / wall.Seconds(), cpu / time.Duration(n)}
}

// poolBenchGoSMTPClient is one goroutine's go-smtp client: one connection
// for every message it takes from work.
func poolBenchGoSMTPClient(addr string, work <-chan int, msg []byte, starttls bool) error {
	dial := gosmtp.Dial
	if starttls {
		dial = func(addr string) (*gosmtp.Client, error) {
			return gosmtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true})
		}
	}
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if !starttls {
		if err := c.Hello("client.example"); err != nil {
			return err
		}
	}
	for range work {
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
}

// nodemailerScript returns the benchmark's Node.js script, skipping the
// test when Node.js or nodemailer (installed by install-peers.sh) is
// missing.
func nodemailerScript(t *testing.T) string {
	t.Helper()
	needBinary(t, "node")
	dir, err := filepath.Abs(filepath.Join("testdata", "node"))
	require.NoError(t, err)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "nodemailer", "package.json")); err != nil {
		t.Skipf("nodemailer is not installed (run internal/compat/install-peers.sh): %v", err)
	}
	return filepath.Join(dir, "pool_bench.js")
}

func poolBenchNodemailer(t *testing.T, addr string, n int, msg []byte, starttls bool) poolBenchResult {
	script := nodemailerScript(t)
	mode := "plain"
	if starttls {
		mode = "starttls"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script, portOf(addr), strconv.Itoa(n),
		strconv.Itoa(poolBenchGoroutines), mode, strconv.Itoa(poolBenchMaxConns), strconv.Itoa(poolBenchMaxMsgs))
	cmd.Stdin = bytes.NewReader(msg)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node: %s", stderr.String())
	var r struct {
		Sent    int     `json:"sent"`
		Seconds float64 `json:"seconds"`
		CPUus   float64 `json:"cpu_us"`
	}
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(out), &r), "node printed %q", out)
	require.Equal(t, n, r.Sent)
	return poolBenchResult{float64(n) / r.Seconds, time.Duration(r.CPUus*1e3) / time.Duration(n)}
}

// poolBenchSink starts the server of a mode and returns its address.
func poolBenchSink(t *testing.T, starttls bool) string {
	if !starttls {
		if smtpSinkPath() == "" {
			t.Skip("Postfix's smtp-sink is not installed, or not root (it needs -u)")
		}
		addr, _ := startSmtpSink(t)
		return addr
	}
	addr, _ := startExampleServer(t, "-discard", "-tls-self-signed", "-hostname", "sink.test.example")
	return addr
}

// TestPoolBenchmark runs the pool benchmark and logs its table.
func TestPoolBenchmark(t *testing.T) {
	n, runs := 500, 1
	if v := os.Getenv("POOL_BENCH_MESSAGES"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	if v := os.Getenv("POOL_BENCH_RUNS"); v != "" {
		var err error
		runs, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	msg := poolBenchMessage
	var table strings.Builder
	fmt.Fprintf(&table, "%d messages of %d octets from %d goroutines, medians of %d run(s)\n", n, len(msg), poolBenchGoroutines, runs)
	fmt.Fprintf(&table, "%-9s %-22s %12s %14s\n", "mode", "client", "msgs/s", "CPU µs/msg")
	for _, starttls := range []bool{false, true} {
		mode := map[bool]string{false: "plain", true: "starttls"}[starttls]
		t.Run(mode, func(t *testing.T) {
			addr := poolBenchSink(t, starttls)
			results := make([][]poolBenchResult, len(poolBenchClients))
			for range runs {
				// The clients take turns in each run, so that noise from
				// the rest of the machine falls on all of them alike.
				for i, c := range poolBenchClients {
					if c.impl == "nodemailer-pool" {
						nodemailerScript(t)
					}
					results[i] = append(results[i], c.run(t, addr, n, msg, starttls))
				}
			}
			for i, c := range poolBenchClients {
				rate, cpu := poolBenchMedians(results[i])
				fmt.Fprintf(&table, "%-9s %-22s %12.0f %14.1f\n", mode, c.impl, rate, float64(cpu)/1e3)
			}
		})
	}
	t.Log("\n" + table.String())
}

// poolBenchMedians returns the median rate and CPU of runs.
func poolBenchMedians(runs []poolBenchResult) (float64, time.Duration) {
	rates := make([]float64, len(runs))
	cpus := make([]time.Duration, len(runs))
	for i, r := range runs {
		rates[i], cpus[i] = r.msgsPerSec, r.cpuPerMsg
	}
	slices.Sort(rates)
	slices.Sort(cpus)
	return rates[len(rates)/2], cpus[len(cpus)/2]
}
