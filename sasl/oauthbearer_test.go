package sasl

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RFC 7628 section 4, base64 as printed (line breaks joined).
const (
	// 4.1, IMAP: the successful bearer token exchange.
	rfc7628IMAPSuccess = "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhv" +
		"c3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyI" +
		"HZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQ" +
		"EB"
	// 4.1, SMTP: the same credential on port 587.
	rfc7628SMTPSuccess = "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2Vy" +
		"dmVyLmV4YW1wbGUuY29tAXBvcnQ9NTg3AWF1dGg9QmVhcmVyIHZGOWRmd" +
		"DRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB"
	// 4.3: the failed exchange, an empty "auth=" asking for the scope,
	// the server's error result, the client's dummy response.
	rfc7628FailedIR = "bixhPXVzZXJAZXhhbXBsZS5jb20sAW" +
		"hvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9AQE="
	rfc7628FailedError = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxl" +
		"X3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4" +
		"YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWcifQ=="
	rfc7628Dummy = "AQ=="
	// 4.4: the SMTP failure.
	rfc7628SMTPFailedIR = "bix1c2VyPXNvbWV1c2VyQGV4YW1wbGUuY29tLAFhdXRoPUJlYXJl" +
		"ciB2RjlkZnQ0cW1UYzJOdmIzUmxja0JoZEhSaGRtbHpkR0V1WTI5dENnPT0BAQ=="
	rfc7628SMTPFailedError = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NoZW1lcyI6ImJlYXJlciBtYWMiL" +
		"CJzY29wZSI6Imh0dHBzOi8vbWFpbC5leGFtcGxlLmNvbS8ifQ=="

	rfc7628Token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
)

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

func TestOAuthBearerRFC7628Success(t *testing.T) {
	for _, tt := range []struct {
		name    string
		encoded string
		decoded string // as the RFC prints it, ^A written \x01
		port    int
	}{
		{"IMAP", rfc7628IMAPSuccess,
			"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01", 143},
		{"SMTP", rfc7628SMTPSuccess,
			"n,a=user@example.com,\x01host=server.example.com\x01port=587\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01", 587},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.decoded, string(b64(t, tt.encoded)), "the RFC's base64 and its decoded text agree")
			opts := OAuthBearerOptions{Username: "user@example.com", Token: rfc7628Token, Host: "server.example.com", Port: tt.port}

			mech, ir, err := NewOAuthBearerClient(opts).Start()
			require.NoError(t, err)
			assert.Equal(t, OAuthBearer, mech)
			assert.Equal(t, tt.encoded, base64.StdEncoding.EncodeToString(ir))

			var got OAuthBearerOptions
			s := NewOAuthBearerServer(func(o OAuthBearerOptions) error {
				got = o
				return nil
			}).(IdentityServer)
			challenge, done, err := s.Next(b64(t, tt.encoded))
			require.NoError(t, err)
			assert.True(t, done)
			assert.Nil(t, challenge)
			assert.Equal(t, opts, got)
			assert.Equal(t, Identity{Authentication: "user@example.com"}, s.Identity())
			assertOverAfter(t, s)
		})
	}
}

func TestOAuthBearerRFC7628Failure(t *testing.T) {
	require.Equal(t, "n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=\x01\x01",
		string(b64(t, rfc7628FailedIR)))
	refusal := &OAuthBearerError{
		Status:              "invalid_token",
		Scope:               "example_scope",
		OpenIDConfiguration: "https://example.com/.well-known/openid-config",
	}

	// Server: the empty "auth=" reaches check, whose error result is sent
	// byte for byte as the RFC's; the dummy response ends in failure.
	var got OAuthBearerOptions
	s := NewOAuthBearerServer(func(o OAuthBearerOptions) error {
		got = o
		return refusal
	}).(IdentityServer)
	challenge, done, err := s.Next(b64(t, rfc7628FailedIR))
	require.NoError(t, err)
	assert.False(t, done)
	assert.Equal(t, rfc7628FailedError, base64.StdEncoding.EncodeToString(challenge))
	assert.Equal(t, OAuthBearerOptions{Username: "user@example.com", Host: "server.example.com", Port: 143}, got)
	_, done, err = s.Next(b64(t, rfc7628Dummy))
	assert.False(t, done)
	assert.ErrorIs(t, err, ErrInvalidCredentials)
	assert.Equal(t, Identity{}, s.Identity())
	assertOverAfter(t, s)

	// Client: the error result becomes the error of Next.
	c := NewOAuthBearerClient(OAuthBearerOptions{Username: "user@example.com", Token: "t"})
	_, _, err = c.Start()
	require.NoError(t, err)
	_, err = c.Next(b64(t, rfc7628FailedError))
	var oe *OAuthBearerError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, refusal, oe)
	assert.ErrorIs(t, err, ErrInvalidCredentials)
}

