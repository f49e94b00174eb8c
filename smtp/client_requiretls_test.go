package smtp

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// REQUIRETLS (RFC 8689 section 4.2) goes only over TLS whose server
// certificate was checked: by crypto/tls, by a callback of the caller's,
// or as DialOptions.TLSPeerVerified declares.
func TestClientRequireTLSNeedsAuthenticatedPeer(t *testing.T) {
	srvTLS, cliTLS := clientCert(t)
	be := &clientBackend{}
	addr := clientServe(t, be, func(s *Server) {
		s.TLSConfig = srvTLS
		s.EnableREQUIRETLS = true
	}, nil)
	insecure := &tls.Config{InsecureSkipVerify: true}
	checked := &tls.Config{InsecureSkipVerify: true, VerifyConnection: func(tls.ConnectionState) error { return nil }}
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		opts DialOptions
		ok   bool
	}{
		{"verified by crypto/tls", cliTLS, DialOptions{}, true},
		{"InsecureSkipVerify", insecure, DialOptions{}, false},
		{"InsecureSkipVerify with VerifyConnection", checked, DialOptions{}, true},
		{"InsecureSkipVerify declared verified", insecure, DialOptions{TLSPeerVerified: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := clientCtx(t)
			opts := tc.opts
			opts.TLSConfig = tc.cfg
			c, err := DialStartTLS(ctx, addr, &opts)
			require.NoError(t, err)
			defer c.Close()
			assert.Equal(t, tc.ok, c.TLSPeerAuthenticated())
			_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.org"},
				MailOptions: &MailOptions{RequireTLS: true}}, strings.NewReader("hi\r\n"))
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrTLSNotAuthenticated)
			}
			require.NoError(t, c.Quit(ctx))
		})
	}
}

// SendMailOptions.MustUseTLS is this hop's TLS; without STARTTLS nothing
// is sent.
func TestClientSendMailMustUseTLS(t *testing.T) {
	be := &clientBackend{}
	addr := clientServe(t, be, nil, nil)
	err := SendMailWith(clientCtx(t), addr, &SendMailOptions{MustUseTLS: true}, nil,
		"a@example.org", []string{"b@example.org"}, strings.NewReader("hi\r\n"))
	require.ErrorIs(t, err, ErrNotAdvertised)
	assert.Empty(t, be.all())
}
