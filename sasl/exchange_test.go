package sasl

import (
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mechanismPair builds, for one mechanism, a client holding the given
// secret and a server that knows testSecret for user "tim".
type mechanismPair struct {
	mech   string
	client func(secret string) Client
	server func(t *testing.T) IdentityServer
	want   Identity // after success
	// cancel alters the exchange so that the client refuses a challenge
	// and cancels, as when a server misbehaves.
	cancel runOptions
}

// garble replaces challenge i with bytes no client of this package accepts
// at that point.
func garble(at int, with string) func(int, []byte) []byte {
	return func(i int, challenge []byte) []byte {
		if i == at {
			return []byte(with)
		}
		return challenge
	}
}

func scramServerFor(t *testing.T, mech string) IdentityServer {
	h := sha256.New
	if mech == ScramSHA1 {
		h = sha1.New
	}
	creds, err := NewScramCredentials(h, testSecret, nil, 4096)
	require.NoError(t, err)
	lookup := func(u string) (ScramCredentials, error) {
		if u != "tim" {
			return ScramCredentials{}, ErrInvalidCredentials
		}
		return creds, nil
	}
	if mech == ScramSHA1 {
		return NewScramSHA1Server(lookup).(IdentityServer)
	}
	return NewScramSHA256Server(lookup).(IdentityServer)
}

var mechanismPairs = []mechanismPair{
	{
		mech:   Plain,
		client: func(secret string) Client { return NewPlainClient("", "tim", secret) },
		server: func(*testing.T) IdentityServer {
			return NewPlainServer(func(_, u, p string) error { return checkTim(u, p) }).(IdentityServer)
		},
		cancel: runOptions{noIR: true, tamper: garble(0, "unexpected")},
	},
	{
		mech:   Login,
		client: func(secret string) Client { return NewLoginClient("tim", secret) },
		server: func(*testing.T) IdentityServer {
			return NewLoginServer(func(u, p string) error { return checkTim(u, p) }).(IdentityServer)
		},
		// No garbling upsets a LOGIN client (it answers by order); a
		// server that asks a third time does: see loginRepeater.
	},
	{
		mech:   CramMD5,
		client: func(secret string) Client { return NewCramMD5Client("tim", secret) },
		server: func(*testing.T) IdentityServer {
			return NewCramMD5Server("mx.example.org", func(u string) (string, error) {
				if u != "tim" {
					return "", ErrInvalidCredentials
				}
				return testSecret, nil
			}).(IdentityServer)
		},
		cancel: runOptions{tamper: garble(0, "")},
	},
	{
		mech:   ScramSHA1,
		client: func(secret string) Client { return NewScramSHA1Client("tim", secret, "") },
		server: func(t *testing.T) IdentityServer { return scramServerFor(t, ScramSHA1) },
		cancel: runOptions{tamper: garble(0, "r=someone-elses-nonce,s=QSXCR+Q6sek8bf92,i=4096")},
	},
	{
		mech:   ScramSHA256,
		client: func(secret string) Client { return NewScramSHA256Client("tim", secret, "") },
		server: func(t *testing.T) IdentityServer { return scramServerFor(t, ScramSHA256) },
		// A forged server signature: the client refuses the server.
		cancel: runOptions{tamper: garble(1, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")},
	},
	{
		mech: OAuthBearer,
		client: func(secret string) Client {
			return NewOAuthBearerClient(OAuthBearerOptions{Username: "tim", Token: secret, Host: "mx.example.org", Port: 587})
		},
		server: func(*testing.T) IdentityServer {
			return NewOAuthBearerServer(func(o OAuthBearerOptions) error { return checkTim(o.Username, o.Token) }).(IdentityServer)
		},
		cancel: runOptions{noIR: true, tamper: garble(0, "unexpected")},
	},
	{
		mech:   XOAuth2,
		client: func(secret string) Client { return NewXOAuth2Client("tim", secret) },
		server: func(*testing.T) IdentityServer {
			return NewXOAuth2Server(func(u, tok string) error { return checkTim(u, tok) }).(IdentityServer)
		},
		cancel: runOptions{noIR: true, tamper: garble(0, "unexpected")},
	},
}

func init() {
	for i := range mechanismPairs {
		mechanismPairs[i].want = Identity{Authentication: "tim"}
	}
}

// checkTim accepts user "tim" with testSecret.
func checkTim(username, secret string) error {
	if username != "tim" {
		return ErrInvalidCredentials
	}
	return checkSecret(secret)
}

func TestEveryClientAgainstItsServer(t *testing.T) {
	for _, p := range mechanismPairs {
		t.Run(p.mech, func(t *testing.T) {
			t.Run("success", func(t *testing.T) {
				for _, noIR := range []bool{false, true} {
					s := p.server(t)
					e := run(t, p.client(testSecret), s, runOptions{noIR: noIR})
					require.NoError(t, e.serverErr, "noIR=%v", noIR)
					require.NoError(t, e.clientErr, "noIR=%v", noIR)
					assert.True(t, e.done)
					assert.Equal(t, p.want, s.Identity())
					assertOverAfter(t, s)
				}
			})
			t.Run("wrong secret", func(t *testing.T) {
				s := p.server(t)
				e := run(t, p.client(testSecret+"x"), s, runOptions{})
				assert.False(t, e.done)
				// The OAuth clients abort on the error result (their Next
				// returns it), the others are refused by the server.
				err := errors.Join(e.serverErr, e.clientErr)
				assert.ErrorIs(t, err, ErrInvalidCredentials)
				assertNoSecret(t, err)
				assert.Equal(t, Identity{}, s.Identity())
			})
			if p.cancel.tamper == nil {
				return
			}
			t.Run("client cancels", func(t *testing.T) {
				s := p.server(t)
				e := run(t, p.client(testSecret), s, p.cancel)
				require.Error(t, e.clientErr, "the client refuses the challenge")
				assert.NoError(t, e.serverErr)
				assert.False(t, e.done)
				assertNoSecret(t, e.clientErr)
				assert.Equal(t, Identity{}, s.Identity(), "a cancelled exchange authenticates nobody")
			})
		})
	}
}

// loginRepeater is a misbehaving LOGIN server that prompts once more after
// the password.
type loginRepeater struct{ Server }

func (r loginRepeater) Next(response []byte) ([]byte, bool, error) {
	challenge, done, err := r.Server.Next(response)
	if done {
		return []byte("Password:"), false, nil
	}
	return challenge, done, err
}

func TestLoginClientCancels(t *testing.T) {
	s := NewLoginServer(func(u, p string) error { return nil })
	e := run(t, NewLoginClient("tim", "pw"), loginRepeater{s}, runOptions{})
	assert.ErrorIs(t, e.clientErr, ErrMalformed)
	assert.False(t, e.done)
}

func TestExternalAndAnonymousExchanges(t *testing.T) {
	for _, noIR := range []bool{false, true} {
		s := NewExternalServerWithIdentity("CN=tim", func(authzid string) error { return nil }).(IdentityServer)
		e := run(t, NewExternalClient("tim"), s, runOptions{noIR: noIR})
		assert.True(t, e.done)
		assert.Equal(t, Identity{Authorization: "tim", Authentication: "CN=tim"}, s.Identity())

		s = NewAnonymousServer(func(trace string) error { return nil }).(IdentityServer)
		e = run(t, NewAnonymousClient("tim@example.org"), s, runOptions{noIR: noIR})
		assert.True(t, e.done)
		assert.Equal(t, Identity{Authentication: AnonymousIdentity}, s.Identity())
	}
	// Refused, and cancelled on an unexpected challenge.
	e := run(t, NewExternalClient("root"), NewExternalServer(func(string) error { return ErrInvalidCredentials }), runOptions{})
	assert.ErrorIs(t, e.serverErr, ErrInvalidCredentials)
	e = run(t, NewAnonymousClient(""), NewAnonymousServer(func(string) error { return ErrInvalidCredentials }), runOptions{})
	assert.ErrorIs(t, e.serverErr, ErrInvalidCredentials)
	e = run(t, NewExternalClient(""), NewExternalServer(func(string) error { return nil }), runOptions{noIR: true, tamper: garble(0, "x")})
	assert.ErrorIs(t, e.clientErr, ErrMalformed)
	e = run(t, NewAnonymousClient(""), NewAnonymousServer(func(string) error { return nil }), runOptions{noIR: true, tamper: garble(0, "x")})
	assert.ErrorIs(t, e.clientErr, ErrMalformed)
}
