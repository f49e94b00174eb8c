package sasl

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/postwire/postwire/internal/ascii"
)

// OAUTHBEARER (RFC 7628): the client sends an OAuth 2.0 bearer token
// (RFC 6750) in one message; on failure the server sends an error result in
// JSON as a challenge (RFC 7628 section 3.2.2), the client answers with the
// dummy response %x01 or aborts the exchange (section 3.2.3), and the
// server fails the authentication.
//
// The contract of this package's client on a failure: its Next parses the
// error JSON and returns it as an *OAuthBearerError (which wraps
// ErrInvalidCredentials), so the SMTP layer aborts with "*" as for any
// client error (the SASL abort RFC 7628 section 3.2.3 allows), and the
// caller of Auth gets the server's status, scope and discovery URL with
// errors.As. The server accepts either ending: the dummy response "\x01"
// fails with ErrInvalidCredentials, an abort is the SMTP layer's.

const oauthKVSep = 0x01

// OAuthBearerOptions are the values an OAUTHBEARER client sends (RFC 7628
// section 3.1), and those the server hands to its check function.
type OAuthBearerOptions struct {
	Username string // the gs2 authzid ("a="), "" for none
	Token    string // the bearer token (RFC 6750), without the "Bearer " scheme
	Host     string // the host the client connected to ("host="), "" to omit
	Port     int    // the port the client connected to ("port="), 0 to omit
}

// OAuthBearerError is the error result of a failed OAUTHBEARER or XOAUTH2
// exchange (RFC 7628 section 3.2.2). A server's check function returns one
// to choose the JSON it sends; a client returns the one it received.
// It wraps ErrInvalidCredentials.
type OAuthBearerError struct {
	Status              string `json:"status"`
	Schemes             string `json:"schemes,omitempty"`
	Scope               string `json:"scope,omitempty"`
	OpenIDConfiguration string `json:"openid-configuration,omitempty"`
}

// Error names the status (not secret: it is a code such as "invalid_token").
func (e *OAuthBearerError) Error() string {
	return "sasl: OAuth token refused with status " + strconv.Quote(e.Status)
}

// Unwrap makes errors.Is(err, ErrInvalidCredentials) true.
func (e *OAuthBearerError) Unwrap() error { return ErrInvalidCredentials }

// oauthErrorChallenge is the JSON a server sends for a failed check: the
// check's own *OAuthBearerError if it returned one, else def.
func oauthErrorChallenge(err error, def OAuthBearerError) []byte {
	var oe *OAuthBearerError
	if errors.As(err, &oe) && oe != nil && oe.Status != "" {
		def = *oe
	}
	b, _ := json.Marshal(def) // a struct of strings always marshals
	return b
}

// parseOAuthError reads an error result sent as a challenge.
func parseOAuthError(mech string, challenge []byte) error {
	var oe OAuthBearerError
	if err := json.Unmarshal(challenge, &oe); err != nil || oe.Status == "" {
		return malformed(mech, "challenge is not an error result")
	}
	return &oe
}

type oauthBearerClient struct {
	opts    OAuthBearerOptions
	message []byte
	step    int // 0 before Start, 1 after, 2 message sent in answer to an empty challenge, 3 over
}

// NewOAuthBearerClient returns an OAUTHBEARER client (RFC 7628). It sends
// everything in the initial response; see the package note above for what
// its Next does with an error result.
func NewOAuthBearerClient(opts OAuthBearerOptions) Client {
	return &oauthBearerClient{opts: opts}
}

