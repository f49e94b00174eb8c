package compat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The pool under faults: three examples/server instances, behind HAProxy
// (balance leastconn) or as three hosts of the pool's list; the pool sends
// messages from many goroutines while one instance is killed with SIGKILL
// and started again. Afterwards every message the pool reported delivered
// must be in exactly one Maildir, every message it reported failed in
// none, and those it reported of unknown outcome (the final dot sent, no
// reply) are counted; the pool never sends one of those again, so they too
// are in one Maildir at most. POOL_FAULT_MESSAGES (default 600) sets the
// number of messages; 5000 is the full run.

// faultServer is one examples/server instance that can be killed and
// started again on the same address and Maildir.
type faultServer struct {
	t       *testing.T
	bin     string
	addr    string
	maildir string
	cmd     *exec.Cmd
	done    chan struct{}
	out     *lockedBuffer
}

func startFaultServer(t *testing.T, bin string) *faultServer {
	s := &faultServer{t: t, bin: bin, addr: freeAddr(t), maildir: filepath.Join(t.TempDir(), "maildir")}
	require.NoError(t, s.start())
	t.Cleanup(func() {
		if s.cmd == nil {
			return
		}
		s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	})
	return s
}

// start runs the instance and waits up to 15 s until it listens; it may
// run outside the test's goroutine, so it returns its error.
func (s *faultServer) start() error {
	s.out = &lockedBuffer{}
	s.cmd = exec.Command(s.bin, "-addr", s.addr, "-maildir", s.maildir, "-hostname", "mx.test.example")
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.done = make(chan struct{})
	cmd, done := s.cmd, s.done
	go func() { cmd.Wait(); close(done) }()
	for deadline := time.Now().Add(15 * time.Second); ; {
		if c, err := netDial(s.addr); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("examples/server exited before listening on %s:\n%s", s.addr, s.out.String())
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after 15 s:\n%s", s.addr, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the instance with SIGKILL, by its PID, and waits for it.
func (s *faultServer) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

// seqs counts, per sequence number, the messages in the Maildir's new/.
func (s *faultServer) seqs(t *testing.T, into map[int]int) {
	entries, err := os.ReadDir(filepath.Join(s.maildir, "new"))
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(s.maildir, "new", e.Name()))
		require.NoError(t, err)
		seq, ok := faultSeq(b)
		require.True(t, ok, "a stored message without its sequence number: %s", e.Name())
		into[seq]++
	}
}

const faultSeqHeader = "X-Pool-Seq: "

func faultMessage(seq int) []byte {
	return fmt.Appendf(nil, "From: app@client.example\r\nTo: bob@test.example\r\nSubject: fault %d\r\n%s%d\r\n\r\n"+
		"message %d of the fault test\r\n", seq, faultSeqHeader, seq, seq)
}

func faultSeq(stored []byte) (int, bool) {
	i := bytes.Index(stored, []byte(faultSeqHeader))
	if i < 0 {
		return 0, false
	}
	rest := stored[i+len(faultSeqHeader):]
	end := bytes.IndexByte(rest, '\r')
	if end < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(string(rest[:end]))
	return n, err == nil
}

// faultCounts are the pool's verdicts and what the Maildirs hold.
type faultCounts struct {
	delivered, failed, unknown int
	found, duplicates          int
}

