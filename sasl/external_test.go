package sasl

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExternal(t *testing.T) {
	// The authentication happened outside SASL: here a TLS client
	// certificate whose subject the caller knows.
	const certSubject = "CN=mta.example.org"
	allowed := map[string]bool{"": true, "postmaster@example.org": true}
	newServer := func() IdentityServer {
		return NewExternalServerWithIdentity(certSubject, func(authzid string) error {
			if !allowed[authzid] {
				return ErrInvalidCredentials
			}
			return nil
		}).(IdentityServer)
	}

	mech, ir, err := NewExternalClient("").Start()
	require.NoError(t, err)
	assert.Equal(t, External, mech)
	assert.Equal(t, []byte{}, ir, "an empty initial response, sent as \"=\"")

	s := newServer()
	_, done, err := s.Next(ir)
	require.NoError(t, err)
	assert.True(t, done)
	assert.Equal(t, Identity{Authentication: certSubject}, s.Identity())
	assertOverAfter(t, s)

	s = newServer()
	_, done, err = s.Next([]byte("postmaster@example.org"))
	require.NoError(t, err)
	assert.True(t, done)
	assert.Equal(t, Identity{Authorization: "postmaster@example.org", Authentication: certSubject}, s.Identity())

	s = newServer()
	_, _, err = s.Next([]byte("root"))
	assert.ErrorIs(t, err, ErrInvalidCredentials)
	assert.Equal(t, Identity{}, s.Identity())

	for _, bad := range []string{"a\x00b", "\xff"} {
		_, _, err = newServer().Next([]byte(bad))
		assert.ErrorIs(t, err, ErrMalformed)
		_, _, err = NewExternalClient(bad).Start()
		assert.ErrorIs(t, err, ErrMalformed)
	}

	// Without an initial response: an empty challenge, answered once.
	s = NewExternalServer(func(string) error { return nil }).(IdentityServer)
	challenge, done, err := s.Next(nil)
	require.NoError(t, err)
	assert.False(t, done)
	assert.Equal(t, []byte{}, challenge)
	c := NewExternalClient("x")
	resp, err := c.Next(challenge)
	require.NoError(t, err)
	assert.Equal(t, "x", string(resp))
	_, err = c.Next(challenge)
	assert.ErrorIs(t, err, ErrMalformed)
	_, done, err = s.Next(resp)
	require.NoError(t, err)
	assert.True(t, done)
	assert.Equal(t, Identity{Authorization: "x"}, s.Identity())
}

func FuzzExternalServer(f *testing.F) {
	f.Add([]byte("postmaster@example.org"), []byte{}, false)
	f.Add([]byte{}, []byte(nil), true)
	f.Add([]byte("a\x00b"), []byte("x"), false)
	f.Fuzz(func(t *testing.T, first, second []byte, noIR bool) {
		s := NewExternalServerWithIdentity("CN=x", func(authzid string) error { return checkSecret(authzid) }).(IdentityServer)
		fuzzServer(t, s, noIR, first, second)
	})
}
