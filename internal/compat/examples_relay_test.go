package compat

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The relay's user in these tests: a submission account whose name is
// the envelope sender it may use.
const (
	relayUser = "alice@client.example"
	relayPass = "secret"
)

// exampleRelay is examples/relay running as a process.
type exampleRelay struct {
	submission, submissions string // 587-like (STARTTLS) and 465-like (implicit TLS) addresses
	log                     *lockedBuffer
}

// startExampleRelay builds and runs examples/relay on free ports with a
// self-signed certificate, the user relayUser, and the given flags (the
// upstream among them).
func startExampleRelay(t *testing.T, flags ...string) *exampleRelay {
	t.Helper()
	bin := buildExample(t, "relay")
	r := &exampleRelay{submission: freeAddr(t), submissions: freeAddr(t)}
	args := append([]string{"-addr", r.submission, "-tls-addr", r.submissions, "-hostname", "relay.test.example",
		"-tls-self-signed", "-users", relayUser + ":" + relayPass}, flags...)
	r.log = startPeer(t, r.submission, exec.Command(bin, args...))
	waitListening(t, r.submissions, nil, r.log)
	return r
}

// swaksThroughRelay submits the message file through r with swaks:
// STARTTLS (or implicit TLS) and AUTH PLAIN as relayUser; extra goes last.
func swaksThroughRelay(t *testing.T, r *exampleRelay, implicit bool, file string, extra ...string) (string, error) {
	t.Helper()
	swaks := needBinary(t, "swaks")
	addr, tlsFlag := r.submission, "-tls"
	if implicit {
		addr, tlsFlag = r.submissions, "--tls-on-connect"
	}
	args := append([]string{"-s", "127.0.0.1", "-p", portOf(addr), tlsFlag, "-a", "PLAIN", "-au", relayUser, "-ap", relayPass,
		"-f", relayUser, "-t", "bob@test.example", "--helo", "laptop.client.example", "--data", "@" + file, "--suppress-data", "--timeout", "30"}, extra...)
	return runPeerErr(nil, swaks, args...)
}

// messageFile writes msg for swaks, which adds the final CRLF itself.
func messageFile(t *testing.T, msg []byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "msg.eml")
	require.NoError(t, os.WriteFile(file, bytes.TrimSuffix(msg, []byte("\r\n")), 0o644))
	return file
}

// queuedAs finds the queue id the relay logged for a relayed message.
var queuedAs = regexp.MustCompile(`msg="message relayed" user=(\S+) .* upstream_reply="(?:OK|Ok): (?:\d+ bytes )?queued as ([^"\s]+)"`)

