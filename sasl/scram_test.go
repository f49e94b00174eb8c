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

// scramVector is an exchange from an RFC: user "user", password "pencil".
type scramVector struct {
	mech                     string
	h                        func() hash.Hash
	clientNonce, serverNonce string
	salt                     string // base64
	clientFirst, serverFirst string
	clientFinal, serverFinal string
}

var scramVectors = []scramVector{
	{ // RFC 5802 section 5
		mech: ScramSHA1, h: sha1.New,
		clientNonce: "fyko+d2lbbFgONRv9qkxdawL",
		serverNonce: "3rfcNHYJY1ZVvWVs7j",
		salt:        "QSXCR+Q6sek8bf92",
		clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
		serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
		clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
		serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
	},
	{ // RFC 7677 section 3
		mech: ScramSHA256, h: sha256.New,
		clientNonce: "rOprNGfwEbeRWgbNEkqO",
		serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
		salt:        "W22ZaJ0SNY7soEsUEjb6gQ==",
		clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
		serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
	},
}

func (v scramVector) credentials(t testing.TB, password string) ScramCredentials {
	salt, err := base64.StdEncoding.DecodeString(v.salt)
	require.NoError(t, err)
	creds, err := NewScramCredentials(v.h, password, salt, 4096)
	require.NoError(t, err)
	return creds
}

func (v scramVector) client(username, password, authzid string) *scramClient {
	c := newScramClient(v.mech, username, password, authzid)
	c.nonce = v.clientNonce
	return c
}

func (v scramVector) server(lookup func(string) (ScramCredentials, error)) *scramServer {
	s := newScramServer(v.mech, lookup)
	s.nonce = v.serverNonce
	return s
}

func (v scramVector) lookup(t testing.TB, password string) func(string) (ScramCredentials, error) {
	creds := v.credentials(t, password)
	return func(username string) (ScramCredentials, error) {
		if username != "user" {
			return ScramCredentials{}, ErrInvalidCredentials
		}
		return creds, nil
	}
}

func TestScramRFCVectorsClient(t *testing.T) {
	for _, v := range scramVectors {
		t.Run(v.mech, func(t *testing.T) {
			c := v.client("user", "pencil", "")
			mech, ir, err := c.Start()
			require.NoError(t, err)
			assert.Equal(t, v.mech, mech)
			assert.Equal(t, v.clientFirst, string(ir))
			resp, err := c.Next([]byte(v.serverFirst))
			require.NoError(t, err)
			assert.Equal(t, v.clientFinal, string(resp))
			resp, err = c.Next([]byte(v.serverFinal))
			require.NoError(t, err)
			assert.Equal(t, []byte{}, resp)
			_, err = c.Next(nil)
			assert.Error(t, err, "nothing after the server signature")
		})
	}
}

func TestScramRFCVectorsServer(t *testing.T) {
	for _, v := range scramVectors {
		t.Run(v.mech, func(t *testing.T) {
			s := v.server(v.lookup(t, "pencil"))
			challenge, done, err := s.Next(nil)
			require.NoError(t, err)
			assert.False(t, done)
			assert.Equal(t, []byte{}, challenge, "no initial response: empty challenge")
			challenge, done, err = s.Next([]byte(v.clientFirst))
			require.NoError(t, err)
			assert.False(t, done)
			assert.Equal(t, v.serverFirst, string(challenge))
			challenge, done, err = s.Next([]byte(v.clientFinal))
			require.NoError(t, err)
			assert.False(t, done)
			assert.Equal(t, v.serverFinal, string(challenge))
			assert.Equal(t, Identity{}, s.Identity(), "not yet done")
			_, done, err = s.Next([]byte{})
			require.NoError(t, err)
			assert.True(t, done)
			assert.Equal(t, Identity{Authentication: "user"}, s.Identity())
			assertOverAfter(t, s)
		})
	}
}

// scramAfterFirst runs a server through the RFC client-first and returns it.
func scramAfterFirst(t *testing.T, v scramVector) *scramServer {
	s := v.server(v.lookup(t, "pencil"))
	_, _, err := s.Next([]byte(v.clientFirst))
	require.NoError(t, err)
	return s
}

func TestScramServerClientFinal(t *testing.T) {
	v := scramVectors[0]
	proof := v.clientFinal[strings.LastIndex(v.clientFinal, ",p="):]
	nonce := "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j"
	tests := []struct {
		name  string
		final string
		kind  error
	}{
		{"wrong proof", "c=biws," + nonce + ",p=AAAAAAAAAAAAAAAAAAAAAAAAAAA=", ErrInvalidCredentials},
		{"wrong nonce", "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7k" + proof, ErrMalformed},
		{"wrong channel binding", "c=eSws," + nonce + proof, ErrMalformed},
		{"missing proof", "c=biws," + nonce, ErrMalformed},
		{"proof not base64", "c=biws," + nonce + ",p=!!!", ErrMalformed},
		{"proof of wrong size", "c=biws," + nonce + ",p=AAAA", ErrMalformed},
		{"attributes out of order", nonce + ",c=biws" + proof, ErrMalformed},
		{"empty attribute", "c=biws," + nonce + "," + proof, ErrMalformed},
		{"extension changes the signed message", "c=biws," + nonce + ",x=1" + proof, ErrInvalidCredentials},
		{"mandatory extension", "c=biws," + nonce + ",m=1" + proof, ErrMalformed},
		{"empty", "", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scramAfterFirst(t, v)
			_, done, err := s.Next([]byte(tt.final))
			assert.False(t, done)
			assert.ErrorIs(t, err, tt.kind)
			assertNoSecret(t, err)
			assertOverAfter(t, s)
		})
	}
}

