package compat

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSmtpSourceLoad loads our server with Postfix's smtp-source: 1000
// messages of 1 KiB over 10 parallel sessions, several messages per
// connection; every one must be stored, whole.
func TestSmtpSourceLoad(t *testing.T) {
	src := needBinary(t, "smtp-source")
	t.Parallel()
	srv := startOurs(t, recvConfig{})
	wire := newTap(t, srv.addr)
	const total = 1000
	out := runPeer(t, nil, src, "-d", "-s", "10", "-m", "1000", "-l", "1024",
		"-f", "alice@client.example", "-t", "bob@test.example", "-M", "client.example", wire.Addr)
	msgs := srv.rec.wait(t, total, 30*time.Second)
	require.Len(t, msgs, total, out)
	// smtp-source sends the same payload of digit-and-X lines each time,
	// under headers with a Message-Id of its own per message.
	first := bodyOf(msgs[0].Data)
	require.GreaterOrEqual(t, len(first), 1024, "%q", msgs[0].Data)
	require.Equal(t, -1, bytes.IndexFunc(first, func(r rune) bool {
		return r != 'X' && r != '\r' && r != '\n' && (r < '0' || r > '9')
	}), "%q", first)
	require.Equal(t, toCRLF(first), first, "every line ends with CRLF")
	ids := map[string]bool{}
	for i, m := range msgs {
		require.Equal(t, "alice@client.example", m.From, i)
		require.Equal(t, []string{"bob@test.example"}, m.To, i)
		requireSameBody(t, first, bodyOf(m.Data), "message %d", i)
		id := headerValue(m.Data, "Message-Id")
		require.NotEmpty(t, id, "message %d: %q", i, m.Data)
		require.False(t, ids[id], "message %d stored twice: %s", i, id)
		ids[id] = true
	}
	require.Len(t, ids, total)
	// -d -s 10: ten connections, each greeted once, carrying all of it.
	helos := 0
	for _, w := range wire.clientWrites() {
		helos += strings.Count("\n"+w, "\nHELO ") + strings.Count("\n"+w, "\nEHLO ")
	}
	require.Equal(t, 10, helos, "connections")
}

// headerValue returns the value of the first header field called name in
// msg, "" when there is none.
func headerValue(msg []byte, name string) string {
	for _, line := range bytes.Split(msg, []byte("\r\n")) {
		if len(line) == 0 {
			return ""
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte(name)) {
			return string(bytes.TrimSpace(v))
		}
	}
	return ""
}