// TestRelayToExampleServer: swaks and Python's smtplib submit through
// examples/relay into examples/server. Each cell checks the message
// stored byte for byte, and that the relay's log names the user and the
// queue id examples/server answered with, which is the stored file's name.
func TestRelayToExampleServer(t *testing.T) {
	for _, implicit := range []bool{false, true} {
		name := "swaks-starttls"
		if implicit {
			name = "swaks-implicit-tls"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			upAddr, dir := startExampleServer(t)
			r := startExampleRelay(t, "-upstream", upAddr, "-upstream-tls", "none")
			msg := testMessage("relay "+name, true)
			out, err := swaksThroughRelay(t, r, implicit, messageFile(t, msg))
			require.NoError(t, err, out)
			requireOneStored(t, dir, msg, out)
			requireRelayLogged(t, r, dir)
		})
	}

	t.Run("smtplib", func(t *testing.T) {
		t.Parallel()
		py := python3(t)
		upAddr, dir := startExampleServer(t)
		r := startExampleRelay(t, "-upstream", upAddr, "-upstream-tls", "none")
		msg := testMessage("relay smtplib", true)
		file := filepath.Join(t.TempDir(), "msg.eml")
		require.NoError(t, os.WriteFile(file, msg, 0o644))
		out := runPeer(t, nil, py, "-c", smtplibSubmit, portOf(r.submission), relayUser, relayPass, file, "1")
		requireOneStored(t, dir, msg, out)
		requireRelayLogged(t, r, dir)
	})

	t.Run("refused-sender-and-recipient", func(t *testing.T) {
		t.Parallel()
		upAddr, dir := startExampleServer(t, "-max-rcpt", "1")
		r := startExampleRelay(t, "-upstream", upAddr, "-upstream-tls", "none")
		file := messageFile(t, testMessage("relay refusals", true))

		out, err := swaksThroughRelay(t, r, false, file, "-f", "mallory@client.example")
		require.Error(t, err, out)
		assert.Contains(t, out, "553 5.7.1 Sender address <mallory@client.example> not owned by user "+relayUser)

		// examples/server takes one recipient per message: the second
		// gets its 452, through the relay.
		out, _ = swaksThroughRelay(t, r, false, file, "-t", "bob@test.example,carol@test.example")
		assert.Contains(t, out, "452 4.5.3", out)
		stored := requireOneStored(t, dir, testMessage("relay refusals", true), out)
		assert.Contains(t, string(stored), "for <bob@test.example>")
	})

	t.Run("upstream-drops-mid-data", func(t *testing.T) {
		t.Parallel()
		upAddr, dir := startExampleServer(t)
		cut := startCuttingProxy(t, upAddr, 64<<10)
		r := startExampleRelay(t, "-upstream", cut, "-upstream-tls", "none")
		msg := append(testMessage("relay cut", false), bytes.Repeat([]byte(strings.Repeat("y", 70)+"\r\n"), 15000)...)
		out, err := swaksThroughRelay(t, r, false, messageFile(t, msg))
		require.Error(t, err, out)
		assert.Regexp(t, `<[~*]\* +451 4\.4\.2 `, out, "the client gets a temporary failure after the dot")
		assert.Empty(t, maildirMessages(t, dir), "stored nowhere")
		assert.Contains(t, r.log.String(), "upstream connection lost")
	})

	t.Run("100-concurrent-clients", func(t *testing.T) {
		t.Parallel()
		py := python3(t)
		upAddr, dir := startExampleServer(t)
		r := startExampleRelay(t, "-upstream", upAddr, "-upstream-tls", "none")
		file := filepath.Join(t.TempDir(), "msg.eml")
		require.NoError(t, os.WriteFile(file, testMessage("relay load", false), 0o644))
		out := runPeer(t, nil, py, "-c", smtplibSubmit, portOf(r.submission), relayUser, relayPass, file, "100")
		msgs := maildirMessages(t, dir)
		require.Len(t, msgs, 100, out)
		seen := map[string]bool{}
		for _, m := range msgs {
			i := bytes.Index(m, []byte("X-Client: "))
			require.GreaterOrEqual(t, i, 0)
			n := string(m[i : i+bytes.IndexByte(m[i:], '\r')])
			assert.False(t, seen[n], "%s stored twice", n)
			seen[n] = true
		}
		assert.Equal(t, 100, strings.Count(r.log.String(), `msg="message relayed"`))
	})

	t.Run("xclient", func(t *testing.T) {
		t.Parallel()
		upAddr, dir := startExampleServer(t, "-xclient", "127.0.0.1/32")
		r := startExampleRelay(t, "-upstream", upAddr, "-upstream-tls", "none", "-upstream-xclient")
		msg := testMessage("relay xclient", true)
		out, err := swaksThroughRelay(t, r, false, messageFile(t, msg), "--local-interface", "127.0.0.9")
		require.NoError(t, err, out)
		stored := string(requireOneStored(t, dir, msg, out))
		assert.Contains(t, stored, "Received: from laptop.client.example ([127.0.0.9])", "the original client, not the relay")
		// examples/server's own log is its process output: the server
		// was started by startExampleServer, which keeps no handle, so
		// the stored trace field is what tells; the relay logs the user.
		requireRelayLogged(t, r, dir)
	})
}

// requireRelayLogged checks that the relay logged the user and the queue
// id that examples/server gave: the name of the one file in dir/new.
func requireRelayLogged(t *testing.T, r *exampleRelay, dir string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "new"))
	require.NoError(t, err)
	require.Len(t, entries, 1)
	m := queuedAs.FindStringSubmatch(r.log.String())
	require.NotNil(t, m, r.log.String())
	assert.Equal(t, relayUser, m[1])
	assert.Equal(t, entries[0].Name(), m[2])
}

// smtplibSubmit submits through the relay with Python's smtplib as a
// user would: STARTTLS (the relay's certificate is self-signed, so not
// verified), login(), sendmail(). With a count above 1 it runs that many
// clients at once in threads, each with its own X-Client header.
// Arguments: PORT USER PASSWORD MSGFILE COUNT.
const smtplibSubmit = `
import smtplib, ssl, sys, threading
port, user, password, msgfile, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
raw = open(msgfile, "rb").read()
errors = []
def send(i):
    try:
        msg = raw if count == 1 else b"X-Client: %d\r\n" % i + raw
        with smtplib.SMTP("127.0.0.1", int(port), local_hostname="laptop.client.example", timeout=60) as s:
            s.starttls(context=ctx)
            s.login(user, password)
            refused = s.sendmail(user, ["bob@test.example"], msg)
            assert not refused, refused
    except Exception as e:
        errors.append("client %d: %r" % (i, e))
threads = [threading.Thread(target=send, args=(i,)) for i in range(count)]
for t in threads: t.start()
for t in threads: t.join()
if errors:
    print("\n".join(errors)); sys.exit(1)
print("sent", count)
`

// startCuttingProxy forwards TCP connections to target and cuts each one
// (both ways) once limit octets have gone towards target: an upstream
// that drops in the middle of a body. It returns its address.
func startCuttingProxy(t *testing.T, target string, limit int64) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				in.Close()
				continue
			}
			var closed atomic.Bool
			cutBoth := func() {
				if closed.CompareAndSwap(false, true) {
					in.Close()
					out.Close()
				}
			}
			wg.Add(2)
			go func() { defer wg.Done(); io.CopyN(out, in, limit); cutBoth() }()
			go func() { defer wg.Done(); io.Copy(in, out); cutBoth() }()
		}
	}()
	return l.Addr().String()
}