func TestScramServerClientFirst(t *testing.T) {
	v := scramVectors[1]
	const r = ",r=rOprNGfwEbeRWgbNEkqO"
	tests := []struct {
		name       string
		first      string
		ok         bool
		wantUser   string
		wantAuthz  string
		wantHeader string
	}{
		{"rfc", v.clientFirst, true, "user", "", "n,,"},
		// "y": the client supports channel binding but thinks the server
		// does not; fine, as no -PLUS variant is advertised (RFC 5802
		// section 6).
		{"y flag", "y,,n=user" + r, true, "user", "", "y,,"},
		{"authzid", "n,a=Ursel,n=user" + r, true, "user", "Ursel", "n,a=Ursel,"},
		{"escaped names", "n,a=a=2Cb=3Dc,n=user" + r, true, "user", "a,b=c", "n,a=a=2Cb=3Dc,"},
		{"extension ignored", v.clientFirst + ",x=whatever", true, "user", "", "n,,"},
		{"channel binding", "p=tls-unique,,n=user" + r, false, "", "", ""},
		{"bad flag", "x,,n=user" + r, false, "", "", ""},
		{"no gs2 header", "n=user" + r, false, "", "", ""},
		{"mandatory extension", "n,,m=ext,n=user" + r, false, "", "", ""},
		{"bad escape", "n,,n=us=2cer" + r, false, "", "", ""},
		{"lone equals", "n,,n=us=er" + r, false, "", "", ""},
		{"empty user", "n,,n=" + r, false, "", "", ""},
		{"no nonce", "n,,n=user", false, "", "", ""},
		{"empty nonce", "n,,n=user,r=", false, "", "", ""},
		{"nonce not printable", "n,,n=user,r=a b", false, "", "", ""},
		{"order", "n,,r=abc,n=user", false, "", "", ""},
		{"trailing comma", v.clientFirst + ",", false, "", "", ""},
		{"bad authzid", "n,a=,n=user" + r, false, "", "", ""},
		{"user refused by PRECIS", "n,,n=us\u0007er" + r, false, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var looked string
			creds := v.credentials(t, "pencil")
			s := v.server(func(u string) (ScramCredentials, error) {
				looked = u
				return creds, nil
			})
			challenge, done, err := s.Next([]byte(tt.first))
			assert.False(t, done)
			if !tt.ok {
				assert.ErrorIs(t, err, ErrMalformed)
				assertOverAfter(t, s)
				return
			}
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(string(challenge), "r=rOprNGfwEbeRWgbNEkqO%hvYD"))
			assert.Equal(t, tt.wantUser, looked)
			assert.Equal(t, tt.wantAuthz, s.id.Authorization)
			assert.Equal(t, tt.wantHeader, s.gs2Header)
		})
	}
}

func TestScramServerLookupFailures(t *testing.T) {
	v := scramVectors[1]
	// An unknown user gets a salt as a known one does (the same on every
	// attempt), and fails at the proof with the lookup's error.
	var salts [2]string
	for i := range salts {
		s := v.server(v.lookup(t, "pencil"))
		first, _, err := s.Next([]byte("n,,n=nobody,r=abc"))
		require.NoError(t, err, "an unknown user is not told at once")
		assert.Regexp(t, `^r=abc%hvYDpWUa2RaTCAfuxFIlj\)hNlF\$k0,s=[A-Za-z0-9+/]{22}==,i=4096$`, string(first))
		salts[i] = string(first)
		c := newScramClient(v.mech, "nobody", "pencil", "")
		c.nonce = "abc"
		_, _, err = c.Start()
		require.NoError(t, err)
		final, err := c.Next(first)
		require.NoError(t, err)
		_, done, err := s.Next(final)
		assert.False(t, done)
		assert.ErrorIs(t, err, ErrInvalidCredentials)
	}
	assert.Equal(t, salts[0], salts[1])

	s := v.server(func(string) (ScramCredentials, error) {
		return scramVectors[0].credentials(t, "pencil"), nil // SHA-1 keys for SHA-256
	})
	_, _, err := s.Next([]byte(v.clientFirst))
	assert.Error(t, err)
	assert.NotErrorIs(t, err, ErrInvalidCredentials)
	assert.NotErrorIs(t, err, ErrMalformed)

	s = scramAfterFirst(t, v)
	_, _, err = s.Next([]byte(v.clientFinal))
	require.NoError(t, err)
	_, done, err := s.Next([]byte("x"))
	assert.False(t, done)
	assert.ErrorIs(t, err, ErrMalformed, "the last response must be empty")
}

