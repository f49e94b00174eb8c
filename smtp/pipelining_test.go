package smtp

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// srvWriteLog is a srvFakeConn that keeps each Write apart.
type srvWriteLog struct {
	srvFakeConn
	writes []string
}

func (c *srvWriteLog) Write(p []byte) (int, error) {
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

// RFC 2920 section 3.2: the replies to a group of pipelined commands go out
// together, when the server would otherwise wait for input; DATA's 354 is
// sent before the body is read.
func TestPipeliningRepliesBatched(t *testing.T) {
	s := &Server{Hostname: "mx.test", Backend: &srvBackend{}, Logger: srvQuietLogger}
	s.init()
	input := "EHLO client.test\r\n" +
		"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<unknown@example.org>\r\nDATA\r\n" +
		"body\r\n.\r\nNOOP\r\nQUIT\r\n"
	conn := &srvWriteLog{srvFakeConn: srvFakeConn{in: strings.NewReader(input)}}
	newConn(s, conn, context.Background()).serve()
	require.Len(t, conn.writes, 3, "writes: %q", conn.writes)
	assert.True(t, strings.HasPrefix(conn.writes[0], "220 "), "the greeting alone first")
	group := strings.Split(strings.TrimSuffix(conn.writes[1], "\r\n"), "\r\n")
	assert.True(t, strings.HasPrefix(group[0], "250-mx.test"))
	n := len(group)
	require.GreaterOrEqual(t, n, 5)
	assert.Equal(t, []string{"250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", "550 5.1.1 No such user"}, group[n-4:n-1])
	assert.True(t, strings.HasPrefix(group[n-1], "354 "), "354 ends the group: the body is read after it")
	assert.Equal(t, "250 2.0.0 OK: message accepted\r\n250 2.0.0 OK\r\n221 2.0.0 mx.test Service closing transmission channel\r\n", conn.writes[2])
}

// srvCountingListener counts the writes of every connection it accepts.
type srvCountingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *srvCountingListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &srvCountingConn{Conn: nc, writes: &l.writes}, nil
}

type srvCountingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *srvCountingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// NetConn exposes the TCP connection, as *tls.Conn does.
func (c *srvCountingConn) NetConn() net.Conn { return c.Conn }

// srvGroup is a pipelined group of about size octets: MAIL, then RCPTs,
// then NOOPs to make up the rest, with the number of replies it gets.
func srvGroup(size int) (string, int) {
	var b strings.Builder
	b.WriteString("MAIL FROM:<a@example.org>\r\n")
	n := 1
	for i := 0; b.Len()+31 <= size; i++ {
		fmt.Fprintf(&b, "RCPT TO:<r%04d@example.org>\r\n", i) // 31 octets
		n++
	}
	for b.Len()+6 <= size {
		b.WriteString("NOOP\r\n")
		n++
	}
	return b.String(), n
}

// However a group is split into reads, its replies leave in one write (RFC
// 2920 section 3.2): the server reads on while the last read filled its
// buffer and more input waits, and flushes only when the input runs dry.
// Groups of 100 to 4,000 octets, sent in one write each, are each
// answered in exactly one write; their replies stay within the 4 KiB
// write buffer.
func TestPipelinedGroupOneWrite(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cl := &srvCountingListener{Listener: l}
	s := &Server{Hostname: "mx.test", Backend: &srvBackend{}, Logger: srvQuietLogger, MaxRecipients: 200}
	go s.Serve(cl)
	t.Cleanup(func() { s.Close() })

	c := srvDial(t, l.Addr().String())
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	for _, size := range []int{100, 129, 200, 500, 1000, 2000, 3000, 4000} {
		group, replies := srvGroup(size)
		before := cl.writes.Load()
		_, err := io.WriteString(c.nc, group)
		require.NoError(t, err)
		for range replies {
			c.expect("250 ")
		}
		assert.Equal(t, int64(1), cl.writes.Load()-before, "group of %d octets (%d commands)", len(group), replies)
		c.cmd("RSET", "250 ")
	}
}
