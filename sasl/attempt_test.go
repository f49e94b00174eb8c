package sasl

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// attempted returns what s reports as the user name tried.
func attempted(t *testing.T, s Server) string {
	t.Helper()
	as, ok := s.(AttemptServer)
	require.True(t, ok, "%T does not implement AttemptServer", s)
	return as.Attempted()
}

// A CRAM-MD5 server tells which user tried after a wrong digest (RFC 2195
// section 2: the user name is the response's first word).
func TestCramMD5ServerAttempted(t *testing.T) {
	s := NewCramMD5Server("host.example", func(string) (string, error) { return "tanstaaftanstaaf", nil })
	challenge, _, err := s.Next(nil)
	require.NoError(t, err)
	require.NotEmpty(t, challenge)
	assert.Equal(t, "", attempted(t, s), "nothing named before the response")

	_, _, err = s.Next([]byte("tim 00000000000000000000000000000000"))
	require.ErrorIs(t, err, ErrInvalidCredentials)
	assert.Equal(t, "tim", attempted(t, s))
}

// A SCRAM server, either hash, tells which user tried, prepared, after a
// wrong proof and for an unknown user too (RFC 5802 section 5.1: n=).
func TestScramServerAttempted(t *testing.T) {
	for _, v := range scramVectors {
		t.Run(v.mech, func(t *testing.T) {
			creds := v.credentials(t, "pencil")
			s := newScramServer(v.mech, func(name string) (ScramCredentials, error) {
				if name != "user" {
					return ScramCredentials{}, ErrInvalidCredentials
				}
				return creds, nil
			})
			c := v.client("user", "not pencil", "")
			_, ir, err := c.Start()
			require.NoError(t, err)
			challenge, _, err := s.Next(ir)
			require.NoError(t, err)
			resp, err := c.Next(challenge)
			require.NoError(t, err)
			_, _, err = s.Next(resp)
			require.ErrorIs(t, err, ErrInvalidCredentials)
			assert.Equal(t, "user", attempted(t, s))

			unknown := newScramServer(v.mech, func(string) (ScramCredentials, error) {
				return ScramCredentials{}, ErrInvalidCredentials
			})
			_, _, err = unknown.Next([]byte("n,,n=\uff2dallory,r=abc"))
			require.NoError(t, err, "an unknown user goes on to the proof")
			assert.Equal(t, "Mallory", attempted(t, unknown), "the name as prepared (RFC 8265 width mapping)")
		})
	}
}

// An OAUTHBEARER server tells the gs2 authzid of a refused token, the only
// user name the mechanism carries (RFC 7628 section 3.1).
func TestOAuthBearerServerAttempted(t *testing.T) {
	s := NewOAuthBearerServer(func(OAuthBearerOptions) error { return ErrInvalidCredentials })
	_, ir, err := NewOAuthBearerClient(OAuthBearerOptions{Username: "user@example.com", Token: "t"}).Start()
	require.NoError(t, err)
	_, _, err = s.Next(ir)
	require.NoError(t, err, "the error result is a challenge")
	assert.Equal(t, "user@example.com", attempted(t, s))
}