func TestScramClientChecksServer(t *testing.T) {
	v := scramVectors[0]
	tests := []struct {
		name        string
		serverFirst string
		serverFinal string
		kind        error
	}{
		{"wrong signature", v.serverFirst, "v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=", ErrInvalidCredentials},
		{"server error", v.serverFirst, "e=invalid-proof", ErrInvalidCredentials},
		{"verifier not base64", v.serverFirst, "v=!!", ErrMalformed},
		{"no verifier", v.serverFirst, "x=1", ErrMalformed},
		{"nonce not extended", "r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096", "", ErrMalformed},
		{"nonce not ours", "r=xyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096", "", ErrMalformed},
		{"mandatory extension", "m=x," + v.serverFirst, "", ErrMalformed},
		{"zero iterations", "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=0", "", ErrMalformed},
		{"signed iterations", "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=+1", "", ErrMalformed},
		{"too many iterations", "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=999999999", "", ErrMalformed},
		{"bad salt", "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=***,i=4096", "", ErrMalformed},
		{"no salt", "r=fyko+d2lbbFgONRv9qkxdawL3rfc,i=4096", "", ErrMalformed},
		{"empty", "", "", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := v.client("user", "pencil", "")
			_, _, err := c.Start()
			require.NoError(t, err)
			_, err = c.Next([]byte(tt.serverFirst))
			if err == nil {
				_, err = c.Next([]byte(tt.serverFinal))
			}
			assert.ErrorIs(t, err, tt.kind)
			assertNoSecret(t, err)
		})
	}
	c := v.client("user", "pencil", "")
	_, _, _ = c.Start()
	_, _ = c.Next([]byte(v.serverFirst))
	_, err := c.Next([]byte("e=invalid-proof"))
	assert.ErrorContains(t, err, "invalid-proof", "the server's error name is told")
}

func TestScramClientStart(t *testing.T) {
	c := newScramClient(ScramSHA256, "a,b=c", "pencil", "x=y,z")
	_, ir, err := c.Start()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(ir), "n,a=x=3Dy=2Cz,n=a=2Cb=3Dc,r="), string(ir))
	nonce := string(ir)[strings.LastIndex(string(ir), "r=")+2:]
	assert.Len(t, nonce, 24)
	assert.True(t, validScramNonce(nonce))
	_, _, err = c.Start()
	assert.Error(t, err, "Start only once")

	for _, args := range [][2]string{{"", "p"}, {"two words", "p"}, {"u", ""}, {"u", "a\x00b"}} {
		_, _, err := NewScramSHA1Client(args[0], args[1], "").Start()
		assert.ErrorIs(t, err, ErrMalformed, "%q", args)
	}
}

func TestNewScramCredentials(t *testing.T) {
	c, err := NewScramCredentials(sha256.New, "pencil", nil, 4096)
	require.NoError(t, err)
	assert.Len(t, c.Salt, 16)
	assert.Len(t, c.StoredKey, sha256.Size)
	assert.Len(t, c.ServerKey, sha256.Size)
	d, err := NewScramCredentials(sha256.New, "pencil", nil, 4096)
	require.NoError(t, err)
	assert.NotEqual(t, c.Salt, d.Salt, "random salts")
	assert.NotEqual(t, c.StoredKey, d.StoredKey)

	_, err = NewScramCredentials(sha1.New, "pencil", []byte("salt"), 0)
	assert.Error(t, err)
	_, err = NewScramCredentials(sha1.New, "", []byte("salt"), 1)
	assert.ErrorIs(t, err, ErrMalformed, "OpaqueString refuses an empty password")
}

// FuzzScramServer drives both SCRAM servers with the RFC nonces fixed, so
// that mutations of the RFC exchanges reach every step.
func FuzzScramServer(f *testing.F) {
	for i, v := range scramVectors {
		f.Add(uint8(i), []byte(v.clientFirst), []byte(v.clientFinal), []byte{}, false)
		f.Add(uint8(i), []byte(v.clientFirst), []byte(v.clientFinal), []byte(nil), true)
	}
	f.Add(uint8(0), []byte("y,a=x=2C,n=u=3D,r=abc,x=1"), []byte("c=eSxhPXg9MkMs,r=abc,p="), []byte("x"), false)
	f.Add(uint8(1), []byte("p=tls-unique,,n=user,r=a"), []byte{}, []byte{}, false)
	creds := [2]ScramCredentials{scramVectors[0].credentials(f, testSecret), scramVectors[1].credentials(f, testSecret)}
	f.Fuzz(func(t *testing.T, which uint8, first, final, last []byte, noIR bool) {
		v := scramVectors[int(which)%2]
		s := v.server(func(string) (ScramCredentials, error) { return creds[int(which)%2], nil })
		fuzzServer(t, s, noIR, first, final, last, nil)
	})
}
