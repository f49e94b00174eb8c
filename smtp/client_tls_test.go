package smtp

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/sasl"
)

func TestClientServerStartTLS(t *testing.T) {
	srvTLS, cliTLS := clientCert(t)
	be := &clientBackend{}
	addr := clientServe(t, be, func(s *Server) { s.TLSConfig = srvTLS }, nil)
	ctx := clientCtx(t)
	c, err := Dial(ctx, addr, &DialOptions{TLSConfig: cliTLS})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello(ctx, ""))
	assert.True(t, c.Extensions().Has(extensions.StartTLS))
	assert.False(t, c.Extensions().Has(extensions.Auth), "AUTH only over TLS")
	require.ErrorIs(t, c.Auth(ctx, clientPlain("user", "pass")), ErrNotAdvertised)
	_, ok := c.TLSConnectionState()
	assert.False(t, ok)

	require.NoError(t, c.StartTLS(ctx, nil))
	state, ok := c.TLSConnectionState()
	require.True(t, ok)
	assert.True(t, state.HandshakeComplete)
	assert.False(t, c.Extensions().Has(extensions.StartTLS), "only the new extensions count")
	assert.True(t, c.Extensions().Has(extensions.Auth))
	require.Error(t, c.StartTLS(ctx, nil))

	require.NoError(t, c.Auth(ctx, clientPlain("user", "pass")))
	_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader("hi\r\n"))
	require.NoError(t, err)
	require.NoError(t, c.Quit(ctx))
	msgs := be.all()
	require.Len(t, msgs, 1)
	assert.True(t, msgs[0].TLS)
	assert.Equal(t, "user", msgs[0].AuthUser)
}

func TestClientServerStartTLSBadCertificate(t *testing.T) {
	srvTLS, _ := clientCert(t)
	addr := clientServe(t, &clientBackend{}, func(s *Server) { s.TLSConfig = srvTLS }, nil)
	_, err := DialStartTLS(clientCtx(t), addr, nil) // the system roots do not know the test CA
	require.Error(t, err)
}

func TestClientServerDialTLS(t *testing.T) {
	srvTLS, cliTLS := clientCert(t)
	be := &clientBackend{}
	addr := clientServe(t, be, func(s *Server) { s.TLSConfig = srvTLS },
		func(l net.Listener) net.Listener { return tls.NewListener(l, srvTLS) })
	ctx := clientCtx(t)
	c, err := DialTLS(ctx, addr, &DialOptions{TLSConfig: cliTLS})
	require.NoError(t, err)
	defer c.Close()
	_, ok := c.TLSConnectionState()
	require.True(t, ok)
	require.NoError(t, c.Auth(ctx, sasl.NewLoginClient("user", "pass")))
	_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.org"}}, strings.NewReader("implicit\r\n"))
	require.NoError(t, err)
	require.NoError(t, c.Quit(ctx))
	require.Len(t, be.all(), 1)
	assert.True(t, be.all()[0].TLS)
}

func TestClientServerDialStartTLS(t *testing.T) {
	srvTLS, cliTLS := clientCert(t)
	addr := clientServe(t, &clientBackend{}, func(s *Server) { s.TLSConfig = srvTLS }, nil)
	c, err := DialStartTLS(clientCtx(t), addr, &DialOptions{TLSConfig: cliTLS})
	require.NoError(t, err)
	defer c.Close()
	_, ok := c.TLSConnectionState()
	assert.True(t, ok)

	// Without STARTTLS on offer, DialStartTLS refuses.
	addr = clientServe(t, &clientBackend{}, nil, nil)
	_, err = DialStartTLS(clientCtx(t), addr, nil)
	require.ErrorIs(t, err, ErrNotAdvertised)
}

func TestClientServerAuthMechanisms(t *testing.T) {
	srvTLS, cliTLS := clientCert(t)
	addr := clientServe(t, &clientBackend{}, func(s *Server) { s.TLSConfig = srvTLS }, nil)
	for _, tc := range []struct {
		name      string
		good, bad sasl.Client
	}{
		{"PLAIN", clientPlain("user", "pass"), clientPlain("user", "wrong")},
		{"LOGIN", sasl.NewLoginClient("user", "pass"), sasl.NewLoginClient("user", "wrong")},
		{"CRAM-MD5", sasl.NewCramMD5Client("user", "pass"), sasl.NewCramMD5Client("user", "wrong")},
		{"SCRAM-SHA-1", sasl.NewScramSHA1Client("user", "pass", ""), sasl.NewScramSHA1Client("user", "wrong", "")},
		{"SCRAM-SHA-256", sasl.NewScramSHA256Client("user", "pass", ""), sasl.NewScramSHA256Client("user", "wrong", "")},
		{"XOAUTH2", sasl.NewXOAuth2Client("user", "pass"), sasl.NewXOAuth2Client("user", "wrong")},
		{"OAUTHBEARER", sasl.NewOAuthBearerClient(sasl.OAuthBearerOptions{Username: "user", Token: "pass"}),
			sasl.NewOAuthBearerClient(sasl.OAuthBearerOptions{Username: "user", Token: "wrong"})},
		{"ANONYMOUS", sasl.NewAnonymousClient("trace"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := clientCtx(t)
			c, err := DialStartTLS(ctx, addr, &DialOptions{TLSConfig: cliTLS})
			require.NoError(t, err)
			defer c.Close()
			if tc.bad != nil {
				err := c.Auth(ctx, tc.bad)
				var se *Error
				require.ErrorAs(t, err, &se, "%v", err)
				assert.Equal(t, 5, se.Code/100)
				require.NoError(t, c.Noop(ctx), "in step after a failed exchange")
			}
			require.NoError(t, c.Auth(ctx, tc.good))
			require.NoError(t, c.Quit(ctx))
		})
	}
}
