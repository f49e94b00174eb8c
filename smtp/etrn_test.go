package smtp

import (
	"bufio"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestParseETRNNode: the node argument of RFC 1985 section 5, with its
// option characters, and what is refused.
func TestParseETRNNode(t *testing.T) {
	for arg, want := range map[string]ETRNNode{
		"example.org":      {Kind: ETRNHost, Name: "example.org"},
		"Mail.Example.ORG": {Kind: ETRNHost, Name: "Mail.Example.ORG"},
		"@example.org":     {Kind: ETRNSubdomains, Name: "example.org"},
		"#queue-1":         {Kind: ETRNQueue, Name: "queue-1"},
		"#@odd!":           {Kind: ETRNQueue, Name: "@odd!"},
	} {
		got, err := ParseETRNNode(arg)
		require.NoError(t, err, arg)
		assert.Equal(t, want, got, arg)
		assert.Equal(t, arg, got.String(), "String writes it back as it came")
	}
	for _, arg := range []string{
		"", "@", "#", "localname", "@localname", ".example.org", "example.org.", "example..org",
		"-a.example", "[192.0.2.1]", "@[192.0.2.1]", "a b.example", "#a b", "#a\tb",
		"bücher.example", "example.org\r\n", "a@b.example", "#" + string(make([]byte, 300)),
	} {
		_, err := ParseETRNNode(arg)
		assert.Error(t, err, "%q", arg)
	}
}

// FuzzParseETRNNode: a node that parses is written back as it came, parses
// again to the same node, and holds no byte that could break a reply line.
func FuzzParseETRNNode(f *testing.F) {
	for _, s := range []string{"example.org", "@example.org", "#queue", "localname", "@", "#", "a..b", "[1.2.3.4]", "bücher.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		n, err := ParseETRNNode(arg)
		if err != nil {
			return
		}
		if n.String() != arg {
			t.Fatalf("%q parsed to %+v, written back as %q", arg, n, n.String())
		}
		again, err := ParseETRNNode(n.String())
		if err != nil || again != n {
			t.Fatalf("%q: parsed again to %+v, %v", arg, again, err)
		}
		for i := 0; i < len(arg); i++ {
			if arg[i] <= ' ' || arg[i] >= 0x7f {
				t.Fatalf("%q: byte %#x accepted", arg, arg[i])
			}
		}
	})
}

// FuzzParseATRNDomains: what ATRN's argument parses to is a list of
// domains ParseETRNNode takes as hosts, which join back to the argument.
func FuzzParseATRNDomains(f *testing.F) {
	for _, s := range []string{"", "example.org", "example.org,example.net", "example.org,", ",", "a b.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		domains, ok := parseATRNDomains([]byte(arg))
		if !ok {
			return
		}
		if got := strings.Join(domains, ","); got != arg {
			t.Fatalf("%q parsed to %q", arg, domains)
		}
		for _, d := range domains {
			if n, err := ParseETRNNode(d); err != nil || n.Kind != ETRNHost {
				t.Fatalf("%q: domain %q is not a host node (%v)", arg, d, err)
			}
		}
	})
}

// FuzzServerQueueCommands feeds arbitrary input to a server whose session
// offers ETRN and ATRN: it never panics, and what it writes is well-formed
// replies up to ATRN's 250; after it the server is the client (RFC 2645
// section 5.3) and the rest of the input is the customer's replies, which
// must not make it panic either.
func FuzzServerQueueCommands(f *testing.F) {
	for _, s := range []string{
		"EHLO x\r\nETRN example.org\r\nETRN @example.org\r\nETRN #q\r\nETRN count.example\r\nETRN\r\nETRN a\r\n",
		"EHLO x\r\nATRN\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nATRN example.net\r\n220 c\r\n250 c\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n",
		"EHLO x\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nATRN\r\n220 c\r\n250-c\r\n250 PIPELINING\r\n250 ok\r\n550 no\r\n",
		"EHLO x\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nATRN example.org,x\r\nATRN empty.example\r\nATRN broken.example\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		s := &Server{
			Hostname: "mx.test", Backend: &srvBackend{etrn: true, odmr: true, noPanic: true},
			Logger: srvQuietLogger, AllowInsecureAuth: true, ReadTimeout: time.Second,
		}
		s.init()
		conn := &srvFakeConn{in: strings.NewReader(input)}
		newConn(s, conn, context.Background()).serve()
		if out := conn.out.String(); strings.Contains(out, "Internal error, closing connection") {
			t.Fatalf("server panicked:\n%s", out)
		}
		r := bufio.NewReader(&conn.out)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				break
			}
			if len(line) < 5 || !strings.HasSuffix(line, "\r\n") || line[3] != ' ' && line[3] != '-' {
				t.Fatalf("malformed reply line %q", line)
			}
			if strings.HasPrefix(line, "421 4.3.0") {
				t.Fatalf("server panicked: %q", line)
			}
			if strings.HasPrefix(line, "250 2.0.0 OK now reversing") {
				break
			}
		}
	})
}