func (c *oauthBearerClient) Start() (string, []byte, error) {
	o := c.opts
	switch {
	case o.Token == "" || !validOAuthValue(o.Token) || !validOAuthValue(o.Host):
		return "", nil, malformed(OAuthBearer, "token or host not allowed in a key/value pair")
	case o.Port < 0 || o.Port > 65535:
		return "", nil, malformed(OAuthBearer, "port out of range")
	case !utf8.ValidString(o.Username) || strings.IndexByte(o.Username, 0) >= 0:
		return "", nil, malformed(OAuthBearer, "user name is not UTF-8 text")
	}
	var b bytes.Buffer
	b.WriteString("n,")
	if o.Username != "" {
		b.WriteString("a=" + encodeSaslname(o.Username))
	}
	b.WriteString(",\x01")
	if o.Host != "" {
		b.WriteString("host=" + o.Host + "\x01")
	}
	if o.Port != 0 {
		b.WriteString("port=" + strconv.Itoa(o.Port) + "\x01")
	}
	b.WriteString("auth=Bearer " + o.Token + "\x01\x01")
	c.message = b.Bytes()
	c.step = 1
	return OAuthBearer, c.message, nil
}

func (c *oauthBearerClient) Next(challenge []byte) ([]byte, error) {
	step := c.step
	c.step = 3
	switch {
	case step == 1 && len(challenge) == 0:
		c.step = 2 // the initial response was not sent: send it now
		return c.message, nil
	case step == 1 || step == 2:
		return nil, parseOAuthError(OAuthBearer, challenge)
	}
	return nil, malformed(OAuthBearer, "unexpected server challenge")
}

// validOAuthValue checks value = *(VCHAR / SP / HTAB / CR / LF) (RFC 7628
// section 3.1).
func validOAuthValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(0x21 <= c && c <= 0x7e || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			return false
		}
	}
	return true
}

type oauthBearerServer struct {
	outcome
	check   func(opts OAuthBearerOptions) error
	asked   bool
	failure error // set once the error result was sent
}

// NewOAuthBearerServer returns an OAUTHBEARER server (RFC 7628). It parses
// the client response strictly (gs2 header without channel binding,
// key=value pairs separated by %x01, "auth=Bearer token" required, unknown
// keys ignored) and calls check. check returns nil to accept; to refuse it
// returns an *OAuthBearerError (sent as the error result) or an error
// wrapping ErrInvalidCredentials (sent as {"status":"invalid_token"}); the
// server then awaits the client's "\x01" and fails with the refusal. Any
// other error from check is returned at once, without an error result. An
// empty token ("auth=" with no token, how a client asks for the scope)
// always fails, after check has had the chance to choose the error result.
// Identity reports the gs2 authzid as Authentication: it is the only user
// name the mechanism carries; check knows whose token it accepted.
func NewOAuthBearerServer(check func(opts OAuthBearerOptions) error) Server {
	return &oauthBearerServer{outcome: outcome{mech: OAuthBearer}, check: check}
}

func (s *oauthBearerServer) Next(response []byte) ([]byte, bool, error) {
	if err := s.finished(); err != nil {
		return nil, false, err
	}
	if s.failure != nil {
		if len(response) == 1 && response[0] == oauthKVSep {
			return s.fail(s.failure)
		}
		return s.fail(malformed(OAuthBearer, "expected the %x01 dummy response"))
	}
	if response == nil && !s.asked {
		s.asked = true
		return []byte{}, false, nil
	}
	opts, err := parseOAuthBearer(response)
	if err != nil {
		return s.fail(err)
	}
	s.attempt(opts.Username)
	err = s.check(opts)
	if err == nil && opts.Token != "" {
		return s.succeed(Identity{Authentication: opts.Username})
	}
	if err != nil && !isCredentialsError(err) {
		return s.fail(err)
	}
	var oe *OAuthBearerError
	if !errors.As(err, &oe) || oe == nil || oe.Status == "" {
		oe = &OAuthBearerError{Status: "invalid_token"}
	}
	s.failure = oe
	return oauthErrorChallenge(oe, *oe), false, nil
}

