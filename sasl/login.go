package sasl

import (
	"bytes"
	"unicode/utf8"
)

// The LOGIN mechanism (draft-murchison-sasl-login-00): the server asks for
// the user name, then the password, each answered in a separate response.

// Challenges the LOGIN server sends (draft-murchison-sasl-login section 2).
const (
	loginUsernameChallenge = "Username:"
	loginPasswordChallenge = "Password:"
)

// loginMaxField bounds each LOGIN answer, as PLAIN bounds its fields.
const loginMaxField = 255

type loginClient struct {
	username, password string
	initial            bool
	answered           int // responses given so far, the initial one included
}

// NewLoginClient returns a LOGIN client. It answers the server's challenges
// by order, whatever their text (servers word them differently): the first
// with the user name, the second with the password. A third challenge is
// an error.
func NewLoginClient(username, password string) Client {
	return &loginClient{username: username, password: password}
}

// NewLoginClientInitialResponse is NewLoginClient sending the user name as
// the initial response (draft-murchison-sasl-login section 2 allows it), so
// the server's only challenge is the password prompt.
func NewLoginClientInitialResponse(username, password string) Client {
	return &loginClient{username: username, password: password, initial: true}
}

func (c *loginClient) Start() (string, []byte, error) {
	if c.username == "" || c.password == "" {
		return "", nil, malformed(Login, "empty user name or password")
	}
	if !c.initial {
		return Login, nil, nil
	}
	c.answered = 1
	return Login, []byte(c.username), nil
}

func (c *loginClient) Next(challenge []byte) ([]byte, error) {
	c.answered++
	switch c.answered {
	case 1:
		return []byte(c.username), nil
	case 2:
		return []byte(c.password), nil
	}
	return nil, malformed(Login, "unexpected server challenge")
}

type loginServer struct {
	outcome
	check    func(username, password string) error
	username string
	step     int // 0: nothing yet, 1: asked for the user name, 2: asked for the password
}

// NewLoginServer returns a LOGIN server. It challenges "Username:" then
// "Password:", accepting an initial response as the user name, and calls
// check with both answers. check returns nil to accept or an error wrapping
// ErrInvalidCredentials to refuse; other errors are returned as they are.
// Identity reports the user name as Authentication.
func NewLoginServer(check func(username, password string) error) Server {
	return &loginServer{outcome: outcome{mech: Login}, check: check}
}

func (s *loginServer) Next(response []byte) ([]byte, bool, error) {
	if err := s.finished(); err != nil {
		return nil, false, err
	}
	switch s.step {
	case 0:
		if response == nil {
			s.step = 1
			return []byte(loginUsernameChallenge), false, nil
		}
		fallthrough // the initial response is the user name
	case 1:
		if err := checkLoginField(response); err != nil {
			return s.fail(err)
		}
		s.username = string(response)
		s.attempt(s.username)
		s.step = 2
		return []byte(loginPasswordChallenge), false, nil
	}
	if err := checkLoginField(response); err != nil {
		return s.fail(err)
	}
	if err := s.check(s.username, string(response)); err != nil {
		return s.fail(err)
	}
	return s.succeed(Identity{Authentication: s.username})
}

func checkLoginField(b []byte) error {
	switch {
	case len(b) == 0:
		return malformed(Login, "empty answer")
	case len(b) > loginMaxField:
		return malformed(Login, "answer longer than 255 octets")
	case !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0:
		return malformed(Login, "answer is not UTF-8 text")
	}
	return nil
}
