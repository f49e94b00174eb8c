package sasl

import (
	"bytes"
	"unicode/utf8"
)

// EXTERNAL (RFC 4422 appendix A): the client is authenticated by something
// outside SASL (a TLS client certificate, a Unix socket's credentials) and
// sends only the authorization identity it asks for, "" to act as itself.

type externalClient struct {
	authzid string
	done    bool
}

// NewExternalClient returns an EXTERNAL client that sends authzid as the
// initial response (an empty one, sent as "=", when authzid is "").
func NewExternalClient(authzid string) Client {
	return &externalClient{authzid: authzid}
}

func (c *externalClient) Start() (string, []byte, error) {
	if !utf8.ValidString(c.authzid) || bytes.IndexByte([]byte(c.authzid), 0) >= 0 {
		return "", nil, malformed(External, "authorization identity is not UTF-8 text")
	}
	return External, []byte(c.authzid), nil
}

// Next answers the server's empty challenge (when the initial response was
// not sent) with the authzid, once.
func (c *externalClient) Next(challenge []byte) ([]byte, error) {
	if len(challenge) != 0 || c.done {
		return nil, malformed(External, "unexpected server challenge")
	}
	c.done = true
	return []byte(c.authzid), nil
}

type externalServer struct {
	outcome
	authentication string
	check          func(authzid string) error
	asked          bool
}

// NewExternalServer returns an EXTERNAL server. The authentication comes
// from outside the exchange, so check closes over it (for example the
// verified TLS client certificate of the connection) and decides whether
// that identity may act as authzid ("" when the client asked for none).
// check returns nil to accept or an error wrapping ErrInvalidCredentials
// to refuse. Identity reports authzid as Authorization and an empty
// Authentication: use NewExternalServerWithIdentity to report it.
func NewExternalServer(check func(authzid string) error) Server {
	return NewExternalServerWithIdentity("", check)
}

// NewExternalServerWithIdentity is NewExternalServer for a caller that
// knows the authentication identity established outside SASL (say, the
// certificate's subject): Identity reports it as Authentication.
func NewExternalServerWithIdentity(authentication string, check func(authzid string) error) Server {
	return &externalServer{outcome: outcome{mech: External}, authentication: authentication, check: check}
}

func (s *externalServer) Next(response []byte) ([]byte, bool, error) {
	if err := s.finished(); err != nil {
		return nil, false, err
	}
	if response == nil && !s.asked {
		s.asked = true
		return []byte{}, false, nil
	}
	if !utf8.Valid(response) || bytes.IndexByte(response, 0) >= 0 {
		return s.fail(malformed(External, "authorization identity is not UTF-8 text"))
	}
	authzid := string(response)
	if err := s.check(authzid); err != nil {
		return s.fail(err)
	}
	return s.succeed(Identity{Authorization: authzid, Authentication: s.authentication})
}
