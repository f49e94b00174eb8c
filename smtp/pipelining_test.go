package smtp

import (
	"strings"
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
	newConn(s, conn).serve()
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
