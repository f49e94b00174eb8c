package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"encoding/base64"
	"hash"
	"strconv"
	"strings"
	"unicode/utf8"
)

type scramClient struct {
	mech                        string
	h                           func() hash.Hash
	username, password, authzid string
	cb                          ChannelBinding

	nonce           string // the client nonce; fixed by tests, else random
	gs2Header       string
	clientFirstBare string
	serverSignature []byte
	step            int // 0 before Start, 1 awaiting server-first, 2 awaiting server-final, 3 done
	resent          bool
}

// NewScramSHA1Client returns a SCRAM-SHA-1 client (RFC 5802). authzid is
// the authorization identity, "" for none. The user name is prepared with
// PrepareUsername and the password with PreparePassword (RFC 8265) in
// Start, which fails with ErrMalformed when either is refused. The client
// checks the server's signature: a wrong one makes Next fail with an error
// wrapping ErrInvalidCredentials.
func NewScramSHA1Client(username, password, authzid string) Client {
	return newScramClient(ScramSHA1, username, password, authzid)
}

// NewScramSHA256Client returns a SCRAM-SHA-256 client (RFC 7677), as
// NewScramSHA1Client does for SHA-1.
func NewScramSHA256Client(username, password, authzid string) Client {
	return newScramClient(ScramSHA256, username, password, authzid)
}

// NewScramSHA1PlusClient returns a SCRAM-SHA-1-PLUS client (RFC 5802
// section 6): a SCRAM-SHA-1 client that binds the exchange to cb, the
// channel binding of the TLS connection it runs over, sending "p=" and
// cb.Type in its gs2 header and cb.Data in its final message. The server
// checks the binding: a man in the middle who terminates TLS cannot relay
// the exchange. Start fails with ErrMalformed when cb is zero.
func NewScramSHA1PlusClient(username, password, authzid string, cb ChannelBinding) Client {
	return NewScramClient(ScramSHA1Plus, username, password, authzid, cb)
}

// NewScramSHA256PlusClient returns a SCRAM-SHA-256-PLUS client (RFC 7677
// section 3, RFC 5802 section 6), as NewScramSHA1PlusClient does for SHA-1.
func NewScramSHA256PlusClient(username, password, authzid string, cb ChannelBinding) Client {
	return NewScramClient(ScramSHA256Plus, username, password, authzid, cb)
}

// NewScramClient returns a client of mech, one of ScramSHA1, ScramSHA256,
// ScramSHA1Plus and ScramSHA256Plus, over a layer whose channel binding is
// cb (the zero ChannelBinding when there is none). Per RFC 5802 section 6,
// a -PLUS client sends "p=" with cb; a plain SCRAM client sends "y" when
// cb is set (it could bind, but the server did not offer -PLUS, which a
// server that does offer it takes for a downgrade and refuses) and "n"
// when it is not. Start fails with ErrMalformed for another mechanism, or
// a -PLUS one without a binding.
func NewScramClient(mech, username, password, authzid string, cb ChannelBinding) Client {
	c := newScramClient(mech, username, password, authzid)
	c.cb = cb
	return c
}

func newScramClient(mech, username, password, authzid string) *scramClient {
	return &scramClient{mech: mech, h: scramHash(mech), username: username, password: password, authzid: authzid}
}

// gs2Flag is the gs2-cbind-flag the client sends (RFC 5802 section 6).
func (c *scramClient) gs2Flag() (string, error) {
	switch {
	case !isScram(c.mech):
		return "", malformed(c.mech, "not a SCRAM mechanism")
	case isScramPlus(c.mech) && !validChannelBindingType(c.cb.Type):
		return "", malformed(c.mech, "no channel binding to send")
	case isScramPlus(c.mech):
		return "p=" + c.cb.Type, nil
	case !c.cb.IsZero():
		return "y", nil
	}
	return "n", nil
}

func (c *scramClient) Start() (string, []byte, error) {
	if c.step != 0 {
		return "", nil, malformed(c.mech, "exchange already started")
	}
	user, err := PrepareUsername(c.username)
	if err != nil {
		return "", nil, err
	}
	if c.password, err = PreparePassword(c.password); err != nil {
		return "", nil, err
	}
	if !utf8.ValidString(c.authzid) || strings.IndexByte(c.authzid, 0) >= 0 {
		return "", nil, malformed(c.mech, "authorization identity is not UTF-8 text")
	}
	if c.nonce == "" {
		c.nonce = newScramNonce()
	}
	flag, err := c.gs2Flag()
	if err != nil {
		return "", nil, err
	}
	c.gs2Header = flag + ",,"
	if c.authzid != "" {
		c.gs2Header = flag + ",a=" + encodeSaslname(c.authzid) + ","
	}
	c.clientFirstBare = "n=" + encodeSaslname(user) + ",r=" + c.nonce
	c.step = 1
	return c.mech, []byte(c.gs2Header + c.clientFirstBare), nil
}

