package compat

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPostfixToServer has one Postfix instance deliver into three of our
// servers at once: its smtp client relaying to its relayhost in the clear
// (where a tap shows that it pipelines MAIL, RCPT and DATA), its smtp
// client with STARTTLS required (a transport to our second server), the
// same with SASL AUTH (Postfix picks the strongest mechanism we offer), and
// its lmtp client into our server in LMTP mode.
// Postfix adds a Received: header; the rest of what we store must be the
// submitted message byte for byte.
func TestPostfixToServer(t *testing.T) {
	needPostfix(t)
	needBinary(t, "sendmail")
	t.Parallel()
	plain := startOurs(t, recvConfig{})
	withTLS := startOurs(t, recvConfig{startTLS: true})
	lmtp := startOurs(t, recvConfig{lmtp: true})
	withAuth := startOurs(t, recvConfig{startTLS: true, users: testUsers})
	plainTap, lmtpTap := newTap(t, plain.addr), newTap(t, lmtp.addr)

	pf := newPostfix(t, `myhostname = client.test.example
local_transport = error:local delivery disabled
smtp_tls_security_level = none
`+fmt.Sprintf("relayhost = [127.0.0.1]:%s\n", portOf(plainTap.Addr))+`transport_maps = inline:{ `+
		fmt.Sprintf("tls.example=smtptls:[127.0.0.1]:%s, ", portOf(withTLS.addr))+
		fmt.Sprintf("auth.example=smtpauth:[127.0.0.1]:%s, ", portOf(withAuth.addr))+
		fmt.Sprintf("lmtp.example=lmtp:inet:127.0.0.1:%s }\n", portOf(lmtpTap.Addr)),
		"smtptls/unix=smtptls unix - - n - - smtp -o smtp_tls_security_level=encrypt",
		"smtpauth/unix=smtpauth unix - - n - - smtp -o smtp_tls_security_level=encrypt"+
			" -o smtp_sasl_auth_enable=yes -o smtp_sasl_password_maps=static:alice:secret"+
			" -o smtp_sasl_security_options=noanonymous")

	cases := []struct {
		name string
		to   string
		srv  *receiver
		tap  *tap
		tls  bool
	}{
		{"relay-pipelining", "bob@plain.example", plain, plainTap, false},
		{"relay-starttls", "bob@tls.example", withTLS, nil, true},
		{"lmtp", "bob@lmtp.example", lmtp, lmtpTap, false},
		{"relay-starttls-auth", "bob@auth.example", withAuth, nil, true},
	}
	// A 3 MiB message rides along on the STARTTLS relay, after the first.
	_, lines := stuffedLines(3 << 20)
	large := append(testMessage("postfix large", false), lines...)
	sent := map[string][]byte{}
	for _, tc := range cases {
		msg := testMessage("postfix "+tc.name, true)
		sent[tc.name] = msg
		pf.sendmail(t, msg, "alice@client.test.example", tc.to)
	}
	pf.sendmail(t, large, "alice@client.test.example", "carol@tls.example")
	pf.waitLog(t, "status=sent", len(cases)+1, 60*time.Second)

	t.Run("relay-starttls-large", func(t *testing.T) {
		var m received
		for _, r := range withTLS.rec.wait(t, 2, 5*time.Second) {
			if r.To[0] == "carol@tls.example" {
				m = r
			}
		}
		require.True(t, m.TLS)
		require.True(t, bytes.HasSuffix(m.Data, large), "large message not stored whole (%d octets)", len(m.Data))
		requireSameBody(t, bodyOf(large), bodyOf(m.Data))
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.srv.rec.wait(t, 1, 5*time.Second)[0]
			if m.To[0] == "carol@tls.example" { // the large one came first
				m = tc.srv.rec.wait(t, 2, 5*time.Second)[1]
			}
			assert.Equal(t, "alice@client.test.example", m.From)
			assert.Equal(t, []string{tc.to}, m.To)
			assert.Equal(t, tc.tls, m.TLS, "TLS")
			msg := sent[tc.name]
			require.True(t, bytes.HasPrefix(m.Data, []byte("Received: ")), "%q", m.Data)
			require.True(t, bytes.HasSuffix(m.Data, msg), "stored:\n%s", m.Data)
			requireSameBody(t, bodyOf(msg), bodyOf(m.Data))
			if tc.srv == withAuth {
				assert.Equal(t, "alice", m.AuthUser, "Postfix did not authenticate")
			}
			if tc.tap != nil {
				verb := "DATA\r\n"
				assert.True(t, tc.tap.pipelined("MAIL FROM:", "RCPT TO:", verb),
					"MAIL, RCPT and DATA not in one write:\n%s", tc.tap.transcript())
			}
		})
	}
}
