package sasl

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"time"
	"unicode/utf8"
)

// The CRAM-MD5 mechanism (RFC 2195): the server sends a unique challenge,
// the client answers with its user name and the keyed MD5 (HMAC-MD5, RFC
// 2104) of the challenge under the shared secret.

type cramMD5Client struct {
	username, secret string
	answered         bool
}

// NewCramMD5Client returns a CRAM-MD5 client (RFC 2195 section 2). It sends
// no initial response and answers the one challenge with
// "username SP 32 lowercase hex digits".
func NewCramMD5Client(username, secret string) Client {
	return &cramMD5Client{username: username, secret: secret}
}

func (c *cramMD5Client) Start() (string, []byte, error) {
	if c.username == "" {
		return "", nil, malformed(CramMD5, "empty user name")
	}
	return CramMD5, nil, nil
}

func (c *cramMD5Client) Next(challenge []byte) ([]byte, error) {
	if c.answered || len(challenge) == 0 {
		return nil, malformed(CramMD5, "unexpected server challenge")
	}
	c.answered = true
	return cramMD5Response(c.username, c.secret, challenge), nil
}

// cramMD5Response is username SP hex(HMAC-MD5(secret, challenge)).
func cramMD5Response(username, secret string, challenge []byte) []byte {
	mac := hmac.New(md5.New, []byte(secret))
	mac.Write(challenge)
	sum := mac.Sum(nil)
	out := make([]byte, 0, len(username)+1+hex.EncodedLen(len(sum)))
	out = append(out, username...)
	out = append(out, ' ')
	return hex.AppendEncode(out, sum)
}

type cramMD5Server struct {
	outcome
	hostname     string
	lookupSecret func(username string) (string, error)
	challenge    []byte // set by the first Next; tests may set it before
	asked        bool
}

// NewCramMD5Server returns a CRAM-MD5 server (RFC 2195 section 2). Its
// challenge is "<random.timestamp@hostname>", random being 64 bits from
// crypto/rand and timestamp the Unix time. lookupSecret returns the shared
// secret of a user, or an error wrapping ErrInvalidCredentials for an
// unknown user (other errors are returned as they are). The digest is
// compared in constant time. Identity reports the user name as
// Authentication.
func NewCramMD5Server(hostname string, lookupSecret func(username string) (secret string, err error)) Server {
	return &cramMD5Server{outcome: outcome{mech: CramMD5}, hostname: hostname, lookupSecret: lookupSecret}
}

func (s *cramMD5Server) Next(response []byte) ([]byte, bool, error) {
	if err := s.finished(); err != nil {
		return nil, false, err
	}
	if !s.asked {
		if response != nil {
			return s.fail(malformed(CramMD5, "initial response not allowed"))
		}
		s.asked = true
		return s.challengeOnce(), false, nil
	}

	user, digest, err := splitCramMD5Response(response)
	if err != nil {
		return s.fail(err)
	}

	username := string(user)
	s.attempt(username)
	secret, err := s.lookupSecret(username)
	if err != nil {
		return s.fail(err)
	}
	want := cramMD5Response(username, secret, s.challenge)
	if !hmac.Equal(want[len(user)+1:], digest) {
		return s.fail(invalid(CramMD5, "digest does not match"))
	}
	return s.succeed(Identity{Authentication: username})
}

// challengeOnce returns the challenge, "<random.timestamp@hostname>",
// making it up on first use unless a test has set it.
func (s *cramMD5Server) challengeOnce() []byte {
	if s.challenge == nil {
		var random [8]byte
		rand.Read(random[:]) // never fails (crypto/rand, Go 1.24+)
		s.challenge = []byte("<" + strconv.FormatUint(binary.BigEndian.Uint64(random[:]), 10) +
			"." + strconv.FormatInt(time.Now().Unix(), 10) + "@" + s.hostname + ">")
	}
	return s.challenge
}

// splitCramMD5Response splits response = user SP digest, digest = 32
// lowercase hex digits (RFC 2195 section 2). The user name may itself
// contain spaces, so it splits at the last one.
func splitCramMD5Response(response []byte) (user, digest []byte, err error) {
	sp := bytes.LastIndexByte(response, ' ')
	if sp <= 0 || len(response)-sp-1 != 32 {
		return nil, nil, malformed(CramMD5, "response is not user SP digest")
	}
	user, digest = response[:sp], response[sp+1:]
	for _, b := range digest {
		if !('0' <= b && b <= '9' || 'a' <= b && b <= 'f') {
			return nil, nil, malformed(CramMD5, "digest is not 32 lowercase hex digits")
		}
	}
	if !utf8.Valid(user) || bytes.IndexByte(user, 0) >= 0 {
		return nil, nil, malformed(CramMD5, "user name is not UTF-8 text")
	}
	return user, digest, nil
}
