package sasl

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// XOAUTH2, the OAuth 2.0 mechanism of Gmail and Outlook (Google's "OAuth
// 2.0 Mechanism" page; no RFC): one message
//
//	"user=" user %x01 "auth=Bearer " token %x01 %x01
//
// On failure the server sends an error result in JSON as a challenge, the
// client answers (Google expects an empty response) and the server fails.
// This package's client aborts instead, returning the *OAuthBearerError it
// received, as its OAUTHBEARER client does; its server fails on any answer.

type xoauth2Client struct {
	username, token string
	step            int // 0 before Start, 1 after, 3 over
	message         []byte
}

// NewXOAuth2Client returns an XOAUTH2 client sending username and the
// bearer token in the initial response. An error result from the server
// makes Next return it as an *OAuthBearerError.
func NewXOAuth2Client(username, token string) Client {
	return &xoauth2Client{username: username, token: token}
}

func (c *xoauth2Client) Start() (string, []byte, error) {
	if c.username == "" || strings.IndexByte(c.username, oauthKVSep) >= 0 || !utf8.ValidString(c.username) {
		return "", nil, malformed(XOAuth2, "user name missing or not allowed")
	}
	if c.token == "" || !validOAuthValue(c.token) {
		return "", nil, malformed(XOAuth2, "token missing or not allowed")
	}
	c.message = []byte("user=" + c.username + "\x01auth=Bearer " + c.token + "\x01\x01")
	c.step = 1
	return XOAuth2, c.message, nil
}

func (c *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	step := c.step
	c.step = 3
	switch {
	case step == 1 && len(challenge) == 0:
		c.step = 2 // the initial response was not sent: send it now
		return c.message, nil
	case step == 1 || step == 2:
		return nil, parseOAuthError(XOAuth2, challenge)
	}
	return nil, malformed(XOAuth2, "unexpected server challenge")
}

type xoauth2Server struct {
	outcome
	check   func(username, token string) error
	asked   bool
	failure error
}

// NewXOAuth2Server returns an XOAUTH2 server. It calls check with the user
// name and the bearer token. check returns nil to accept; to refuse it
// returns an *OAuthBearerError (sent as the error result) or an error
// wrapping ErrInvalidCredentials (sent as
// {"status":"401","schemes":"bearer"}, Google's form); the server fails
// with the refusal on the client's next response, whatever it is. Any
// other error from check is returned at once. Identity reports the user
// name as Authentication.
func NewXOAuth2Server(check func(username, token string) error) Server {
	return &xoauth2Server{outcome: outcome{mech: XOAuth2}, check: check}
}

func (s *xoauth2Server) Next(response []byte) ([]byte, bool, error) {
	if err := s.finished(); err != nil {
		return nil, false, err
	}
	if s.failure != nil {
		return s.fail(s.failure)
	}
	if response == nil && !s.asked {
		s.asked = true
		return []byte{}, false, nil
	}
	username, token, err := parseXOAuth2(response)
	if err != nil {
		return s.fail(err)
	}
	s.attempt(username)
	err = s.check(username, token)
	if err == nil {
		return s.succeed(Identity{Authentication: username})
	}
	if !isCredentialsError(err) {
		return s.fail(err)
	}
	var oe *OAuthBearerError
	if !errors.As(err, &oe) || oe == nil || oe.Status == "" {
		oe = &OAuthBearerError{Status: "401", Schemes: "bearer"}
	}
	s.failure = oe
	return oauthErrorChallenge(oe, *oe), false, nil
}

// parseXOAuth2 parses "user=" user %x01 "auth=" "Bearer " token %x01 %x01.
func parseXOAuth2(msg []byte) (username, token string, err error) {
	s, ok := strings.CutPrefix(string(msg), "user=")
	if !ok {
		return "", "", malformed(XOAuth2, "user missing")
	}
	username, s, ok = strings.Cut(s, "\x01")
	if !ok || username == "" || !utf8.ValidString(username) || strings.IndexByte(username, 0) >= 0 {
		return "", "", malformed(XOAuth2, "bad user")
	}
	auth, ok := strings.CutPrefix(s, "auth=")
	if !ok {
		return "", "", malformed(XOAuth2, "auth missing")
	}
	auth, ok = strings.CutSuffix(auth, "\x01\x01")
	if !ok || strings.IndexByte(auth, oauthKVSep) >= 0 || !validOAuthValue(auth) {
		return "", "", malformed(XOAuth2, "bad auth")
	}
	token, ok = bearerToken(auth)
	if !ok {
		return "", "", malformed(XOAuth2, "auth is not a bearer token")
	}
	return username, token, nil
}
