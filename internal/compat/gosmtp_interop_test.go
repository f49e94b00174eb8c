package compat

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	gosasl "github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goSMTPSend sends msg with go-smtp's client over c (already greeted,
// TLS and AUTH done as the caller wants).
func goSMTPSend(t *testing.T, c *gosmtp.Client, from string, to []string, mo *gosmtp.MailOptions,
	ro *gosmtp.RcptOptions, msg []byte) {
	t.Helper()
	require.NoError(t, c.Mail(from, mo))
	for _, rcpt := range to {
		require.NoError(t, c.Rcpt(rcpt, ro))
	}
	w, err := c.Data()
	require.NoError(t, err)
	_, err = w.Write(msg)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, c.Quit())
}

// TestGoSMTPClientToServer drives our server with go-smtp's client (which
// speaks in lock-step and never sends BDAT): plain, STARTTLS, AUTH PLAIN,
// SMTPUTF8, 8BITMIME, DSN, LMTP.
func TestGoSMTPClientToServer(t *testing.T) {
	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		srv := startPostwire(t, recvConfig{})
		c, err := gosmtp.Dial(srv.addr)
		require.NoError(t, err)
		msg := testMessage("go-smtp plain", false)
		goSMTPSend(t, c, "alice@client.example", []string{"bob@test.example"}, nil, nil, msg)
		m := srv.rec.wait(t, 1, 5*time.Second)[0]
		assert.Equal(t, "alice@client.example", m.From)
		assert.Equal(t, []string{"bob@test.example"}, m.To)
		requireSameBody(t, msg, m.Data)
	})
	t.Run("starttls-auth-plain", func(t *testing.T) {
		t.Parallel()
		srv := startPostwire(t, recvConfig{startTLS: true, users: testUsers})
		c, err := gosmtp.DialStartTLS(srv.addr, clientTLS())
		require.NoError(t, err)
		require.NoError(t, c.Auth(gosasl.NewPlainClient("", "alice", "secret")))
		msg := testMessage("go-smtp starttls", false)
		goSMTPSend(t, c, "alice@client.example", []string{"bob@test.example"}, nil, nil, msg)
		m := srv.rec.wait(t, 1, 5*time.Second)[0]
		assert.True(t, m.TLS)
		assert.Equal(t, "alice", m.AuthUser)
		requireSameBody(t, msg, m.Data)
	})
	t.Run("smtputf8-8bitmime", func(t *testing.T) {
		t.Parallel()
		srv := startPostwire(t, recvConfig{})
		c, err := gosmtp.Dial(srv.addr)
		require.NoError(t, err)
		msg := testMessage("go-smtp smtputf8", true)
		mo := &gosmtp.MailOptions{UTF8: true, Body: gosmtp.Body8BitMIME}
		goSMTPSend(t, c, "älice@client.example", []string{"bøb@test.example"}, mo, nil, msg)
		m := srv.rec.wait(t, 1, 5*time.Second)[0]
		assert.True(t, m.UTF8)
		assert.Equal(t, "8BITMIME", m.BodyType)
		assert.Equal(t, "älice@client.example", m.From)
		assert.Equal(t, []string{"bøb@test.example"}, m.To)
		requireSameBody(t, msg, m.Data)
	})
	t.Run("dsn", func(t *testing.T) {
		t.Parallel()
		srv := startPostwire(t, recvConfig{dsn: true})
		c, err := gosmtp.Dial(srv.addr)
		require.NoError(t, err)
		msg := testMessage("go-smtp dsn", false)
		mo := &gosmtp.MailOptions{Return: gosmtp.DSNReturnHeaders, EnvelopeID: "env+id=1"}
		ro := &gosmtp.RcptOptions{Notify: []gosmtp.DSNNotify{gosmtp.DSNNotifySuccess, gosmtp.DSNNotifyFailure},
			OriginalRecipientType: gosmtp.DSNAddressTypeRFC822, OriginalRecipient: "bob+x@test.example"}
		goSMTPSend(t, c, "alice@client.example", []string{"bob@test.example"}, mo, ro, msg)
		m := srv.rec.wait(t, 1, 5*time.Second)[0]
		assert.Equal(t, "HDRS", m.Ret)
		assert.Equal(t, "env+id=1", m.EnvID)
		assert.Equal(t, []string{"SUCCESS,FAILURE"}, m.Notify)
		assert.Equal(t, []string{"RFC822;bob+x@test.example"}, m.ORCPT)
		requireSameBody(t, msg, m.Data)
	})
	t.Run("lmtp", func(t *testing.T) {
		t.Parallel()
		srv := startPostwire(t, recvConfig{lmtp: true})
		conn, err := net.Dial("tcp", srv.addr)
		require.NoError(t, err)
		c := gosmtp.NewClientLMTP(conn)
		require.NoError(t, c.Hello("client.example"))
		require.NoError(t, c.Mail("alice@client.example", nil))
		require.NoError(t, c.Rcpt("bob@test.example", nil))
		require.NoError(t, c.Rcpt("carol@test.example", nil))
		w, err := c.Data()
		require.NoError(t, err)
		msg := testMessage("go-smtp lmtp", false)
		_, err = w.Write(msg)
		require.NoError(t, err)
		statuses, err := w.CloseWithLMTPResponse()
		require.NoError(t, err)
		assert.Len(t, statuses, 2, "one LMTP reply per recipient")
		require.NoError(t, c.Quit())
		m := srv.rec.wait(t, 1, 5*time.Second)[0]
		assert.Equal(t, []string{"bob@test.example", "carol@test.example"}, m.To)
		requireSameBody(t, msg, m.Data)
	})
}

