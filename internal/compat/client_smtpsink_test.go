package compat

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClientToSmtpSink sends with our client into Postfix's smtp-sink,
// which offers PIPELINING: MAIL, every RCPT and DATA must leave in one
// write, and the message smtp-sink dumps must end with ours.
func TestClientToSmtpSink(t *testing.T) {
	sink := needBinary(t, "smtp-sink")
	needRoot(t) // -u: smtp-sink drops to nobody, who must write the dumps
	t.Parallel()
	dir, err := os.MkdirTemp("", "pw-sink-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	addr := freeAddr(t)
	log := startPeer(t, addr, exec.Command(sink, "-u", "nobody", "-d", filepath.Join(dir, "msg."), addr, "64"))
	wire := newTap(t, addr)

	msg := testMessage("smtp-sink", false)
	to := []string{"bob@test.example", "carol@test.example"}
	res, trace, err := clientSend(t, wire.Addr, sendSpec{env: smtp.Envelope{To: to}}, msg)
	require.NoError(t, err, "%s\n%s", trace, log.String())
	require.Equal(t, 2, res.Accepted())
	assert.True(t, wire.pipelined("MAIL FROM:", "RCPT TO:<bob@", "RCPT TO:<carol@", "DATA\r\n"),
		"not pipelined:\n%s", wire.transcript())

	var dump []byte
	deadline := time.Now().Add(10 * time.Second)
	for dump == nil {
		files, _ := filepath.Glob(filepath.Join(dir, "msg.*"))
		if len(files) == 1 {
			dump, _ = os.ReadFile(files[0])
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtp-sink dumped %d files: %v\n%s", len(files), files, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// smtp-sink stores LF line ends and ends each dump with an empty line.
	require.True(t, bytes.HasSuffix(dump, append(toLF(msg), '\n')), "dump:\n%s", dump)
	requireSameBody(t, toLF(bodyOf(msg)), bytes.TrimSuffix(bodyOf(dump), []byte("\n")))
	// On the wire: the body dot-stuffed, then the terminator, nothing more.
	wrote := strings.Join(wire.clientWrites(), "")
	assert.Contains(t, wrote, "\r\n..a line that starts with a dot\r\n..\r\n...\r\n....three dots\r\n")
	assert.Contains(t, wrote, "\r\n-- \r\nAlice\r\n.\r\n")
}
