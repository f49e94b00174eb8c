package compat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// postfixFlush is main.cf for a Postfix instance that relays
// flush.example to a server of ours (the port, %s), with fast flush (its ETRN
// service, the flush daemon of master.cf) for that domain, and retries so
// far apart that only ETRN can explain a second attempt within the test.
const postfixFlush = `myhostname = mx.test.example
relay_domains = flush.example
fast_flush_domains = $relay_domains
transport_maps = inline:{ flush.example=smtp:[127.0.0.1]:%s }
smtp_tls_security_level = none
smtp_connect_timeout = 2s
queue_run_delay = 3600s
minimal_backoff_time = 3600s
maximal_backoff_time = 3600s
`

// TestClientETRNPostfix: our Client's ETRN against Postfix's smtpd (RFC
// 1985). A message for flush.example is deferred while our receiving
// server is down; once it is up, ETRN flush.example makes Postfix's flush
// service deliver it at once (Postfix answers 250 "Queuing started"), and
// Postfix's log shows the delivery. A domain outside fast_flush_domains
// is refused with 459.
func TestClientETRNPostfix(t *testing.T) {
	needPostfix(t)
	needBinary(t, "sendmail")
	relayAddr := freeAddr(t) // our receiver, not listening yet
	smtpdAddr := freeAddr(t)
	pf := newPostfix(t, fmt.Sprintf(postfixFlush, portOf(relayAddr)),
		fmt.Sprintf("%s/inet=%s inet n - n - - smtpd", smtpdAddr, smtpdAddr))
	masterCF, err := os.ReadFile(filepath.Join(pf.etc, "master.cf"))
	require.NoError(t, err)
	require.Contains(t, string(masterCF), "\nflush ", "master.cf runs the flush service")
	waitListening(t, smtpdAddr, nil, &lockedBuffer{})

	pf.sendmail(t, []byte("Subject: held by Postfix\n\nflush me\n"), "sender@client.test", "user@flush.example")
	waitLogFor(t, pf, "status=deferred", 30*time.Second)
	// The delivery agent tells the flush service of the deferred message
	// just after logging the deferral; an ETRN before that finds nothing
	// to flush. The service's per-domain log file says when it knows.
	flushLog := filepath.Join(pf.dir, "spool", "flush", "flush_example") // Postfix writes the dots as _
	require.Eventually(t, func() bool {
		info, err := os.Stat(flushLog)
		return err == nil && info.Size() > 0
	}, 30*time.Second, 50*time.Millisecond, "the flush service never recorded the deferred message in %s: %v", flushLog, listDir(filepath.Join(pf.dir, "spool", "flush")))

	customer := &customerBackend{}
	startQueueServerOn(t, customer, "flush.example", relayAddr)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := smtp.Dial(ctx, smtpdAddr, &smtp.DialOptions{LocalName: "client.test"})
	require.NoError(t, err)
	defer c.Close()
	rep, err := c.ETRN(ctx, "flush.example")
	require.NoError(t, err)
	assert.Equal(t, 250, rep.Code)
	t.Logf("Postfix: %d %s", rep.Code, rep.Text)

	_, err = c.ETRN(ctx, "other.example")
	var se *smtp.Error
	require.True(t, errors.As(err, &se), "ETRN other.example: %v", err)
	assert.Equal(t, 459, se.Code, "a domain outside fast_flush_domains")
	require.NoError(t, c.Quit(ctx))

	log := waitLogFor(t, pf, "status=sent", 30*time.Second)
	t.Logf("Postfix's log:\n%s", log)
	assert.Contains(t, log, "relay=127.0.0.1[127.0.0.1]:"+portOf(relayAddr))
	// smtpd counts one ETRN accepted of two, and the queue manager took the
	// message up again right after the first attempt, not an hour later:
	// the flush service asked it to.
	assert.Contains(t, log, "etrn=1/2")
	assert.Contains(t, log, "reject: ETRN other.example")
	assert.Equal(t, 2, strings.Count(log, "(queue active)"), "deferred, then flushed")
	got := customer.Messages()
	require.Len(t, got, 1)
	assert.Equal(t, []string{"user@flush.example"}, got[0].To)
	assert.Contains(t, got[0].Body, "flush me")
}

// listDir names the files below dir, for a failure's message.
func listDir(dir string) []string {
	var names []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		names = append(names, path)
		return nil
	})
	return names
}

// waitLogFor waits until Postfix's log contains want and returns it.
func waitLogFor(t *testing.T, pf *postfix, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		log := pf.maillog()
		if strings.Contains(log, want) {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in Postfix's log after %v:\n%s", want, timeout, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
