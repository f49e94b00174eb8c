package smtp

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"
)

// Default timeouts of a client, from RFC 5321 section 4.5.3.2.
const (
	DefaultGreetingTimeout  = 5 * time.Minute  // 4.5.3.2.1, initial 220 message
	DefaultCommandTimeout   = 5 * time.Minute  // 4.5.3.2.2 and .3, MAIL and RCPT (and every other command)
	DefaultDataInitTimeout  = 2 * time.Minute  // 4.5.3.2.4, the 354 reply to DATA
	DefaultDataBlockTimeout = 3 * time.Minute  // 4.5.3.2.5, each block of the body
	DefaultDataTermTimeout  = 10 * time.Minute // 4.5.3.2.6, the reply to the final dot
)

// DialOptions are the settings of a Client. The zero value (or nil) is
// usable: EHLO localhost, the timeouts of RFC 5321 section 4.5.3.2,
// pipelining and BDAT when the server offers them. As on the Server, 0
// means the default and a negative timeout none; the limits that bound
// memory (ChunkSize, MaxReplyLineLength, MaxReplyLines) cannot be
// switched off and a negative one is an error.
type DialOptions struct {
	// LocalName is the name sent with EHLO, HELO or LHLO: a domain or an
	// address literal such as "[192.0.2.1]" (RFC 5321 section 4.1.1.1).
	// Default "localhost".
	LocalName string
	// TLSConfig is used by DialTLS, DialStartTLS and by StartTLS when it is
	// given nil. When its ServerName is empty the host of the dialled
	// address is used.
	TLSConfig *tls.Config
	// LMTP speaks LMTP (RFC 2033): LHLO instead of EHLO, and one reply per
	// accepted recipient after the body.
	LMTP bool
	// DisablePipelining sends every command in lock-step even when the
	// server offers PIPELINING (RFC 2920).
	DisablePipelining bool
	// DisableChunking sends bodies with DATA even when the server offers
	// CHUNKING; by default they go as BDAT chunks then (RFC 3030), with
	// no dot-stuffing and one round trip less. BDAT is always used for
	// BODY=BINARYMIME, which requires it. The server's setting of the same
	// name turns CHUNKING off on its side.
	DisableChunking bool
	// ChunkSize is the largest BDAT chunk; 0 means 64 KiB. It sizes the
	// client's body buffer, so a negative value is refused.
	ChunkSize int
	// TLSPeerVerified declares that the caller authenticated the TLS
	// server itself, for a connection given to NewClient whose
	// verification the Client cannot see; MailOptions.RequireTLS then
	// goes over it (RFC 8689 section 4.2). A TLSConfig with a
	// VerifyConnection or VerifyPeerCertificate callback needs no such
	// declaration; see Client.TLSPeerAuthenticated.
	TLSPeerVerified bool
	// AllowInsecureAuth lets Auth send a password or bearer token (PLAIN,
	// LOGIN, XOAUTH2, OAUTHBEARER and unknown mechanisms) over a
	// connection that is neither TLS nor to a loopback address.
	AllowInsecureAuth bool

	// Timeouts; 0 means the RFC 5321 default above, a negative value none.
	// The context given to each call may end it sooner.
	GreetingTimeout  time.Duration
	CommandTimeout   time.Duration
	DataInitTimeout  time.Duration
	DataBlockTimeout time.Duration
	DataTermTimeout  time.Duration

	// MaxReplyLineLength and MaxReplyLines cap one server reply; 0 means
	// the textproto.ReplyReader defaults (2048 octets, 128 lines). A
	// longer reply is a protocol error and the connection is closed. They
	// bound what a hostile server can make the client hold, so a negative
	// value is refused rather than taken as no limit.
	MaxReplyLineLength int
	MaxReplyLines      int

	// Trace, when set, receives the whole dialogue as it crosses the wire,
	// after TLS: "C: " before each line the client writes, "S: " before
	// each line the server writes. In a SASL exchange (RFC 4954 section
	// 4) only the credentials are masked: "C: AUTH LOGIN" shows, and so
	// does the mechanism of "C: AUTH PLAIN [credentials hidden]"; each
	// response line reads "C: [credentials hidden]".
	Trace io.Writer
	// Hooks observe the connection, for metrics (ClientHooks).
	Hooks ClientHooks

	// Dialer dials the TCP connection for Dial, DialTLS and DialStartTLS;
	// nil means a net.Dialer with default settings.
	Dialer *net.Dialer
}

// check refuses the settings that cannot be switched off: Dial, DialTLS,
// DialStartTLS and NewClient return its error.
func (o *DialOptions) check() error {
	switch {
	case o.ChunkSize < 0:
		return errors.New("smtp: DialOptions.ChunkSize is negative")
	case o.MaxReplyLineLength < 0:
		return errors.New("smtp: DialOptions.MaxReplyLineLength is negative; a reply line needs a bound")
	case o.MaxReplyLines < 0:
		return errors.New("smtp: DialOptions.MaxReplyLines is negative; a reply needs a bound")
	}
	return nil
}

func clientDialer(opts *DialOptions) *net.Dialer {
	if opts != nil && opts.Dialer != nil {
		return opts.Dialer
	}
	return &net.Dialer{}
}