func (c *scramClient) Next(challenge []byte) ([]byte, error) {
	switch c.step {
	case 1:
		if len(challenge) == 0 && !c.resent {
			// The initial response was not sent: the server asks for it.
			c.resent = true
			return []byte(c.gs2Header + c.clientFirstBare), nil
		}
		c.step = 3 // any error ends the exchange
		resp, err := c.clientFinal(string(challenge))
		if err != nil {
			return nil, err
		}
		c.step = 2
		return resp, nil
	case 2:
		c.step = 3
		return c.verifyServerFinal(string(challenge))
	}
	return nil, malformed(c.mech, "unexpected server challenge")
}

// clientFinal parses server-first-message = [reserved-mext ","] nonce ","
// salt "," iteration-count ["," extensions] and computes the proof (RFC
// 5802 sections 3 and 7).
func (c *scramClient) clientFinal(serverFirst string) ([]byte, error) {
	if strings.HasPrefix(serverFirst, "m=") {
		return nil, malformed(c.mech, "server requires an unsupported extension")
	}
	nonce, rest, ok := nextAttr(serverFirst, 'r')
	if !ok || !validScramNonce(nonce) || len(nonce) <= len(c.nonce) || !strings.HasPrefix(nonce, c.nonce) {
		return nil, malformed(c.mech, "server nonce missing or not extending the client nonce")
	}
	salt64, rest, ok := nextAttr(rest, 's')
	salt, err := base64.StdEncoding.Strict().DecodeString(salt64)
	if !ok || err != nil || len(salt) == 0 {
		return nil, malformed(c.mech, "salt missing or not base64")
	}
	iter, rest, ok := nextAttr(rest, 'i')
	iterations, err := strconv.Atoi(iter)
	if !ok || err != nil || iter[0] < '1' || iter[0] > '9' || iterations > scramMaxIterations {
		return nil, malformed(c.mech, "iteration count missing or out of range")
	}
	if rest != "" && !validExtensions(rest) || rest == "" && strings.HasSuffix(serverFirst, ",") {
		return nil, malformed(c.mech, "bad extension in server-first-message")
	}

	salted, err := pbkdf2.Key(c.h, c.password, salt, iterations, c.h().Size())
	if err != nil {
		return nil, malformed(c.mech, "cannot derive the salted password")
	}
	withoutProof := "c=" + base64.StdEncoding.EncodeToString(c.channelBindingInput()) + ",r=" + nonce
	authMessage := c.clientFirstBare + "," + serverFirst + "," + withoutProof
	clientKey := scramHMAC(c.h, salted, "Client Key")
	clientSignature := scramHMAC(c.h, hashOf(c.h, clientKey), authMessage)
	c.serverSignature = scramHMAC(c.h, scramHMAC(c.h, salted, "Server Key"), authMessage)
	proof := base64.StdEncoding.EncodeToString(xorBytes(clientKey, clientSignature))
	return []byte(withoutProof + ",p=" + proof), nil
}

// channelBindingInput is cbind-input = gs2-header [cbind-data], the data
// only with the "p" flag (RFC 5802 section 7).
func (c *scramClient) channelBindingInput() []byte {
	input := []byte(c.gs2Header)
	if isScramPlus(c.mech) {
		input = append(input, c.cb.Data...)
	}
	return input
}

// verifyServerFinal checks server-final-message = (server-error /
// verifier) ["," extensions] (RFC 5802 section 7).
func (c *scramClient) verifyServerFinal(serverFinal string) ([]byte, error) {
	if e, _, ok := nextAttr(serverFinal, 'e'); ok {
		if isScramErrorName(e) {
			return nil, invalid(c.mech, "server refused the authentication: "+e)
		}
		return nil, invalid(c.mech, "server refused the authentication")
	}
	v64, rest, ok := nextAttr(serverFinal, 'v')
	if !ok || rest != "" && !validExtensions(rest) {
		return nil, malformed(c.mech, "server-final-message lacks a verifier")
	}
	v, err := base64.StdEncoding.Strict().DecodeString(v64)
	if err != nil {
		return nil, malformed(c.mech, "server verifier is not base64")
	}
	if !hmac.Equal(v, c.serverSignature) {
		return nil, invalid(c.mech, "server signature does not match")
	}
	return []byte{}, nil
}

// isScramErrorName tells whether e looks like one of RFC 5802 section 7's
// server-error-value names, safe to quote in an error.
func isScramErrorName(e string) bool {
	if e == "" || len(e) > 64 {
		return false
	}
	for i := 0; i < len(e); i++ {
		if !('a' <= e[i] && e[i] <= 'z' || e[i] == '-') {
			return false
		}
	}
	return true
}
