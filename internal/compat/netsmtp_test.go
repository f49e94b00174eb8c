package compat

import (
	"net/smtp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNetSMTPClientToServer drives our server with the standard library's
// net/smtp client: SendMail in the clear, STARTTLS with AUTH PLAIN, and
// SMTPUTF8 (which net/smtp adds to MAIL whenever it is offered, with
// BODY=8BITMIME).
func TestNetSMTPClientToServer(t *testing.T) {
	t.Run("sendmail", func(t *testing.T) {
		t.Parallel()
		srv := startPostwire(t, recvConfig{})
		msg := testMessage("net/smtp sendmail", false)
		require.NoError(t, smtp.SendMail(srv.addr, nil, "alice@client.example", []string{"bob@test.example", "carol@test.example"}, msg))
		m := srv.rec.wait(t, 1, 5*time.Second)[0]
		assert.Equal(t, "alice@client.example", m.From)
		assert.Equal(t, []string{"bob@test.example", "carol@test.example"}, m.To)
		requireSameBody(t, msg, m.Data)
	})
	t.Run("starttls-auth-plain", func(t *testing.T) {
		t.Parallel()
		srv := startPostwire(t, recvConfig{startTLS: true, users: testUsers})
		c, err := smtp.Dial(srv.addr)
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.Hello("client.example"))
		require.NoError(t, c.StartTLS(clientTLS()))
		require.NoError(t, c.Auth(smtp.PlainAuth("", "alice", "secret", "127.0.0.1")))
		msg := testMessage("net/smtp starttls", false)
		sendNetSMTP(t, c, "alice@client.example", "bob@test.example", msg)
		m := srv.rec.wait(t, 1, 5*time.Second)[0]
		assert.True(t, m.TLS)
		assert.Equal(t, "alice", m.AuthUser)
		requireSameBody(t, msg, m.Data)
	})
	t.Run("smtputf8", func(t *testing.T) {
		t.Parallel()
		srv := startPostwire(t, recvConfig{})
		c, err := smtp.Dial(srv.addr)
		require.NoError(t, err)
		defer c.Close()
		msg := testMessage("net/smtp smtputf8", true)
		sendNetSMTP(t, c, "älice@client.example", "bøb@test.example", msg)
		m := srv.rec.wait(t, 1, 5*time.Second)[0]
		assert.True(t, m.UTF8)
		assert.Equal(t, "8BITMIME", m.BodyType)
		assert.Equal(t, "älice@client.example", m.From)
		assert.Equal(t, []string{"bøb@test.example"}, m.To)
		requireSameBody(t, msg, m.Data)
	})
}

// sendNetSMTP sends one message over a net/smtp client and says QUIT.
func sendNetSMTP(t *testing.T, c *smtp.Client, from, to string, msg []byte) {
	t.Helper()
	require.NoError(t, c.Mail(from))
	require.NoError(t, c.Rcpt(to))
	w, err := c.Data()
	require.NoError(t, err)
	_, err = w.Write(msg)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, c.Quit())
}
