package smtp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Errors name the step they came from, with the server's reply when there
// was one, and errors.As still finds what they wrap.

func TestSendMailErrorsNameTheirStep(t *testing.T) {
	srvTLS, _ := clientCert(t)
	addr := clientServe(t, &clientBackend{}, func(s *Server) { s.TLSConfig = srvTLS }, nil)

	// A certificate the system roots do not know: the STARTTLS step.
	err := SendMail(clientCtx(t), addr, nil, "a@example.org", []string{"b@example.org"}, []byte("hi\r\n"))
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "smtp: STARTTLS handshake: "), err.Error())
	var unknown x509.UnknownAuthorityError
	var verr *tls.CertificateVerificationError
	assert.True(t, errors.As(err, &unknown) || errors.As(err, &verr), "the x509 error is still there: %v", err)

	// Nobody listening: the dial step.
	err = SendMail(clientCtx(t), "127.0.0.1:1", nil, "a@example.org", []string{"b@example.org"}, []byte("hi\r\n"))
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "smtp: dial 127.0.0.1:1: "), err.Error())
}

func TestClientErrorsNameTheirStep(t *testing.T) {
	for _, tc := range []struct {
		name, prefix string
		script       func(s *clientScript)
		call         func(c *Client) error
	}{
		{"greeting", "smtp: greeting: 554 5.7.1 go away", func(s *clientScript) {
			s.send("554 5.7.1 go away\r\n")
			s.expect("QUIT")
		}, nil},
		{"EHLO", "smtp: EHLO: 421 4.3.2 bye", func(s *clientScript) {
			s.send("220 fake.example\r\n")
			s.expect("EHLO localhost")
			s.send("421 4.3.2 bye\r\n")
		}, func(c *Client) error { return c.Hello(clientCtx(t), "") }},
		{"STARTTLS", "smtp: STARTTLS: 454 4.7.0 not now", func(s *clientScript) {
			s.greetEHLO("STARTTLS")
			s.expect("STARTTLS")
			s.send("454 4.7.0 not now\r\n")
		}, func(c *Client) error { return c.StartTLS(clientCtx(t), nil) }},
		{"AUTH", "smtp: AUTH PLAIN: 535 5.7.8 bad", func(s *clientScript) {
			s.greetEHLO("AUTH PLAIN")
			s.line()
			s.send("535 5.7.8 bad\r\n")
		}, func(c *Client) error { return c.Auth(clientCtx(t), clientPlain("u", "p")) }},
		{"MAIL", "smtp: MAIL FROM: 550 5.7.1 no", func(s *clientScript) {
			s.greetEHLO()
			s.expect("MAIL FROM:<a@example.org>")
			s.send("550 5.7.1 no\r\n")
		}, func(c *Client) error { return c.Mail(clientCtx(t), "a@example.org", nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := clientFake(t, tc.script)
			c, err := Dial(clientCtx(t), addr, nil)
			if tc.call == nil {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				defer c.Close()
				err = tc.call(c)
			}
			require.Error(t, err)
			assert.Equal(t, tc.prefix, err.Error())
			var se *Error
			require.ErrorAs(t, err, &se, "the reply is still an *Error")
		})
	}
}
