package sasl

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testSecret is the password, secret or token the tests' credential
// checks know; no error text may ever contain it.
const testSecret = "Tr0ub4dor&3-s3cret"

// exchange is how an exchange ended, as the SMTP layer would see it.
type exchange struct {
	done      bool
	serverErr error // the server failed the exchange
	clientErr error // the client's Next failed: the SMTP layer sends "*" (cancel)
	steps     int
}

// runOptions alter an exchange to reach the paths a well-behaved peer
// never takes.
type runOptions struct {
	noIR   bool                                 // drop the client's initial response
	tamper func(i int, challenge []byte) []byte // rewrite the i-th challenge (0-based)
}

// run drives client against server the way the SMTP AUTH command does
// (RFC 4954 section 4): initial response, then challenge/response rounds.
// A client error is a cancel: the SMTP client sends "*" and the server
// object is abandoned.
func run(t *testing.T, c Client, s Server, opts runOptions) exchange {
	t.Helper()
	_, ir, err := c.Start()
	require.NoError(t, err)
	if opts.noIR {
		ir = nil
	}
	response := ir
	var e exchange
	for i := 0; i < 10; i++ {
		challenge, done, err := s.Next(response)
		e.steps++
		if err != nil {
			e.serverErr = err
			return e
		}
		if done {
			require.Nil(t, challenge, "a done server sends no challenge")
			e.done = true
			return e
		}
		if opts.tamper != nil {
			challenge = opts.tamper(i, challenge)
		}
		response, err = c.Next(challenge)
		if err != nil {
			e.clientErr = err
			return e
		}
	}
	t.Fatal("exchange did not end after 10 rounds")
	return e
}

// assertNoSecret checks that an error's text does not carry the secret.
func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		assert.NotContains(t, err.Error(), testSecret)
		assert.NotContains(t, err.Error(), "pencil")
	}
}

// assertOverAfter checks that a server whose exchange ended refuses more.
func assertOverAfter(t *testing.T, s Server) {
	t.Helper()
	for _, resp := range [][]byte{nil, {}, []byte("more")} {
		challenge, done, err := s.Next(resp)
		assert.Nil(t, challenge)
		assert.False(t, done)
		assert.ErrorIs(t, err, ErrMalformed)
	}
}

// fuzzServer feeds a server a sequence of responses and checks the
// invariants every server keeps: no panic (the fuzzer reports it), no
// secret in an error, nothing but errors after the end, an Identity only
// after success.
func fuzzServer(t *testing.T, s IdentityServer, noIR bool, responses ...[]byte) {
	if noIR {
		responses = append([][]byte{nil}, responses...)
	}
	over := false
	for _, resp := range responses {
		challenge, done, err := s.Next(resp)
		assertNoSecret(t, err)
		if over {
			if err == nil || done {
				t.Fatalf("Next after the end: done=%v err=%v", done, err)
			}
			continue
		}
		if done && err != nil {
			t.Fatalf("done with an error: %v", err)
		}
		if challenge != nil && strings.Contains(string(challenge), testSecret) {
			t.Fatalf("challenge carries the secret")
		}
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("error of no known kind: %v", err)
		}
		over = done || err != nil
		if !done && s.Identity() != (Identity{}) {
			t.Fatalf("identity before success")
		}
	}
}

// checkSecret is a credential check that knows testSecret.
func checkSecret(given string) error {
	if given != testSecret {
		return ErrInvalidCredentials
	}
	return nil
}

func TestMechError(t *testing.T) {
	err := malformed(Plain, "some reason")
	assert.Equal(t, "sasl: PLAIN: some reason", err.Error())
	assert.ErrorIs(t, err, ErrMalformed)
	assert.NotErrorIs(t, err, ErrInvalidCredentials)
	assert.ErrorIs(t, invalid(Login, "x"), ErrInvalidCredentials)
}
