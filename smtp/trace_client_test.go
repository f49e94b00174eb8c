package smtp

import (
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// scriptedConn is a net.Conn whose reads return the given pieces in turn
// and whose writes are dropped.
type scriptedConn struct {
	net.Conn
	reads []string
}

func (s *scriptedConn) Read(p []byte) (int, error) {
	n := copy(p, s.reads[0])
	s.reads = s.reads[1:]
	return n, nil
}

func (s *scriptedConn) Write(p []byte) (int, error) { return len(p), nil }

// A reply that arrives while the client is in the middle of a line (a
// pipelined BDAT chunk written in pieces) goes on a line of its own, and
// the rest of the client's line is marked as its continuation: the two
// directions never share a line of DialOptions.Trace.
func TestClientTraceKeepsDirectionsApart(t *testing.T) {
	var out strings.Builder
	conn := &scriptedConn{reads: []string{"250 OK\r\n", "250 2.0.0 queued\r\n"}}
	tc := &clientTraceConn{Conn: conn, w: &out}
	buf := make([]byte, 64)

	tc.Write([]byte("BDAT 9 LAST\r\nli"))
	tc.Read(buf)
	tc.Write([]byte("ne one\r\n"))
	tc.Write([]byte("QUIT"))
	tc.Read(buf)
	tc.Write([]byte("\r\n"))

	assert.Equal(t, "C: BDAT 9 LAST\r\n"+
		"C: li\r\n"+
		"S: 250 OK\r\n"+
		"C+ ne one\r\n"+
		"C: QUIT\r\n"+
		"S: 250 2.0.0 queued\r\n"+
		"C+ \r\n", out.String())
	for _, line := range strings.SplitAfter(out.String(), "\r\n") {
		assert.False(t, strings.Contains(line, "C: ") && strings.Contains(line, "S: "), "one direction per line: %q", line)
	}
}
