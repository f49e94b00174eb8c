package sasl

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testBinding is a channel binding as a TLS 1.3 connection would give.
var testBinding = ChannelBinding{Type: ChannelBindingTLSExporter, Data: []byte("0123456789abcdef0123456789abcdef")}

// scramLookup knows user "user" with password testSecret for the hash h.
func scramLookup(t *testing.T, h func() hash.Hash) func(string) (ScramCredentials, error) {
	creds, err := NewScramCredentials(h, testSecret, nil, 4096)
	require.NoError(t, err)
	return func(name string) (ScramCredentials, error) {
		if name != "user" {
			return ScramCredentials{}, ErrInvalidCredentials
		}
		return creds, nil
	}
}

var plusMechs = []struct {
	mech string
	h    func() hash.Hash
}{{ScramSHA1Plus, sha1.New}, {ScramSHA256Plus, sha256.New}}

// A -PLUS client and server with the same binding succeed, the client
// sending "p=type" in its gs2 header and the binding data after it in c=
// (RFC 5802 section 7, cbind-input).
func TestScramPlusExchange(t *testing.T) {
	for _, m := range plusMechs {
		t.Run(m.mech, func(t *testing.T) {
			c := NewScramClient(m.mech, "user", testSecret, "", testBinding)
			s := NewScramServer(m.mech, scramLookup(t, m.h), testBinding)
			e := run(t, c, s, runOptions{})
			require.NoError(t, e.serverErr)
			require.NoError(t, e.clientErr)
			assert.True(t, e.done)
			assert.Equal(t, "user", s.(IdentityServer).Identity().Authentication)

			sc := c.(*scramClient)
			assert.Equal(t, "p=tls-exporter,,", sc.gs2Header)
			want := base64.StdEncoding.EncodeToString(append([]byte("p=tls-exporter,,"), testBinding.Data...))
			assert.Equal(t, want, base64.StdEncoding.EncodeToString(sc.channelBindingInput()))
		})
	}
}

// A client bound to another channel (a man in the middle terminating TLS
// sees other binding data) is refused as invalid credentials, and so is a
// binding type the server does not have.
func TestScramPlusWrongBinding(t *testing.T) {
	other := ChannelBinding{Type: testBinding.Type, Data: []byte("ffffffffffffffffffffffffffffffff")}
	endPoint := ChannelBinding{Type: ChannelBindingTLSServerEndPoint, Data: testBinding.Data}
	for _, m := range plusMechs {
		for name, cb := range map[string]ChannelBinding{"data": other, "type": endPoint} {
			t.Run(m.mech+"/"+name, func(t *testing.T) {
				c := NewScramClient(m.mech, "user", testSecret, "", cb)
				s := NewScramServer(m.mech, scramLookup(t, m.h), testBinding)
				e := run(t, c, s, runOptions{})
				require.ErrorIs(t, e.serverErr, ErrInvalidCredentials)
				assert.False(t, e.done)
				assertNoSecret(t, e.serverErr)
			})
		}
	}
}

// RFC 5802 section 6: a client that could bind but thinks the server
// cannot sends "y"; a server that offers -PLUS refuses it (someone removed
// -PLUS from what the client saw), one that does not accepts it.
func TestScramDowngradeRefused(t *testing.T) {
	for _, m := range []struct {
		mech string
		h    func() hash.Hash
	}{{ScramSHA1, sha1.New}, {ScramSHA256, sha256.New}} {
		t.Run(m.mech, func(t *testing.T) {
			c := NewScramClient(m.mech, "user", testSecret, "", testBinding)
			_, ir, err := c.Start()
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(string(ir), "y,,"), "gs2 flag y: %q", ir)

			s := NewScramServer(m.mech, scramLookup(t, m.h), testBinding)
			_, _, err = s.Next(ir)
			require.ErrorIs(t, err, ErrInvalidCredentials)

			c = NewScramClient(m.mech, "user", testSecret, "", testBinding)
			e := run(t, c, NewScramServer(m.mech, scramLookup(t, m.h), ChannelBinding{}), runOptions{})
			require.NoError(t, e.serverErr)
			assert.True(t, e.done, "a server without -PLUS accepts y")
		})
	}
}

// The flags that contradict the mechanism are malformed: "p" with plain
// SCRAM, "n" or "y" with -PLUS; a -PLUS client needs a binding.
func TestScramPlusFlagMismatch(t *testing.T) {
	for _, tc := range []struct {
		mech, first string
	}{
		{ScramSHA256, "p=tls-exporter,,n=user,r=abc"},
		{ScramSHA256Plus, "n,,n=user,r=abc"},
		{ScramSHA256Plus, "y,,n=user,r=abc"},
		{ScramSHA256Plus, "p=,,n=user,r=abc"},
		{ScramSHA256Plus, "p=tls_exporter,,n=user,r=abc"},
		{"SCRAM-MD5", "n,,n=user,r=abc"},
	} {
		s := NewScramServer(tc.mech, scramLookup(t, sha256.New), testBinding)
		_, _, err := s.Next([]byte(tc.first))
		assert.ErrorIs(t, err, ErrMalformed, "%s %q", tc.mech, tc.first)
	}

	_, _, err := NewScramSHA256PlusClient("user", testSecret, "", ChannelBinding{}).Start()
	assert.ErrorIs(t, err, ErrMalformed)
	_, ir, err := NewScramSHA1PlusClient("user", testSecret, "zid", testBinding).Start()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(ir), "p=tls-exporter,a=zid,n=user,r="), "%q", ir)
	_, ir, err = NewScramSHA256Client("user", testSecret, "").Start()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(ir), "n,,"), "%q", ir)
}

// A -PLUS server built with the convenience constructors binds as
// NewScramServer does.
func TestScramPlusConstructors(t *testing.T) {
	c := NewScramSHA256PlusClient("user", testSecret, "", testBinding)
	e := run(t, c, NewScramSHA256PlusServer(scramLookup(t, sha256.New), testBinding), runOptions{})
	assert.True(t, e.done)
	c = NewScramSHA1PlusClient("user", testSecret, "", testBinding)
	e = run(t, c, NewScramSHA1PlusServer(scramLookup(t, sha1.New), ChannelBinding{}), runOptions{})
	assert.ErrorIs(t, e.serverErr, ErrInvalidCredentials, "a server without a binding refuses -PLUS")
}

// A server given several bindings (TLS 1.2: tls-server-end-point and
// tls-unique) accepts a client bound with either, and checks the data of
// the type the client named.
func TestScramPlusSeveralBindings(t *testing.T) {
	endPoint := ChannelBinding{Type: ChannelBindingTLSServerEndPoint, Data: []byte("end-point-hash-end-point-hash-32")}
	unique := ChannelBinding{Type: ChannelBindingTLSUnique, Data: []byte("finished-msg")}
	for _, cb := range []ChannelBinding{endPoint, unique} {
		s := NewScramServer(ScramSHA256Plus, scramLookup(t, sha256.New), ChannelBinding{}, endPoint, unique)
		e := run(t, NewScramSHA256PlusClient("user", testSecret, "", cb), s, runOptions{})
		assert.True(t, e.done, cb.Type)
	}
	crossed := ChannelBinding{Type: ChannelBindingTLSUnique, Data: endPoint.Data}
	s := NewScramServer(ScramSHA256Plus, scramLookup(t, sha256.New), endPoint, unique)
	e := run(t, NewScramSHA256PlusClient("user", testSecret, "", crossed), s, runOptions{})
	assert.ErrorIs(t, e.serverErr, ErrInvalidCredentials, "the data of the type named")
}