func TestOAuthBearerRFC7628SMTPFailure(t *testing.T) {
	// Section 4.4's error result, parsed by the client.
	c := NewOAuthBearerClient(OAuthBearerOptions{Token: "t"})
	_, _, err := c.Start()
	require.NoError(t, err)
	_, err = c.Next(b64(t, rfc7628SMTPFailedError))
	var oe *OAuthBearerError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, &OAuthBearerError{Status: "invalid_token", Schemes: "bearer mac", Scope: "https://mail.example.com/"}, oe)

	// And produced by the server, byte for byte.
	s := NewOAuthBearerServer(func(OAuthBearerOptions) error { return oe })
	challenge, _, err := s.Next(b64(t, rfc7628SMTPSuccess))
	require.NoError(t, err)
	assert.Equal(t, rfc7628SMTPFailedError, base64.StdEncoding.EncodeToString(challenge))

	// Section 4.4's initial response, "n,user=someuser@example.com,...",
	// does not follow section 3.1's grammar (the gs2 authzid is "a="):
	// the server refuses it as malformed rather than guess.
	require.Equal(t, "n,user=someuser@example.com,\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==\x01\x01",
		string(b64(t, rfc7628SMTPFailedIR)))
	_, _, err = NewOAuthBearerServer(func(OAuthBearerOptions) error { return nil }).Next(b64(t, rfc7628SMTPFailedIR))
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestOAuthBearerServerGrammar(t *testing.T) {
	tests := []struct {
		name    string
		message string
		want    *OAuthBearerOptions
	}{
		{"minimal", "n,,\x01auth=Bearer tok\x01\x01", &OAuthBearerOptions{Token: "tok"}},
		{"y flag", "y,,\x01auth=Bearer tok\x01\x01", &OAuthBearerOptions{Token: "tok"}},
		{"scheme case", "n,,\x01auth=bEaReR tok\x01\x01", &OAuthBearerOptions{Token: "tok"}},
		{"unknown keys ignored", "n,,\x01mthd=POST\x01auth=Bearer tok\x01path=/\x01\x01", &OAuthBearerOptions{Token: "tok"}},
		{"escaped authzid", "n,a=a=2Cb,\x01auth=Bearer tok\x01\x01", &OAuthBearerOptions{Username: "a,b", Token: "tok"}},
		{"channel binding", "p=tls-unique,,\x01auth=Bearer tok\x01\x01", nil},
		{"no gs2 header", "\x01auth=Bearer tok\x01\x01", nil},
		{"only kvsep", "\x01", nil},
		{"empty", "", nil},
		{"no auth", "n,,\x01host=h\x01\x01", nil},
		{"not bearer", "n,,\x01auth=Basic dTpw\x01\x01", nil},
		{"bearer without token", "n,,\x01auth=Bearer \x01\x01", nil},
		{"repeated key", "n,,\x01auth=Bearer a\x01auth=Bearer b\x01\x01", nil},
		{"missing final kvsep", "n,,\x01auth=Bearer tok\x01", nil},
		{"trailing bytes", "n,,\x01auth=Bearer tok\x01\x01x", nil},
		{"bad key", "n,,\x01au th=x\x01auth=Bearer tok\x01\x01", nil},
		{"bad value", "n,,\x01host=\x00\x01auth=Bearer tok\x01\x01", nil},
		{"port leading zero", "n,,\x01port=0143\x01auth=Bearer tok\x01\x01", nil},
		{"port too big", "n,,\x01port=65536\x01auth=Bearer tok\x01\x01", nil},
		{"bad authzid", "n,a=x=,\x01auth=Bearer tok\x01\x01", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got OAuthBearerOptions
			s := NewOAuthBearerServer(func(o OAuthBearerOptions) error { got = o; return nil })
			_, done, err := s.Next([]byte(tt.message))
			if tt.want == nil {
				assert.ErrorIs(t, err, ErrMalformed)
				assert.False(t, done)
				return
			}
			require.NoError(t, err)
			assert.True(t, done)
			assert.Equal(t, *tt.want, got)
		})
	}
}

