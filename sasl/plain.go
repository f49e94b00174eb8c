package sasl

import (
	"bytes"
	"unicode/utf8"
)

// plainMaxField is the longest authzid, authcid or passwd RFC 4616 section
// 2 allows: 255 octets each.
const plainMaxField = 255

type plainClient struct {
	message []byte
	err     error
	sent    bool
}

// NewPlainClient returns a PLAIN client (RFC 4616). identity is the
// authorization identity, "" to act as username. The message
// [authzid] NUL authcid NUL passwd goes in the initial response; if the
// caller does not send it there and the server asks with an empty
// challenge, the first Next answers with it. A field longer than 255
// octets, a NUL inside a field or an empty user name or password makes
// Start fail with an error wrapping ErrMalformed.
func NewPlainClient(identity, username, password string) Client {
	c := &plainClient{}
	switch {
	case username == "" || password == "":
		c.err = malformed(Plain, "empty user name or password")
	case len(identity) > plainMaxField || len(username) > plainMaxField || len(password) > plainMaxField:
		c.err = malformed(Plain, "field longer than 255 octets")
	case hasNUL(identity) || hasNUL(username) || hasNUL(password):
		c.err = malformed(Plain, "NUL inside a field")
	default:
		c.message = []byte(identity + "\x00" + username + "\x00" + password)
	}
	return c
}

func hasNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

func (c *plainClient) Start() (string, []byte, error) {
	if c.err != nil {
		return "", nil, c.err
	}
	return Plain, c.message, nil
}

// Next answers the server's empty challenge with the message, once; any
// other challenge is an error (and the caller cancels the exchange).
func (c *plainClient) Next(challenge []byte) ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	if len(challenge) != 0 || c.sent {
		return nil, malformed(Plain, "unexpected server challenge")
	}
	c.sent = true
	return c.message, nil
}

type plainServer struct {
	outcome
	check    func(identity, username, password string) error
	prepare  bool
	asked    bool
	received bool
}

// NewPlainServer returns a PLAIN server (RFC 4616). Without an initial
// response it sends an empty challenge. It checks the message's grammar
// (two NULs, each field at most 255 octets of UTF-8, non-empty authcid and
// passwd) and calls check with the fields as received. check returns nil to
// accept, an error wrapping ErrInvalidCredentials to refuse; any other error
// is returned as it is (the SMTP layer may map it to a temporary failure).
// Identity reports identity as Authorization and username as Authentication.
func NewPlainServer(check func(identity, username, password string) error) Server {
	return &plainServer{outcome: outcome{mech: Plain}, check: check}
}

// NewPlainServerPrepared is NewPlainServer with PRECIS preparation (RFC 8265):
// username and a non-empty identity are enforced with UsernameCaseMapped and
// the password with OpaqueString before check sees them; a name or password
// the profiles refuse fails with ErrMalformed. See PrepareUsername for why
// this is opt-in.
func NewPlainServerPrepared(check func(identity, username, password string) error) Server {
	return &plainServer{outcome: outcome{mech: Plain}, check: check, prepare: true}
}

func (s *plainServer) Next(response []byte) ([]byte, bool, error) {
	if err := s.finished(); err != nil {
		return nil, false, err
	}
	if response == nil && !s.asked {
		s.asked = true
		return []byte{}, false, nil
	}
	identity, username, password, err := parsePlain(response)
	if err != nil {
		return s.fail(err)
	}
	s.attempt(username)
	if s.prepare {
		if username, err = PrepareUsernameCaseMapped(username); err != nil {
			return s.fail(err)
		}
		s.attempt(username)
		if identity != "" {
			if identity, err = PrepareUsernameCaseMapped(identity); err != nil {
				return s.fail(err)
			}
		}
		if password, err = PreparePassword(password); err != nil {
			return s.fail(err)
		}
	}
	if err := s.check(identity, username, password); err != nil {
		return s.fail(err)
	}
	return s.succeed(Identity{Authorization: identity, Authentication: username})
}

// parsePlain splits message = [authzid] UTF8NUL authcid UTF8NUL passwd
// (RFC 4616 section 2).
func parsePlain(msg []byte) (identity, username, password string, err error) {
	first := bytes.IndexByte(msg, 0)
	if first < 0 {
		return "", "", "", malformed(Plain, "message lacks NUL separators")
	}
	rest := msg[first+1:]
	second := bytes.IndexByte(rest, 0)
	if second < 0 {
		return "", "", "", malformed(Plain, "message lacks NUL separators")
	}
	authz, authc, pass := msg[:first], rest[:second], rest[second+1:]
	switch {
	case bytes.IndexByte(pass, 0) >= 0:
		return "", "", "", malformed(Plain, "too many NUL separators")
	case len(authc) == 0 || len(pass) == 0:
		return "", "", "", malformed(Plain, "empty user name or password")
	case len(authz) > plainMaxField || len(authc) > plainMaxField || len(pass) > plainMaxField:
		return "", "", "", malformed(Plain, "field longer than 255 octets")
	case !utf8.Valid(authz) || !utf8.Valid(authc) || !utf8.Valid(pass):
		return "", "", "", malformed(Plain, "field is not UTF-8")
	}
	return string(authz), string(authc), string(pass), nil
}
