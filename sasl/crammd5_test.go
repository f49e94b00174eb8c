package sasl

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RFC 2195 section 2's example.
const (
	rfc2195Challenge = "<1896.697170952@postoffice.reston.mci.net>"
	rfc2195Response  = "tim b913a602c7eda7a495b4e6e7334d3890"
)

func rfc2195Lookup(username string) (string, error) {
	if username != "tim" {
		return "", ErrInvalidCredentials
	}
	return "tanstaaftanstaaf", nil
}

func TestCramMD5RFC2195Client(t *testing.T) {
	c := NewCramMD5Client("tim", "tanstaaftanstaaf")
	mech, ir, err := c.Start()
	require.NoError(t, err)
	assert.Equal(t, CramMD5, mech)
	assert.Nil(t, ir)
	resp, err := c.Next([]byte(rfc2195Challenge))
	require.NoError(t, err)
	assert.Equal(t, rfc2195Response, string(resp))
	_, err = c.Next([]byte(rfc2195Challenge))
	assert.ErrorIs(t, err, ErrMalformed, "a second challenge")
}

func TestCramMD5RFC2195Server(t *testing.T) {
	s := NewCramMD5Server("postoffice.reston.mci.net", rfc2195Lookup).(*cramMD5Server)
	s.challenge = []byte(rfc2195Challenge)
	challenge, done, err := s.Next(nil)
	require.NoError(t, err)
	assert.False(t, done)
	assert.Equal(t, rfc2195Challenge, string(challenge))
	_, done, err = s.Next([]byte(rfc2195Response))
	require.NoError(t, err)
	assert.True(t, done)
	assert.Equal(t, Identity{Authentication: "tim"}, s.Identity())
	assertOverAfter(t, s)
}

func TestCramMD5ServerChallenge(t *testing.T) {
	a, _, err := NewCramMD5Server("mx.example.org", rfc2195Lookup).Next(nil)
	require.NoError(t, err)
	b, _, err := NewCramMD5Server("mx.example.org", rfc2195Lookup).Next(nil)
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "challenges are unique")
	// "<" digits "." digits "@" hostname ">" (RFC 2195 section 2)
	s := string(a)
	require.True(t, strings.HasPrefix(s, "<") && strings.HasSuffix(s, "@mx.example.org>"), s)
	random, timestamp, ok := strings.Cut(strings.TrimSuffix(s[1:], "@mx.example.org>"), ".")
	require.True(t, ok, s)
	for _, part := range []string{random, timestamp} {
		assert.NotEmpty(t, part)
		assert.Equal(t, "", strings.Trim(part, "0123456789"), s)
	}
}

func TestCramMD5ServerRefuses(t *testing.T) {
	tests := []struct {
		name     string
		response string
		kind     error
	}{
		{"wrong digest", "tim b913a602c7eda7a495b4e6e7334d3891", ErrInvalidCredentials},
		{"unknown user", "tom b913a602c7eda7a495b4e6e7334d3890", ErrInvalidCredentials},
		{"uppercase hex", "tim B913A602C7EDA7A495B4E6E7334D3890", ErrMalformed},
		{"short digest", "tim b913a602c7eda7a495b4e6e7334d389", ErrMalformed},
		{"long digest", "tim b913a602c7eda7a495b4e6e7334d38900", ErrMalformed},
		{"no user", " b913a602c7eda7a495b4e6e7334d3890", ErrMalformed},
		{"no space", "timb913a602c7eda7a495b4e6e7334d3890", ErrMalformed},
		{"not hex", "tim g913a602c7eda7a495b4e6e7334d3890", ErrMalformed},
		{"bad UTF-8", "\xff b913a602c7eda7a495b4e6e7334d3890", ErrMalformed},
		{"empty", "", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewCramMD5Server("h", rfc2195Lookup).(*cramMD5Server)
			s.challenge = []byte(rfc2195Challenge)
			_, _, err := s.Next(nil)
			require.NoError(t, err)
			_, done, err := s.Next([]byte(tt.response))
			assert.False(t, done)
			assert.ErrorIs(t, err, tt.kind)
			assertNoSecret(t, err)
			assertOverAfter(t, s)
		})
	}
	// CRAM-MD5 has no initial response.
	_, _, err := NewCramMD5Server("h", rfc2195Lookup).Next([]byte(rfc2195Response))
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestCramMD5UserWithSpace(t *testing.T) {
	lookup := func(u string) (string, error) {
		if u != "tim smith" {
			return "", ErrInvalidCredentials
		}
		return testSecret, nil
	}
	e := run(t, NewCramMD5Client("tim smith", testSecret), NewCramMD5Server("h", lookup), runOptions{})
	assert.True(t, e.done)
}

func FuzzCramMD5Server(f *testing.F) {
	f.Add([]byte(rfc2195Response), []byte{}, true)
	f.Add([]byte("tim 00000000000000000000000000000000"), []byte(nil), true)
	f.Add([]byte("a b c"), []byte("x"), false)
	f.Fuzz(func(t *testing.T, a, b []byte, noIR bool) {
		lookup := func(string) (string, error) { return testSecret, nil }
		s := NewCramMD5Server("h", lookup).(*cramMD5Server)
		s.challenge = []byte(rfc2195Challenge)
		fuzzServer(t, s, noIR, a, b)
	})
}