// runFault sends n messages through p from 20 goroutines; when a third of
// them were answered it kills victim, and starts it again at half. It
// then checks the Maildirs of servers against the verdicts.
func runFault(t *testing.T, p *smtp.Pool, n int, victim *faultServer, servers []*faultServer) faultCounts {
	type verdict int
	const (
		delivered verdict = iota + 1
		failed
		unknown
	)
	verdicts := make([]verdict, n)
	var answered atomic.Int64
	kill, restart := make(chan struct{}), make(chan struct{})
	faultDone := make(chan error, 1)
	go func() {
		<-kill
		victim.kill()
		<-restart
		faultDone <- victim.start()
	}()
	var killOnce, restartOnce sync.Once

	work := make(chan int, n)
	for i := range n {
		work <- i
	}
	close(work)
	var wg sync.WaitGroup
	env := &smtp.Envelope{From: "app@client.example", To: []string{"bob@test.example"}}
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range work {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := p.Send(ctx, env, bytes.NewReader(faultMessage(seq)))
				cancel()
				switch {
				case err == nil:
					verdicts[seq] = delivered
				case errors.Is(err, smtp.ErrMaybeDelivered):
					verdicts[seq] = unknown
				default:
					verdicts[seq] = failed
				}
				switch a := answered.Add(1); {
				case a == int64(n/3):
					killOnce.Do(func() { close(kill) })
				case a == int64(n/2):
					restartOnce.Do(func() { close(restart) })
				}
			}
		}()
	}
	wg.Wait()
	killOnce.Do(func() { close(kill) })
	restartOnce.Do(func() { close(restart) })
	require.NoError(t, <-faultDone, "restarting the killed instance")
	require.NoError(t, p.Close())

	stored := map[int]int{}
	for _, s := range servers {
		s.seqs(t, stored)
	}
	var c faultCounts
	for seq, v := range verdicts {
		times := stored[seq]
		c.found += times
		if times > 1 {
			c.duplicates++
		}
		switch v {
		case delivered:
			c.delivered++
			assert.Equal(t, 1, times, "message %d was reported delivered", seq)
		case failed:
			c.failed++
			assert.Zero(t, times, "message %d was reported failed", seq)
		case unknown:
			c.unknown++
			assert.LessOrEqual(t, times, 1, "message %d of unknown outcome was never sent again", seq)
		default:
			t.Errorf("message %d has no verdict", seq)
		}
	}
	for seq := range stored {
		assert.True(t, seq >= 0 && seq < n, "a message that was never sent: %d", seq)
	}
	st := p.Stats()
	assert.Equal(t, uint64(c.delivered), st.Sent)
	assert.Equal(t, uint64(c.unknown), st.Unknown)
	assert.Equal(t, uint64(c.failed), st.Failed)
	assert.NotZero(t, st.Failures.Lost+st.Failures.Dial+st.Failures.Probe, "the kill went unnoticed")
	t.Logf("%d messages: delivered %d, failed %d, unknown %d; found in the Maildirs %d, duplicates %d; "+
		"pool: retried %d, connections lost %d, dial failures %d, dialled %d",
		n, c.delivered, c.failed, c.unknown, c.found, c.duplicates,
		st.Retried, st.Failures.Lost, st.Failures.Dial, st.Dialled)
	return c
}

func faultMessages(t *testing.T) int {
	n := 600
	if v := os.Getenv("POOL_FAULT_MESSAGES"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	return n
}

// TestPoolFaultHostList: the three instances are the pool's three hosts;
// the first, the busiest, is killed.
func TestPoolFaultHostList(t *testing.T) {
	bin := buildExample(t, "server")
	var servers []*faultServer
	var addrs []string
	for range 3 {
		s := startFaultServer(t, bin)
		servers = append(servers, s)
		addrs = append(addrs, s.addr)
	}
	p := &smtp.Pool{
		Addrs:           addrs,
		MaxConnsPerHost: 5,
		HostRetryDelay:  200 * time.Millisecond,
		DialOptions:     smtp.DialOptions{LocalName: "client.example", CommandTimeout: 10 * time.Second},
	}
	c := runFault(t, p, faultMessages(t), servers[0], servers)
	assert.NotZero(t, c.delivered)
}

// TestPoolFaultHAProxy: the three instances behind HAProxy (leastconn,
// health checks, redispatch); the pool has one host, HAProxy; one
// instance is killed.
func TestPoolFaultHAProxy(t *testing.T) {
	haproxy := needBinary(t, "haproxy")
	bin := buildExample(t, "server")
	var servers []*faultServer
	backends := ""
	for i := range 3 {
		s := startFaultServer(t, bin)
		servers = append(servers, s)
		backends += fmt.Sprintf("  server s%d %s check inter 100ms fall 1 rise 2\n", i, s.addr)
	}
	front := freeAddr(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf("global\n  log stdout format raw local0\n"+
		"defaults\n  mode tcp\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n"+
		"  retries 3\n  option redispatch\n"+
		"frontend f\n  bind %s\n  default_backend b\n"+
		"backend b\n  balance leastconn\n%s", front, backends)
	file := filepath.Join(dir, "haproxy.cfg")
	require.NoError(t, os.WriteFile(file, []byte(cfg), 0o644))
	out, err := runPeerErr(nil, haproxy, "-c", "-f", file)
	require.NoError(t, err, "%s\n%s", out, cfg)
	startPeer(t, front, exec.Command(haproxy, "-db", "-f", file))

	p := &smtp.Pool{
		Addrs:           []string{front},
		MaxConnsPerHost: 9, // three a backend, with leastconn
		HostRetryDelay:  200 * time.Millisecond,
		MaxAttempts:     5,
		DialOptions:     smtp.DialOptions{LocalName: "client.example", CommandTimeout: 10 * time.Second},
	}
	c := runFault(t, p, faultMessages(t), servers[1], servers)
	assert.NotZero(t, c.delivered)
}