// TestRelayToPostfix: swaks submits through examples/relay into a Postfix
// smtpd, with STARTTLS (its certificate verified) and AUTH to Postfix;
// the relay's log carries Postfix's queue id, which Postfix's own log
// shows for the message. Then a recipient Postfix refuses, an upstream
// connection cut mid-body, and XCLIENT, after which Postfix logs the
// original client.
func TestRelayToPostfix(t *testing.T) {
	needBinary(t, "swaks")
	needPostfix(t)
	addr := freeAddr(t)
	port := portOf(addr)
	pf := newPostfix(t, postfixReceiver+"smtpd_authorized_xclient_hosts = 127.0.0.1/32\n",
		fmt.Sprintf("127.0.0.1:%s/inet=127.0.0.1:%s inet n - n - - smtpd", port, port))
	waitListening(t, addr, nil, &lockedBuffer{})
	toPostfix := []string{"-upstream", addr, "-upstream-tls", "starttls", "-upstream-ca", shared.certFile}

	t.Run("starttls-auth", func(t *testing.T) {
		r := startExampleRelay(t, append(toPostfix, "-upstream-user", "alice@test.example", "-upstream-password", "secret")...)
		msg := testMessage("relay postfix auth", true)
		out, err := swaksThroughRelay(t, r, false, messageFile(t, msg))
		require.NoError(t, err, out)
		stored := pf.findMessage(t, "relay postfix auth", 20*time.Second)
		requireSameBody(t, bodyOf(toCRLF(msg)), bodyOf(toCRLF(stored)))
		m := queuedAs.FindStringSubmatch(r.log.String())
		require.NotNil(t, m, r.log.String())
		assert.Equal(t, relayUser, m[1])
		log := pf.waitLog(t, m[2]+": client=", 1, 10*time.Second)
		line := log[strings.Index(log, m[2]+": client="):]
		line = line[:strings.IndexByte(line, '\n')]
		t.Log("relay: ", m[0], "\nPostfix: ", line)
		assert.Contains(t, line, "[127.0.0.1]", "Postfix's queue id, in the relay's log, is the relay's connection")
		assert.Contains(t, log, "sasl_username=alice@test.example")
	})

	t.Run("refused-recipient", func(t *testing.T) {
		r := startExampleRelay(t, toPostfix...)
		out, _ := swaksThroughRelay(t, r, true, messageFile(t, testMessage("relay postfix refused", false)),
			"-t", "nobody@test.example,carol@test.example")
		assert.Contains(t, out, "554 5.7.1 <nobody@test.example>: Recipient address rejected: Access denied", out)
		stored := pf.findMessage(t, "relay postfix refused", 20*time.Second)
		assert.Contains(t, string(stored), "carol@test.example")
	})

	t.Run("upstream-drops-mid-data", func(t *testing.T) {
		cut := startCuttingProxy(t, addr, 64<<10)
		r := startExampleRelay(t, "-upstream", cut, "-upstream-tls", "starttls", "-upstream-insecure")
		msg := append(testMessage("relay postfix cut", false), bytes.Repeat([]byte(strings.Repeat("z", 70)+"\r\n"), 15000)...)
		out, err := swaksThroughRelay(t, r, false, messageFile(t, msg))
		require.Error(t, err, out)
		assert.Regexp(t, `<[~*]\* +451 4\.4\.2 `, out)
		pf.waitLog(t, "lost connection after DATA", 1, 20*time.Second)
		time.Sleep(time.Second) // a message Postfix had queued would be in the Maildir by now
		entries, _ := os.ReadDir(filepath.Join(pf.dir, "vmail", "catchall", "new"))
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(pf.dir, "vmail", "catchall", "new", e.Name()))
			assert.NotContains(t, string(b), "relay postfix cut", "stored nowhere")
		}
	})

	t.Run("xclient", func(t *testing.T) {
		r := startExampleRelay(t, append(toPostfix, "-upstream-xclient")...)
		out, err := swaksThroughRelay(t, r, false, messageFile(t, testMessage("relay postfix xclient", false)),
			"--local-interface", "127.0.0.9")
		require.NoError(t, err, out)
		pf.findMessage(t, "relay postfix xclient", 20*time.Second)
		m := queuedAs.FindStringSubmatch(r.log.String())
		require.NotNil(t, m, r.log.String())
		log := pf.waitLog(t, m[2]+": client=", 1, 10*time.Second)
		line := log[strings.Index(log, m[2]+": client="):]
		line = line[:strings.IndexByte(line, '\n')]
		t.Log("Postfix: ", line)
		assert.Contains(t, line, "[127.0.0.9]", "Postfix logs the original client, not the relay")
		assert.Contains(t, line, "sasl_username="+relayUser, "and the user the relay authenticated")
	})
}