// TestClientToGoSMTPServer sends with our client into go-smtp's server:
// plain, PIPELINING (checked on the wire), STARTTLS with AUTH PLAIN,
// CHUNKING (BDAT), SMTPUTF8, DSN, LMTP.
func TestClientToGoSMTPServer(t *testing.T) {
	cases := []struct {
		name      string
		cfg       recvConfig
		spec      sendSpec
		eightBit  bool
		tapped    bool
		check     func(t *testing.T, m received)
		checkWire func(t *testing.T, w *tap)
	}{
		{name: "plain"},
		{name: "pipelining", tapped: true,
			spec: sendSpec{env: smtp.Envelope{To: []string{"bob@test.example", "carol@test.example"}},
				opts: smtp.DialOptions{DisableChunking: true}}, // DATA; BDAT has its own cell
			checkWire: func(t *testing.T, w *tap) {
				assert.True(t, w.pipelined("MAIL FROM:", "RCPT TO:<bob@", "RCPT TO:<carol@", "DATA\r\n"), w.transcript())
			}},
		{name: "starttls-auth-plain", cfg: recvConfig{startTLS: true, users: testUsers},
			spec: sendSpec{startTLS: true, auth: sasl.NewPlainClient("", "alice", "secret")},
			check: func(t *testing.T, m received) {
				assert.True(t, m.TLS)
				assert.Equal(t, "alice", m.AuthUser)
			}},
		{name: "chunking", tapped: true, eightBit: true,
			spec: sendSpec{opts: smtp.DialOptions{ChunkSize: 512}},
			checkWire: func(t *testing.T, w *tap) {
				all := strings.Join(w.clientWrites(), "")
				assert.Greater(t, strings.Count(all, "\r\nBDAT "), 2, "several chunks")
				assert.Equal(t, 1, strings.Count(all, " LAST\r\n"), w.transcript())
				assert.NotContains(t, all, "DATA\r\n")
			}},
		{name: "smtputf8", eightBit: true,
			spec: sendSpec{env: smtp.Envelope{From: "älice@client.example", To: []string{"bøb@test.example"},
				MailOptions: &smtp.MailOptions{UTF8: true, Body: smtp.Body8BitMIME}}},
			check: func(t *testing.T, m received) {
				assert.True(t, m.UTF8)
				assert.Equal(t, "8BITMIME", m.BodyType)
				assert.Equal(t, "älice@client.example", m.From)
				assert.Equal(t, []string{"bøb@test.example"}, m.To)
			}},
		{name: "dsn", cfg: recvConfig{dsn: true},
			spec: sendSpec{env: smtp.Envelope{
				MailOptions: &smtp.MailOptions{Return: smtp.DSNReturnFull, EnvelopeID: "env+id=2"},
				RcptOptions: []*smtp.RcptOptions{{Notify: []smtp.DSNNotify{smtp.DSNNotifyNever},
					OriginalRecipientType: smtp.DSNAddressTypeRFC822, OriginalRecipient: "bob+y@test.example"}}}},
			check: func(t *testing.T, m received) {
				assert.Equal(t, "FULL", m.Ret)
				assert.Equal(t, "env+id=2", m.EnvID)
				assert.Equal(t, []string{"NEVER"}, m.Notify)
				assert.Equal(t, []string{"RFC822;bob+y@test.example"}, m.ORCPT)
			}},
		{name: "lmtp", cfg: recvConfig{lmtp: true},
			spec: sendSpec{opts: smtp.DialOptions{LMTP: true},
				env: smtp.Envelope{To: []string{"bob@test.example", "carol@test.example"}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startGoSMTP(t, tc.cfg)
			addr := srv.addr
			var w *tap
			if tc.tapped {
				w = newTap(t, srv.addr)
				addr = w.Addr
			}
			msg := testMessage("to go-smtp "+tc.name, tc.eightBit)
			if tc.name == "chunking" {
				msg = append(msg, bytes.Repeat([]byte("chunked line\r\n"), 200)...)
			}
			res, trace, err := clientSend(t, addr, tc.spec, msg)
			require.NoError(t, err, trace)
			require.Equal(t, len(res.Recipients), res.Accepted(), trace)
			m := srv.rec.wait(t, 1, 5*time.Second)[0]
			requireSameBody(t, msg, m.Data, trace)
			if tc.check != nil {
				tc.check(t, m)
			}
			if tc.checkWire != nil {
				tc.checkWire(t, w)
			}
		})
	}
}

// TestSendManyToGoSMTPServer sends a batch with our client's SendMany,
// which pipelines across messages, into go-smtp's server, with DATA and
// with BDAT; every message must arrive whole and in order.
func TestSendManyToGoSMTPServer(t *testing.T) {
	for _, chunking := range []bool{false, true} {
		t.Run(map[bool]string{false: "data", true: "bdat"}[chunking], func(t *testing.T) {
			t.Parallel()
			srv := startGoSMTP(t, recvConfig{})
			msgs := manyMessages("go-smtp sendmany", 40)
			trace := sendMany(t, srv.addr, smtp.DialOptions{DisableChunking: !chunking}, msgs)
			got := srv.rec.wait(t, len(msgs), 10*time.Second)
			require.Len(t, got, len(msgs))
			for i, m := range got {
				requireSameBody(t, msgs[i], m.Data, "message %d\n%s", i, trace)
			}
		})
	}
}
