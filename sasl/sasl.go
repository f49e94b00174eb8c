// Package sasl implements SASL (RFC 4422) mechanisms for both sides of an
// authentication exchange: PLAIN, LOGIN, CRAM-MD5, SCRAM-SHA-1,
// SCRAM-SHA-256 and their -PLUS variants with channel binding, OAUTHBEARER, XOAUTH2, EXTERNAL and ANONYMOUS.
//
// The Client and Server interfaces have the shape of go-sasl's, so that
// code written for it moves over with a change of import path.
//
// How an exchange maps onto SMTP AUTH (RFC 4954 section 4):
//
//   - The first Server.Next gets the initial response, or nil when the
//     client sent none; an empty initial response ("=") is an empty non-nil
//     slice. A server that needs a response it did not get answers nil with
//     an empty challenge, and every client of this package answers an empty
//     first challenge with the initial response it would have sent.
//   - Data a mechanism sends with its success (SCRAM's "v=" server
//     signature) is a last challenge, answered by an empty response, after
//     which the server is done: SMTP cannot carry data in its 235 reply.
//   - A client cancels by returning an error from Next: the SMTP client then
//     sends "*" and reports that error; the server replies 501 and drops its
//     Server, so no Server method sees the cancel. ErrCancelled is the
//     error the SMTP layer reports for it.
//   - Servers return errors wrapping ErrInvalidCredentials (535 5.7.8) or
//     ErrMalformed (501 5.5.2); an error from a caller's callback that wraps
//     neither is returned as it is, for the SMTP layer to treat as a
//     temporary failure. Once a Server has failed or succeeded, Next
//     returns an error wrapping ErrMalformed. No error text of this package
//     contains a password, secret or token.
package sasl

import "errors"

// Mechanism names (RFC 4422 section 3.1), as advertised by SMTP AUTH.
const (
	Plain       = "PLAIN"
	Login       = "LOGIN"
	CramMD5     = "CRAM-MD5"
	ScramSHA1   = "SCRAM-SHA-1"
	ScramSHA256 = "SCRAM-SHA-256"
	// ScramSHA1Plus and ScramSHA256Plus are SCRAM with channel binding
	// (RFC 5802 section 6, RFC 7677 section 3).
	ScramSHA1Plus   = "SCRAM-SHA-1-PLUS"
	ScramSHA256Plus = "SCRAM-SHA-256-PLUS"
	OAuthBearer     = "OAUTHBEARER"
	XOAuth2         = "XOAUTH2"
	External        = "EXTERNAL"
	Anonymous       = "ANONYMOUS"
)

// Client is the client side of one mechanism.
type Client interface {
	// Start begins the exchange: the mechanism name and the initial
	// response. A nil ir means none; an empty non-nil ir is sent as "=".
	Start() (mech string, ir []byte, err error)
	// Next answers a server challenge.
	Next(challenge []byte) (response []byte, err error)
}

// Server is the server side of one mechanism for one exchange.
type Server interface {
	// Next takes the client's response (nil when the client sent no
	// initial response) and returns the next challenge, or done when
	// the exchange is complete and successful.
	Next(response []byte) (challenge []byte, done bool, err error)
}

// Identity is who authenticated (RFC 4422 section 2): the authentication
// identity whose credentials were checked and the authorization identity
// the client asked to act as ("" when it asked for none).
type Identity struct {
	Authorization  string
	Authentication string
}

// IdentityServer is a Server that tells, after success, who authenticated.
// Every Server of this package implements it.
type IdentityServer interface {
	Server
	Identity() Identity
}

// AttemptServer is a Server that tells, failed or not, the user name the
// client tried to authenticate as: for the log of failed attempts that
// tools such as fail2ban read. It is the authentication identity as the
// client sent it (prepared, where the mechanism prepares it), never a
// password or a token; "" when the client did not get as far as naming
// one. The Servers of this package that take a user name implement it:
// PLAIN, LOGIN, CRAM-MD5, SCRAM-* (with and without -PLUS), OAUTHBEARER
// (the gs2 authzid, its only user name) and XOAUTH2.
type AttemptServer interface {
	Server
	Attempted() string
}

// Errors a Server returns, for the SMTP layer to map to replies (RFC 4954
// section 6): ErrInvalidCredentials to 535 5.7.8, ErrMalformed to 501
// 5.5.2. Mechanism errors wrap them, so test with errors.Is.
var (
	ErrInvalidCredentials = errors.New("sasl: invalid credentials")
	ErrMalformed          = errors.New("sasl: malformed exchange")
	ErrCancelled          = errors.New("sasl: exchange cancelled")
)
