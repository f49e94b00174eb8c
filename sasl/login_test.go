package sasl

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoginServerPrompts(t *testing.T) {
	var got [2]string
	s := NewLoginServer(func(username, password string) error {
		got = [2]string{username, password}
		return nil
	}).(IdentityServer)
	challenge, done, err := s.Next(nil)
	require.NoError(t, err)
	assert.False(t, done)
	assert.Equal(t, "Username:", string(challenge))
	challenge, done, err = s.Next([]byte("tim"))
	require.NoError(t, err)
	assert.False(t, done)
	assert.Equal(t, "Password:", string(challenge))
	challenge, done, err = s.Next([]byte("tanstaaftanstaaf"))
	require.NoError(t, err)
	assert.True(t, done)
	assert.Nil(t, challenge)
	assert.Equal(t, [2]string{"tim", "tanstaaftanstaaf"}, got)
	assert.Equal(t, Identity{Authentication: "tim"}, s.Identity())
	assertOverAfter(t, s)
}

func TestLoginServerInitialResponse(t *testing.T) {
	s := NewLoginServer(func(u, p string) error { return checkSecret(p) })
	challenge, done, err := s.Next([]byte("tim"))
	require.NoError(t, err)
	assert.False(t, done)
	assert.Equal(t, "Password:", string(challenge))
	_, done, err = s.Next([]byte(testSecret))
	require.NoError(t, err)
	assert.True(t, done)
}

func TestLoginServerRefusesBadAnswers(t *testing.T) {
	for name, answers := range map[string][][]byte{
		"empty user":     {nil, {}},
		"empty password": {nil, []byte("u"), {}},
		"NUL":            {nil, []byte("u\x00v")},
		"bad UTF-8":      {[]byte("\xff")},
		"long user":      {[]byte(strings.Repeat("u", 256))},
		"long password":  {[]byte("u"), []byte(strings.Repeat("p", 256))},
		"empty initial":  {{}},
	} {
		t.Run(name, func(t *testing.T) {
			s := NewLoginServer(func(u, p string) error { return nil })
			var err error
			for _, a := range answers {
				if _, _, err = s.Next(a); err != nil {
					break
				}
			}
			assert.ErrorIs(t, err, ErrMalformed)
			assertOverAfter(t, s)
		})
	}
}

func TestLoginClientAnswersByOrder(t *testing.T) {
	// Servers word their prompts differently (some send "User Name\0");
	// the client answers by order, not by text.
	c := NewLoginClient("tim", "pw")
	mech, ir, err := c.Start()
	require.NoError(t, err)
	assert.Equal(t, Login, mech)
	assert.Nil(t, ir)
	resp, err := c.Next([]byte("User Name\x00"))
	require.NoError(t, err)
	assert.Equal(t, "tim", string(resp))
	resp, err = c.Next([]byte("Password"))
	require.NoError(t, err)
	assert.Equal(t, "pw", string(resp))
	_, err = c.Next([]byte("Password:"))
	assert.ErrorIs(t, err, ErrMalformed, "a third prompt cancels")

	c = NewLoginClientInitialResponse("tim", "pw")
	_, ir, err = c.Start()
	require.NoError(t, err)
	assert.Equal(t, "tim", string(ir))
	resp, err = c.Next([]byte("Password:"))
	require.NoError(t, err)
	assert.Equal(t, "pw", string(resp))

	_, _, err = NewLoginClient("", "pw").Start()
	assert.ErrorIs(t, err, ErrMalformed)
}

func FuzzLoginServer(f *testing.F) {
	f.Add([]byte("tim"), []byte(testSecret), []byte{}, true)
	f.Add([]byte("tim"), []byte("wrong"), []byte(nil), false)
	f.Add([]byte{}, []byte("\x00"), []byte("x"), true)
	f.Fuzz(func(t *testing.T, a, b, c []byte, noIR bool) {
		s := NewLoginServer(func(u, p string) error { return checkSecret(p) }).(IdentityServer)
		fuzzServer(t, s, noIR, a, b, c)
	})
}
