package compat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startPostfixReceiver starts a Postfix instance that receives on a free
// port and delivers anything @test.example into one Maildir.
func startPostfixReceiver(t testing.TB) (*postfix, string) {
	t.Helper()
	addr := freeAddr(t)
	port := portOf(addr)
	pf := newPostfix(t, postfixReceiver,
		fmt.Sprintf("127.0.0.1:%s/inet=127.0.0.1:%s inet n - n - - smtpd", port, port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := netDial(addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Postfix does not listen on %s:\n%s", addr, pf.maillog())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return pf, addr
}

// findMessage waits for the Maildir message that contains marker.
func (p *postfix) findMessage(t testing.TB, marker string, timeout time.Duration) []byte {
	t.Helper()
	return p.findMatch(t, marker, timeout, func(b []byte) bool { return bytes.Contains(b, []byte(marker)) })
}

// findMatch waits for a Maildir message that match accepts; what tells
// what it looks for.
func (p *postfix) findMatch(t testing.TB, what string, timeout time.Duration, match func([]byte) bool) []byte {
	t.Helper()
	dir := filepath.Join(p.dir, "vmail", "catchall", "new")
	deadline := time.Now().Add(timeout)
	for {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err == nil && match(b) {
				return b
			}
		}
		if time.Now().After(deadline) {
			var near []string
			for _, e := range entries {
				if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && bytes.Contains(b, []byte(what)) {
					near = append(near, string(b))
				}
			}
			t.Fatalf("no matching message with %q in Postfix's Maildir after %v; near misses:\n%s\nlog:\n%s",
				what, timeout, strings.Join(near, "\n----\n"), p.maillog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClientToPostfix sends with our client into Postfix's smtpd, one
// extension per subtest, all against one Postfix instance, and checks what
// Postfix delivered to its Maildir: the sent message, line ends as LF,
// under the headers Postfix prepends.
func TestClientToPostfix(t *testing.T) {
	needPostfix(t)
	t.Parallel()
	pf, addr := startPostfixReceiver(t)

	// stored waits for the Maildir copy of msg (Postfix's header, then
	// msg with LF line ends), checks its body, and returns that header.
	stored := func(t *testing.T, subject string, msg []byte) string {
		t.Helper()
		want := toLF(msg)
		got := pf.findMatch(t, "Subject: "+subject, 30*time.Second, func(b []byte) bool {
			return bytes.HasSuffix(b, want)
		})
		requireSameBody(t, bodyOf(want), bodyOf(got))
		return string(got[:len(got)-len(want)])
	}

	t.Run("pipelining", func(t *testing.T) {
		t.Parallel()
		wire := newTap(t, addr)
		msg := testMessage("client pipelining", false)
		to := []string{"bob@test.example", "carol@test.example", "dave@test.example"}
		// DATA here: BDAT, the default, has its own cell below.
		spec := sendSpec{env: smtp.Envelope{To: to}, opts: smtp.DialOptions{DisableChunking: true}}
		res, trace, err := clientSend(t, wire.Addr, spec, msg)
		require.NoError(t, err, trace)
		require.Equal(t, 3, res.Accepted(), trace)
		stored(t, "client pipelining", msg)
		assert.True(t, wire.pipelined("MAIL FROM:", "RCPT TO:<bob@", "RCPT TO:<carol@", "RCPT TO:<dave@", "DATA\r\n"),
			"not pipelined:\n%s", wire.transcript())
	})
	t.Run("starttls", func(t *testing.T) {
		t.Parallel()
		msg := testMessage("client starttls", false)
		_, trace, err := clientSend(t, addr, sendSpec{startTLS: true}, msg)
		require.NoError(t, err, trace)
		head := stored(t, "client starttls", msg)
		assert.Contains(t, head, "with ESMTPS", "Postfix saw no TLS")
	})
	t.Run("starttls-auth-plain", func(t *testing.T) {
		t.Parallel()
		msg := testMessage("client auth plain", false)
		_, trace, err := clientSend(t, addr, sendSpec{startTLS: true,
			auth: sasl.NewPlainClient("", "alice@test.example", "secret")}, msg)
		require.NoError(t, err, trace)
		head := stored(t, "client auth plain", msg)
		assert.Contains(t, head, "with ESMTPSA", "Postfix saw no TLS and AUTH")
	})
	t.Run("chunking", func(t *testing.T) {
		t.Parallel()
		wire := newTap(t, addr)
		msg := testMessage("client chunking", true)
		_, trace, err := clientSend(t, wire.Addr, sendSpec{opts: smtp.DialOptions{}}, msg)
		require.NoError(t, err, trace)
		stored(t, "client chunking", msg)
		assert.True(t, wire.pipelined("MAIL FROM:", "RCPT TO:", "BDAT "), "no pipelined BDAT:\n%s", wire.transcript())
		assert.NotContains(t, strings.Join(wire.clientWrites(), ""), "DATA\r\n")
	})
	t.Run("smtputf8", func(t *testing.T) {
		t.Parallel()
		msg := testMessage("client smtputf8", true)
		env := smtp.Envelope{From: "älice@test.example", To: []string{"bøb@test.example"},
			MailOptions: &smtp.MailOptions{UTF8: true, Body: smtp.Body8BitMIME}}
		_, trace, err := clientSend(t, addr, sendSpec{env: env}, msg)
		require.NoError(t, err, trace)
		head := stored(t, "client smtputf8", msg)
		assert.Contains(t, head, "with UTF8SMTP", "Postfix saw no SMTPUTF8")
		assert.Contains(t, head, "Delivered-To: bøb@test.example")
		assert.Contains(t, head, "Return-Path: <älice@test.example>")
	})
	t.Run("8bitmime", func(t *testing.T) {
		t.Parallel()
		wire := newTap(t, addr)
		msg := testMessage("client 8bitmime", true)
		env := smtp.Envelope{MailOptions: &smtp.MailOptions{Body: smtp.Body8BitMIME}}
		_, trace, err := clientSend(t, wire.Addr, sendSpec{env: env}, msg)
		require.NoError(t, err, trace)
		stored(t, "client 8bitmime", msg)
		assert.Contains(t, strings.Join(wire.clientWrites(), ""), " BODY=8BITMIME")
	})
	t.Run("size", func(t *testing.T) {
		t.Parallel()
		wire := newTap(t, addr)
		msg := testMessage("client size", false)
		env := smtp.Envelope{MailOptions: &smtp.MailOptions{Size: int64(len(msg))}}
		_, trace, err := clientSend(t, wire.Addr, sendSpec{env: env}, msg)
		require.NoError(t, err, trace)
		stored(t, "client size", msg)
		assert.Contains(t, strings.Join(wire.clientWrites(), ""), fmt.Sprintf(" SIZE=%d", len(msg)))
		// Postfix advertises SIZE 10240000: a larger message never leaves.
		env.MailOptions = &smtp.MailOptions{Size: 20 << 20}
		_, trace, err = clientSend(t, addr, sendSpec{env: env}, msg)
		require.Error(t, err, trace)
		assert.NotContains(t, trace, "MAIL FROM")
	})
	t.Run("dsn", func(t *testing.T) {
		t.Parallel()
		msg := testMessage("client dsn", false)
		env := smtp.Envelope{From: "alice@test.example", To: []string{"bob@test.example"},
			MailOptions: &smtp.MailOptions{Return: smtp.DSNReturnHeaders, EnvelopeID: "pw-dsn-6+1"},
			RcptOptions: []*smtp.RcptOptions{{Notify: []smtp.DSNNotify{smtp.DSNNotifySuccess},
				OriginalRecipientType: smtp.DSNAddressTypeRFC822, OriginalRecipient: "bob@test.example"}}}
		_, trace, err := clientSend(t, addr, sendSpec{env: env}, msg)
		require.NoError(t, err, trace)
		stored(t, "client dsn", msg)
		// NOTIFY=SUCCESS: Postfix reports the delivery to alice, in the
		// same Maildir, with our ENVID (xtext-decoded) and ORCPT.
		report := string(pf.findMessage(t, "Original-Envelope-Id: pw-dsn-6+1", 30*time.Second))
		assert.Contains(t, report, "Action: delivered")
		assert.Contains(t, report, "Original-Recipient: rfc822;bob@test.example")
		assert.Contains(t, report, "Subject: client dsn", "RET=HDRS returns the header")
		assert.NotContains(t, report, "Hello Bob", "RET=HDRS returns no body")
	})
	for _, chunking := range []bool{false, true} {
		name := "sendmany"
		if chunking {
			name = "sendmany-bdat"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			msgs := manyMessages("client "+name, 10)
			sendMany(t, addr, smtp.DialOptions{DisableChunking: !chunking}, msgs)
			for i, msg := range msgs {
				stored(t, fmt.Sprintf("client %s %d", name, i), msg)
			}
		})
	}
	// examples/send, the program a user runs, with the modes it offers.
	sendCases := []struct {
		name     string
		args     []string
		eightBit bool
		received string // what Postfix's Received: header must say
	}{
		{"examples-send-starttls-auth", []string{"-starttls", "-insecure-skip-verify",
			"-auth", "plain", "-user", "alice@test.example", "-password", "secret"}, false, "with ESMTPSA"},
		{"examples-send-chunking", []string{"-chunking"}, true, "with ESMTP"},
		{"examples-send-smtputf8", []string{"-smtputf8", "-from", "älice@test.example", "-to", "bøb@test.example"}, true, "with UTF8SMTP"},
		{"examples-send-lockstep", []string{"-no-pipelining"}, false, "with ESMTP"},
	}
	for _, tc := range sendCases {
		t.Run(tc.name, func(t *testing.T) {
			bin := buildExample(t, "send")
			t.Parallel()
			msg := testMessage(tc.name, tc.eightBit)
			file := filepath.Join(t.TempDir(), "msg.eml")
			require.NoError(t, os.WriteFile(file, msg, 0o644))
			args := append([]string{"-server", addr, "-name", "client.example", "-timeout", "30s", "-v"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "-from") {
				args = append(args, "-from", "alice@client.example", "-to", "bob@test.example")
			}
			out := runPeer(t, nil, bin, append(args, file)...)
			head := stored(t, tc.name, msg)
			assert.Contains(t, head, tc.received, out)
		})
	}
	for _, chunking := range []bool{false, true} {
		name := map[bool]string{false: "large-data", true: "large-bdat"}[chunking]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, lines := stuffedLines(3 << 20)
			msg := append(testMessage("client "+name, false), lines...)
			_, trace, err := clientSend(t, addr, sendSpec{opts: smtp.DialOptions{DisableChunking: !chunking}}, msg)
			require.NoError(t, err, trace)
			stored(t, "client "+name, msg)
		})
	}
	t.Run("refused-recipient", func(t *testing.T) {
		t.Parallel()
		msg := testMessage("client refused", false)
		env := smtp.Envelope{To: []string{"bob@test.example", "nobody@test.example"}}
		res, trace, err := clientSend(t, addr, sendSpec{env: env}, msg)
		// Accepted for one of two: a *RecipientsError counting it.
		var partial *smtp.RecipientsError
		require.True(t, errors.As(err, &partial), "%v\n%s", err, trace)
		assert.Equal(t, 1, partial.Accepted)
		require.Len(t, res.Recipients, 2)
		assert.NoError(t, res.Recipients[0].Err)
		var se *smtp.Error
		require.True(t, errors.As(res.Recipients[1].Err, &se), "%v", res.Recipients[1].Err)
		assert.Equal(t, 554, se.Code, trace)
		stored(t, "client refused", msg)
	})
}