// parseOAuthBearer parses client-resp = (gs2-header kvsep *kvpair kvsep)
// (RFC 7628 section 3.1).
func parseOAuthBearer(msg []byte) (OAuthBearerOptions, error) {
	var opts OAuthBearerOptions
	s, err := parseOAuthGS2Header(string(msg), &opts)
	if err != nil {
		return opts, err
	}

	auth, hasAuth, err := parseOAuthPairs(s, &opts)
	if err != nil {
		return opts, err
	}
	if !hasAuth {
		return opts, malformed(OAuthBearer, "auth missing")
	}

	if auth != "" { // "auth=" with no value asks for discovery (RFC 7628 section 4.3)
		token, ok := bearerToken(auth)
		if !ok {
			return opts, malformed(OAuthBearer, "auth is not a bearer token")
		}
		opts.Token = token
	}
	return opts, nil
}

// parseOAuthGS2Header parses the gs2-header and the kvsep after it (RFC
// 7628 section 3.1, channel binding not supported), sets opts.Username to
// the authzid and returns what follows.
func parseOAuthGS2Header(s string, opts *OAuthBearerOptions) (string, error) {
	switch {
	case strings.HasPrefix(s, "n,"), strings.HasPrefix(s, "y,"):
		s = s[2:]
	case strings.HasPrefix(s, "p="):
		return "", malformed(OAuthBearer, "channel binding is not supported")
	default:
		return "", malformed(OAuthBearer, "bad gs2 header")
	}

	if strings.HasPrefix(s, "a=") {
		end := strings.IndexByte(s, ',')
		if end < 0 {
			return "", malformed(OAuthBearer, "bad gs2 header")
		}
		name, ok := decodeSaslname(s[2:end])
		if !ok {
			return "", malformed(OAuthBearer, "bad authorization identity")
		}
		opts.Username, s = name, s[end:]
	}

	if !strings.HasPrefix(s, ",\x01") {
		return "", malformed(OAuthBearer, "bad gs2 header")
	}
	return s[2:], nil
}

// parseOAuthPairs parses *kvpair kvsep (RFC 7628 section 3.1), setting
// opts.Host and opts.Port and ignoring unknown keys. It returns the value
// of "auth" and whether it was there.
func parseOAuthPairs(s string, opts *OAuthBearerOptions) (auth string, hasAuth bool, err error) {
	seen := map[string]bool{}
	for s != "\x01" {
		key, value, rest, err := cutOAuthPair(s)
		if err != nil {
			return "", false, err
		}
		if seen[key] || !validOAuthValue(value) {
			return "", false, malformed(OAuthBearer, "repeated key or bad value")
		}
		seen[key] = true

		switch key {
		case "auth":
			auth = value
		case "host":
			opts.Host = value
		case "port":
			p, err := strconv.Atoi(value)
			if err != nil || value[0] < '1' || value[0] > '9' || p > 65535 {
				return "", false, malformed(OAuthBearer, "bad port")
			}
			opts.Port = p
		}
		s = rest
	}
	return auth, seen["auth"], nil
}

// cutOAuthPair cuts kvpair = key "=" value kvsep, key = 1*(ALPHA), off the
// start of s (RFC 7628 section 3.1) and returns the rest.
func cutOAuthPair(s string) (key, value, rest string, err error) {
	end := strings.IndexByte(s, oauthKVSep)
	eq := strings.IndexByte(s, '=')
	if end < 0 || eq <= 0 || eq > end {
		return "", "", "", malformed(OAuthBearer, "bad key/value pair")
	}
	key, value = s[:eq], s[eq+1:end]
	for i := 0; i < len(key); i++ {
		if !isAlpha(key[i]) {
			return "", "", "", malformed(OAuthBearer, "bad key")
		}
	}
	return key, value, s[end+1:], nil
}

// bearerToken cuts the token out of credentials = "Bearer" 1*SP b64token
// (RFC 6750 section 2.1; the scheme is case-insensitive, RFC 7628 section 4).
func bearerToken(auth string) (string, bool) {
	if len(auth) < 7 || !ascii.EqualFold(auth[:6], "Bearer") || auth[6] != ' ' {
		return "", false
	}
	token := strings.TrimLeft(auth[6:], " ")
	if token == "" || strings.ContainsAny(token, " \t\r\n") {
		return "", false
	}
	return token, true
}
