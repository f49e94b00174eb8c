package sasl

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RFC 4616 section 4: "\0tim\0tanstaaftanstaaf" (no authzid) and
// "Ursel\0Kurt\0xipj3plmq" (Kurt acting as Ursel).
var rfc4616Examples = []struct {
	authzid, authcid, passwd, message string
}{
	{"", "tim", "tanstaaftanstaaf", "\x00tim\x00tanstaaftanstaaf"},
	{"Ursel", "Kurt", "xipj3plmq", "Ursel\x00Kurt\x00xipj3plmq"},
}

func TestPlainRFC4616Examples(t *testing.T) {
	for _, ex := range rfc4616Examples {
		t.Run(ex.authcid, func(t *testing.T) {
			mech, ir, err := NewPlainClient(ex.authzid, ex.authcid, ex.passwd).Start()
			require.NoError(t, err)
			assert.Equal(t, Plain, mech)
			assert.Equal(t, ex.message, string(ir))

			var got [3]string
			s := NewPlainServer(func(identity, username, password string) error {
				got = [3]string{identity, username, password}
				return nil
			}).(IdentityServer)
			// RFC 4616 section 4's first example has no initial response:
			// the server sends an empty challenge.
			challenge, done, err := s.Next(nil)
			require.NoError(t, err)
			assert.False(t, done)
			assert.Equal(t, []byte{}, challenge)
			challenge, done, err = s.Next([]byte(ex.message))
			require.NoError(t, err)
			assert.True(t, done)
			assert.Nil(t, challenge)
			assert.Equal(t, [3]string{ex.authzid, ex.authcid, ex.passwd}, got)
			assert.Equal(t, Identity{Authorization: ex.authzid, Authentication: ex.authcid}, s.Identity())
			assertOverAfter(t, s)
		})
	}
}

func TestPlainServerGrammar(t *testing.T) {
	long := strings.Repeat("a", 256)
	max := strings.Repeat("a", 255)
	tests := []struct {
		name    string
		message string
		ok      bool
	}{
		{"no authzid", "\x00u\x00p", true},
		{"authzid", "z\x00u\x00p", true},
		{"255 octets each", max + "\x00" + max + "\x00" + max, true},
		{"UTF-8", "\x00jürgen\x00pässwörd", true},
		{"empty", "", false},
		{"one NUL", "u\x00p", false},
		{"no NUL", "user password", false},
		{"three NULs", "\x00u\x00p\x00", false},
		{"NUL in password", "\x00u\x00p\x00q", false},
		{"empty authcid", "z\x00\x00p", false},
		{"empty password", "z\x00u\x00", false},
		{"authzid too long", long + "\x00u\x00p", false},
		{"authcid too long", "\x00" + long + "\x00p", false},
		{"password too long", "\x00u\x00" + long, false},
		{"bad UTF-8", "\x00u\xff\x00p", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewPlainServer(func(string, string, string) error { return nil })
			_, done, err := s.Next([]byte(tt.message))
			if tt.ok {
				assert.NoError(t, err)
				assert.True(t, done)
				return
			}
			assert.ErrorIs(t, err, ErrMalformed)
			assert.False(t, done)
			assertOverAfter(t, s)
		})
	}
}

func TestPlainClientRefusesBadFields(t *testing.T) {
	long := strings.Repeat("x", 256)
	for _, args := range [][3]string{
		{"", "", "p"}, {"", "u", ""}, {long, "u", "p"}, {"", long, "p"}, {"", "u", long},
		{"a\x00b", "u", "p"}, {"", "u\x00", "p"}, {"", "u", "p\x00" + testSecret},
	} {
		_, _, err := NewPlainClient(args[0], args[1], args[2]).Start()
		assert.ErrorIs(t, err, ErrMalformed, "%q", args)
		assertNoSecret(t, err)
	}
}

func TestPlainPrepared(t *testing.T) {
	var gotUser, gotPass string
	s := NewPlainServerPrepared(func(identity, username, password string) error {
		gotUser, gotPass = username, password
		return nil
	}).(IdentityServer)
	// Full-width letters are mapped to ASCII and case is folded
	// (UsernameCaseMapped); U+00A0 in a password becomes U+0020
	// (OpaqueString).
	_, done, err := s.Next([]byte("\x00Ｔｉｍ\x00pass\u00a0word"))
	require.NoError(t, err)
	assert.True(t, done)
	assert.Equal(t, "tim", gotUser)
	assert.Equal(t, "pass word", gotPass)
	assert.Equal(t, "tim", s.Identity().Authentication)

	// A user name PRECIS refuses (a space is not in IdentifierClass).
	s = NewPlainServerPrepared(func(string, string, string) error { return nil }).(IdentityServer)
	_, _, err = s.Next([]byte("\x00two words\x00p"))
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestPlainClientNext(t *testing.T) {
	c := NewPlainClient("", "u", "p")
	resp, err := c.Next([]byte{})
	require.NoError(t, err)
	assert.Equal(t, "\x00u\x00p", string(resp))
	_, err = c.Next([]byte{})
	assert.ErrorIs(t, err, ErrMalformed, "answers once")
	_, err = NewPlainClient("", "u", "p").Next([]byte("x"))
	assert.ErrorIs(t, err, ErrMalformed, "a non-empty challenge")
}

func FuzzPlainServer(f *testing.F) {
	for _, ex := range rfc4616Examples {
		f.Add([]byte(ex.message), []byte{}, false)
	}
	f.Add([]byte("\x00user\x00"+testSecret), []byte("again"), true)
	f.Add([]byte("a\x00b\x00c\x00d"), []byte(nil), false)
	f.Fuzz(func(t *testing.T, first, second []byte, noIR bool) {
		check := func(identity, username, password string) error { return checkSecret(password) }
		fuzzServer(t, NewPlainServer(check).(IdentityServer), noIR, first, second, nil)
		fuzzServer(t, NewPlainServerPrepared(check).(IdentityServer), noIR, first, second)
	})
}

// A PLAIN server tells which user tried, after a failure too, and never
// the password.
func TestPlainServerAttempted(t *testing.T) {
	s := NewPlainServer(func(identity, username, password string) error { return ErrInvalidCredentials })
	_, _, err := s.Next([]byte("\x00alice\x00wrong"))
	require.ErrorIs(t, err, ErrInvalidCredentials)
	as, ok := s.(AttemptServer)
	require.True(t, ok)
	assert.Equal(t, "alice", as.Attempted())
}
