package sasl

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAnonymousTrace(t *testing.T) {
	tests := []struct {
		name  string
		trace string
		ok    bool
	}{
		{"empty", "", true},
		{"email", "sirhc@example.com", true}, // RFC 4505 section 4's example trace
		{"token", "guest", true},
		{"255 characters", strings.Repeat("é", 255), true},
		{"256 characters", strings.Repeat("a", 256), false},
		{"bad UTF-8", "\xff", false},
		{"control character", "a\nb", false},
		{"NUL", "a\x00b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ir, err := NewAnonymousClient(tt.trace).Start()
			var got string
			s := NewAnonymousServer(func(trace string) error { got = trace; return nil }).(IdentityServer)
			_, done, serr := s.Next([]byte(tt.trace))
			if !tt.ok {
				assert.ErrorIs(t, err, ErrMalformed)
				assert.ErrorIs(t, serr, ErrMalformed)
				assert.False(t, done)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.trace, string(ir))
			require.NoError(t, serr)
			assert.True(t, done)
			assert.Equal(t, tt.trace, got)
			assert.Equal(t, Identity{Authentication: AnonymousIdentity}, s.Identity())
			assertOverAfter(t, s)
		})
	}
}

func TestAnonymousRefused(t *testing.T) {
	s := NewAnonymousServer(func(string) error { return ErrInvalidCredentials }).(IdentityServer)
	_, done, err := s.Next([]byte("guest"))
	assert.False(t, done)
	assert.ErrorIs(t, err, ErrInvalidCredentials)
	assert.Equal(t, Identity{}, s.Identity())
}

func FuzzAnonymousServer(f *testing.F) {
	f.Add([]byte("sirhc@example.com"), []byte{}, false)
	f.Add([]byte{}, []byte(nil), true)
	f.Add([]byte(strings.Repeat("a", 300)), []byte("x"), false)
	f.Fuzz(func(t *testing.T, first, second []byte, noIR bool) {
		s := NewAnonymousServer(func(trace string) error { return checkSecret(trace) }).(IdentityServer)
		fuzzServer(t, s, noIR, first, second)
	})
}
