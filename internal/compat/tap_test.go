package compat

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tap is a TCP proxy between a client and a server that records each read
// in each direction, so that a test can see how the client grouped its
// commands into writes (pipelining) and print a transcript on failure.
type tap struct {
	Addr   string // where clients connect
	target string
	l      net.Listener

	mu     sync.Mutex
	chunks []chunk
	wg     sync.WaitGroup
}

// chunk is one read of the proxy: from the client (C) or the server (S).
type chunk struct {
	fromClient bool
	data       string
}

// newTap starts a tap in front of target; it stops when the test ends.
func newTap(t testing.TB, target string) *tap {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &tap{Addr: l.Addr().String(), target: target, l: l}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		l.Close()
		p.wg.Wait()
	})
	return p
}

func (p *tap) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		var both sync.WaitGroup
		both.Add(2)
		p.wg.Add(3)
		go p.pipe(c, s, true, &both)
		go p.pipe(s, c, false, &both)
		go func() {
			defer p.wg.Done()
			both.Wait()
			c.Close()
			s.Close()
		}()
	}
}

// pipe copies src to dst read by read, recording each, for at most two
// minutes; at the end of src it half-closes dst.
func (p *tap) pipe(src, dst net.Conn, fromClient bool, both *sync.WaitGroup) {
	defer p.wg.Done()
	defer both.Done()
	src.SetReadDeadline(time.Now().Add(2 * time.Minute))
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			p.chunks = append(p.chunks, chunk{fromClient, string(buf[:n])})
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				return
			}
		}
		if err != nil {
			if tc, ok := dst.(*net.TCPConn); ok && err == io.EOF {
				tc.CloseWrite()
			} else {
				dst.Close()
			}
			return
		}
	}
}

// clientWrites returns what the client sent, read by read.
func (p *tap) clientWrites() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, c := range p.chunks {
		if c.fromClient {
			out = append(out, c.data)
		}
	}
	return out
}

// pipelined reports whether some single read from the client held all of
// the given command prefixes (case-sensitive, at line starts). A client in
// lock-step waits for each reply, so its commands can never share a read.
func (p *tap) pipelined(prefixes ...string) bool {
	for _, w := range p.clientWrites() {
		all := true
		for _, pre := range prefixes {
			if !strings.HasPrefix(w, pre) && !strings.Contains(w, "\r\n"+pre) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// transcript renders the exchange as C:/S: lines, long data elided.
func (p *tap) transcript() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for i, c := range p.chunks {
		who := "S"
		if c.fromClient {
			who = "C"
		}
		data := c.data
		if len(data) > 600 {
			data = data[:300] + fmt.Sprintf("\n[... %d octets ...]\n", len(data)-600) + data[len(data)-300:]
		}
		fmt.Fprintf(&b, "--- read %d (%s)\n", i, who)
		for _, line := range strings.SplitAfter(data, "\n") {
			if line != "" {
				fmt.Fprintf(&b, "%s: %q\n", who, line)
			}
		}
	}
	return b.String()
}
