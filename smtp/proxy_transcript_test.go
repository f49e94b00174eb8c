package smtp

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestProxyTranscripts replays testdata/transcripts/proxy/*.txt: sessions
// through the PROXY protocol and XCLIENT. They use the format of
// TestTranscripts (testdata/transcripts/README) with these differences:
//
//   - the greeting is never read by the harness: a session begins with
//     what the client sends first (a PROXY header) or with "S: 220";
//   - header directives "@proxy-trusted prefix..." and
//     "@xclient-trusted prefix..." set Server.ProxyTrusted and
//     Server.XCLIENTTrusted;
//   - session lines "!remote", "!local", "!helo" and "!login", each with
//     a Go-quoted string, check the backend's last Conn: RemoteAddr and
//     LocalAddr must start with it (ports may be random), Hostname and
//     the AUTH identity must equal it.
//
// (They would join TestTranscripts if its @server directive learnt to
// set []netip.Prefix fields and a directive stopped the greeting read.)
func TestProxyTranscripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "transcripts", "proxy", "*.txt"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			t.Parallel()
			runProxyTranscript(t, f)
		})
	}
}

func runProxyTranscript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	tr := &transcript{t: t, file: file, b: &srvBackend{}}

	var settings []func(*Server)
	body := len(lines)
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		tr.lineNo = i + 1
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !strings.HasPrefix(l, "@") {
			body = i
			break
		}
		fields := strings.Fields(l)
		switch fields[0] {
		case "@proxy-trusted", "@xclient-trusted":
			var prefixes []netip.Prefix
			for _, f := range fields[1:] {
				p, err := netip.ParsePrefix(f)
				if err != nil {
					tr.failf("%v", err)
				}
				prefixes = append(prefixes, p)
			}
			proxy := fields[0] == "@proxy-trusted"
			settings = append(settings, func(s *Server) {
				if proxy {
					s.ProxyTrusted = prefixes
				} else {
					s.XCLIENTTrusted = prefixes
				}
			})
		default:
			settings = append(settings, tr.directive(l))
		}
	}
	_, addr := srvStart(t, tr.b, func(s *Server) {
		for _, f := range settings {
			if f != nil {
				f(s)
			}
		}
	})
	tr.c = srvDial(t, addr)
	for i := body; i < len(lines); i++ {
		tr.lineNo = i + 1
		l := strings.TrimRight(lines[i], "\r")
		kind, arg, _ := strings.Cut(l, " ")
		switch kind {
		case "!remote", "!local", "!helo", "!login":
			tr.flush()
			want, err := strconv.Unquote(arg)
			if err != nil {
				tr.failf("%s wants a Go-quoted string: %v", kind, err)
			}
			tr.checkConn(kind, want)
		default:
			tr.step(l)
		}
	}
	tr.flush()
}

// checkConn checks one attribute of the backend's last Conn.
func (tr *transcript) checkConn(kind, want string) {
	tr.b.mu.Lock()
	c := tr.b.lastConn
	tr.b.mu.Unlock()
	if c == nil {
		tr.failf("%s: no session yet", kind)
	}
	var got string
	switch kind {
	case "!remote":
		got = c.RemoteAddr().String()
	case "!local":
		got = c.LocalAddr().String()
	case "!helo":
		got = c.Hostname()
	case "!login":
		id, _, _ := c.AuthIdentity()
		got = id.Authentication
	}
	ok := got == want
	if kind == "!remote" || kind == "!local" {
		ok = strings.HasPrefix(got, want)
	}
	if !ok {
		tr.failf("%s is %q, want %q", kind, got, want)
	}
}
