package main

import (
	"errors"
	"testing"

	"github.com/postwire/postwire/sasl"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseUsers(t *testing.T) {
	us, err := parseUsers("alice:secret,bob:pa:ss:word,carol:ünïcode")
	require.NoError(t, err)
	require.Len(t, us, 3)
	assert.Equal(t, "secret", us["alice"].password)
	assert.Equal(t, "pa:ss:word", us["bob"].password, "a password may hold colons")
	assert.Equal(t, "ünïcode", us["carol"].password)
	assert.Equal(t, scramIterations, us["alice"].scram256.Iterations)
	assert.NotEmpty(t, us["alice"].scram1.StoredKey)
	assert.NotEqual(t, us["alice"].scram1.Salt, us["bob"].scram1.Salt, "salts are random")

	us, err = parseUsers("")
	require.NoError(t, err)
	assert.Empty(t, us)

	for _, bad := range []string{"alice", "alice:", ":secret", "alice:secret,", "alice:a,alice:b", "al ice:x"} {
		_, err := parseUsers(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// authenticate runs one SASL exchange between a client and a server, as
// SMTP AUTH would carry it, and returns the server's verdict.
func authenticate(srv sasl.Server, cl sasl.Client) error {
	_, resp, err := cl.Start()
	if err != nil {
		return err
	}
	for range 10 {
		challenge, done, err := srv.Next(resp)
		if err != nil || done {
			return err
		}
		if resp, err = cl.Next(challenge); err != nil {
			return err
		}
	}
	return errors.New("exchange did not finish")
}

func TestUsersAuthenticateWithEveryMechanism(t *testing.T) {
	us, err := parseUsers("alice:secret,bob:other")
	require.NoError(t, err)
	// The channel binding a TLS 1.3 connection would give both ends.
	cb := sasl.ChannelBinding{Type: sasl.ChannelBindingTLSExporter, Data: []byte("0123456789abcdef0123456789abcdef")}
	clients := map[string]func(user, pass string) sasl.Client{
		sasl.Plain:           func(u, p string) sasl.Client { return sasl.NewPlainClient("", u, p) },
		sasl.Login:           sasl.NewLoginClient,
		sasl.CramMD5:         sasl.NewCramMD5Client,
		sasl.ScramSHA1:       func(u, p string) sasl.Client { return sasl.NewScramSHA1Client(u, p, "") },
		sasl.ScramSHA256:     func(u, p string) sasl.Client { return sasl.NewScramSHA256Client(u, p, "") },
		sasl.ScramSHA1Plus:   func(u, p string) sasl.Client { return sasl.NewScramSHA1PlusClient(u, p, "", cb) },
		sasl.ScramSHA256Plus: func(u, p string) sasl.Client { return sasl.NewScramSHA256PlusClient(u, p, "", cb) },
	}
	require.Len(t, mechanisms, len(clients), "a test client for every mechanism offered")
	for _, mech := range mechanisms {
		t.Run(mech, func(t *testing.T) {
			newClient := clients[mech]
			require.NotNil(t, newClient)
			srv, err := us.server(mech, "mx.test.example", cb)
			require.NoError(t, err)
			require.NoError(t, authenticate(srv, newClient("alice", "secret")))
			id := srv.(sasl.IdentityServer).Identity()
			assert.Equal(t, "alice", id.Authentication)

			for _, wrong := range [][2]string{{"alice", "other"}, {"bob", "secret"}, {"mallory", "secret"}} {
				srv, err := us.server(mech, "mx.test.example", cb)
				require.NoError(t, err)
				err = authenticate(srv, newClient(wrong[0], wrong[1]))
				assert.ErrorIs(t, err, sasl.ErrInvalidCredentials, "%s/%s", wrong[0], wrong[1])
			}
		})
	}
}

func TestPlainRefusesActingAsSomeoneElse(t *testing.T) {
	us, err := parseUsers("alice:secret,bob:other")
	require.NoError(t, err)
	srv, err := us.server(sasl.Plain, "mx.test.example", sasl.ChannelBinding{})
	require.NoError(t, err)
	err = authenticate(srv, sasl.NewPlainClient("bob", "alice", "secret"))
	assert.ErrorIs(t, err, sasl.ErrInvalidCredentials)

	srv, err = us.server(sasl.Plain, "mx.test.example", sasl.ChannelBinding{})
	require.NoError(t, err)
	assert.NoError(t, authenticate(srv, sasl.NewPlainClient("alice", "alice", "secret")))
}

func TestUsersRefuseAMechanismNotOffered(t *testing.T) {
	us, err := parseUsers("alice:secret")
	require.NoError(t, err)
	_, err = us.server(sasl.XOAuth2, "mx.test.example", sasl.ChannelBinding{})
	assert.Error(t, err)
}