func TestOAuthBearerServerFailurePaths(t *testing.T) {
	ir := []byte("n,,\x01auth=Bearer " + testSecret + "x\x01\x01")

	// A plain ErrInvalidCredentials becomes {"status":"invalid_token"}.
	s := NewOAuthBearerServer(func(o OAuthBearerOptions) error { return checkSecret(o.Token) })
	challenge, _, err := s.Next(ir)
	require.NoError(t, err)
	assert.JSONEq(t, `{"status":"invalid_token"}`, string(challenge))
	// go-sasl panics here; this server fails cleanly.
	_, done, err := s.Next([]byte{})
	assert.False(t, done)
	assert.ErrorIs(t, err, ErrMalformed)
	assertOverAfter(t, s)

	// Another error (the token service is down) is returned at once.
	down := errors.New("token service unavailable")
	s = NewOAuthBearerServer(func(OAuthBearerOptions) error { return down })
	_, _, err = s.Next(ir)
	assert.ErrorIs(t, err, down)

	// An empty token fails even if check forgot to refuse it.
	s = NewOAuthBearerServer(func(OAuthBearerOptions) error { return nil })
	challenge, done, err = s.Next([]byte("n,,\x01auth=\x01\x01"))
	require.NoError(t, err)
	assert.False(t, done)
	assert.JSONEq(t, `{"status":"invalid_token"}`, string(challenge))
	_, _, err = s.Next([]byte{1})
	assert.ErrorIs(t, err, ErrInvalidCredentials)
}

func TestOAuthBearerClient(t *testing.T) {
	for _, bad := range []OAuthBearerOptions{
		{Token: ""}, {Token: "a\x01b"}, {Token: "t", Host: "h\x01"}, {Token: "t", Port: 70000}, {Token: "t", Username: "\xff"},
	} {
		_, _, err := NewOAuthBearerClient(bad).Start()
		assert.ErrorIs(t, err, ErrMalformed, "%+v", bad)
	}
	c := NewOAuthBearerClient(OAuthBearerOptions{Token: "t"})
	_, ir, err := c.Start()
	require.NoError(t, err)
	assert.Equal(t, "n,,\x01auth=Bearer t\x01\x01", string(ir))
	resp, err := c.Next([]byte{})
	require.NoError(t, err, "an empty challenge asks for the message")
	assert.Equal(t, ir, resp)
	_, err = c.Next([]byte("not json"))
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = c.Next([]byte(`{"status":"invalid_token"}`))
	assert.ErrorIs(t, err, ErrMalformed, "the exchange is over")
}

func FuzzOAuthBearerServer(f *testing.F) {
	f.Add([]byte("n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer "+testSecret+"\x01\x01"), []byte{}, false)
	f.Add([]byte("n,,\x01auth=Bearer wrong\x01\x01"), []byte{1}, true)
	f.Add([]byte("n,,\x01auth=\x01\x01"), []byte{}, false)
	f.Add([]byte("\x01"), []byte(nil), false)
	f.Fuzz(func(t *testing.T, first, second []byte, noIR bool) {
		s := NewOAuthBearerServer(func(o OAuthBearerOptions) error { return checkSecret(o.Token) }).(IdentityServer)
		fuzzServer(t, s, noIR, first, second, nil)
	})
}
