package sasl

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestXOAuth2(t *testing.T) {
	// Google's format: "user=" user ^A "auth=Bearer " token ^A ^A.
	c := NewXOAuth2Client("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg")
	mech, ir, err := c.Start()
	require.NoError(t, err)
	assert.Equal(t, XOAuth2, mech)
	assert.Equal(t, "user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01", string(ir))

	var got [2]string
	s := NewXOAuth2Server(func(u, tok string) error { got = [2]string{u, tok}; return nil }).(IdentityServer)
	_, done, err := s.Next(ir)
	require.NoError(t, err)
	assert.True(t, done)
	assert.Equal(t, [2]string{"someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"}, got)
	assert.Equal(t, Identity{Authentication: "someuser@example.com"}, s.Identity())
	assertOverAfter(t, s)
}

func TestXOAuth2Failure(t *testing.T) {
	s := NewXOAuth2Server(func(u, tok string) error { return checkSecret(tok) })
	challenge, done, err := s.Next([]byte("user=u\x01auth=Bearer wrong\x01\x01"))
	require.NoError(t, err)
	assert.False(t, done)
	assert.JSONEq(t, `{"status":"401","schemes":"bearer"}`, string(challenge))
	_, done, err = s.Next([]byte{}) // Google's clients answer empty
	assert.False(t, done)
	assert.ErrorIs(t, err, ErrInvalidCredentials)
	assertOverAfter(t, s)

	// The client reports the server's error result.
	c := NewXOAuth2Client("u", "wrong")
	_, _, err = c.Start()
	require.NoError(t, err)
	_, err = c.Next(challenge)
	var oe *OAuthBearerError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, "401", oe.Status)

	// A chosen error result, and an error that is not about credentials.
	s = NewXOAuth2Server(func(string, string) error {
		return &OAuthBearerError{Status: "400", Schemes: "Bearer", Scope: "https://mail.google.com/"}
	})
	challenge, _, err = s.Next([]byte("user=u\x01auth=Bearer t\x01\x01"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}`, string(challenge))
	down := errors.New("down")
	_, _, err = NewXOAuth2Server(func(string, string) error { return down }).Next([]byte("user=u\x01auth=Bearer t\x01\x01"))
	assert.ErrorIs(t, err, down)
}

func TestXOAuth2ServerGrammar(t *testing.T) {
	for name, msg := range map[string]string{
		"empty":         "",
		"no user":       "auth=Bearer t\x01\x01",
		"empty user":    "user=\x01auth=Bearer t\x01\x01",
		"no auth":       "user=u\x01\x01",
		"no terminator": "user=u\x01auth=Bearer t\x01",
		"extra pair":    "user=u\x01auth=Bearer t\x01x=y\x01\x01",
		"not bearer":    "user=u\x01auth=Basic t\x01\x01",
		"empty token":   "user=u\x01auth=Bearer \x01\x01",
		"bad UTF-8":     "user=\xff\x01auth=Bearer t\x01\x01",
	} {
		t.Run(name, func(t *testing.T) {
			_, done, err := NewXOAuth2Server(func(string, string) error { return nil }).Next([]byte(msg))
			assert.False(t, done)
			assert.ErrorIs(t, err, ErrMalformed)
		})
	}
	_, done, err := NewXOAuth2Server(func(string, string) error { return nil }).Next([]byte("user=u\x01auth=bearer t\x01\x01"))
	assert.NoError(t, err, "the scheme is case-insensitive")
	assert.True(t, done)
}

func TestXOAuth2ClientRefuses(t *testing.T) {
	for _, args := range [][2]string{{"", "t"}, {"u", ""}, {"u\x01", "t"}, {"u", "t\x01"}} {
		_, _, err := NewXOAuth2Client(args[0], args[1]).Start()
		assert.ErrorIs(t, err, ErrMalformed, "%q", args)
	}
}

func FuzzXOAuth2Server(f *testing.F) {
	f.Add([]byte("user=u\x01auth=Bearer "+testSecret+"\x01\x01"), []byte{}, false)
	f.Add([]byte("user=u\x01auth=Bearer wrong\x01\x01"), []byte{}, true)
	f.Add([]byte("user=\x01auth=\x01"), []byte(nil), false)
	f.Fuzz(func(t *testing.T, first, second []byte, noIR bool) {
		s := NewXOAuth2Server(func(u, tok string) error { return checkSecret(tok) }).(IdentityServer)
		fuzzServer(t, s, noIR, first, second, nil)
	})
}
