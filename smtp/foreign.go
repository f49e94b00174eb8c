package smtp

import (
	"crypto/tls"
	"log/slog"

	"github.com/postwire/postwire/internal/ascii"
)

// This file turns away clients that do not speak SMTP: requests of other
// protocols sent to the SMTP port, as cross-protocol attacks such as
// ALPACA make browsers do, a TLS handshake where plaintext SMTP was
// expected, and clients that talk before the greeting (RFC 5321 section
// 3.1 has the client wait for it; RFC 2920 section 3.1 keeps that rule
// under pipelining). Each is answered 421 4.7.0 without echoing anything
// of the client's and the connection is closed at once, as Postfix does
// with smtpd_forbidden_commands and postscreen's pregreet test; one log
// line says why.

// foreignVerbs are the first words of other protocols' requests: HTTP/1
// methods, the HTTP/2 preface ("PRI * HTTP/2.0"), and POP3's and FTP's
// login commands.
var foreignVerbs = []string{
	"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE", "PRI",
	"USER", "PASS",
}

// isForeignVerb reports whether an unrecognized verb is one of another
// protocol's.
func isForeignVerb(name []byte) bool {
	for _, v := range foreignVerbs {
		if len(name) == len(v) && ascii.EqualFold(string(name), v) {
			return true
		}
	}
	return false
}

// looksLikeTLS reports whether b starts as a TLS handshake record does:
// content type 22, version major 3 (RFC 8446 section 5.1). Other 8-bit
// octets are left to the command parser (500, the session goes on).
func looksLikeTLS(b []byte) bool {
	return len(b) >= 2 && b[0] == 0x16 && b[1] == 0x03
}

// foreign is the outcome for a client that is not speaking SMTP: what
// says what it sent, for the log only.
func (c *Conn) foreign(what string) outcome {
	c.log(slog.LevelWarn, "smtp: not an SMTP client, closing connection", "sent", what)
	return answer(421, EnhancedCode{4, 7, 0}, c.srv.hostname+" Protocol error: not SMTP, closing connection").closeAfter()
}

// spokeFirst reports whether the client sent octets before the greeting,
// which it must wait for: octets already read (after a PROXY header), or
// waiting in the socket; not checked with Server.AllowEarlyCommands, in
// ATRN's reversed session, or with implicit TLS, where the handshake's own
// messages may still be in flight.
func (c *Conn) spokeFirst() bool {
	if c.srv.AllowEarlyCommands || c.reversed {
		return false // an ODMR provider may pipeline its EHLO behind the 250 to ATRN
	}
	if _, isTLS := c.nc.(interface{ ConnectionState() tls.ConnectionState }); isTLS {
		return false
	}
	return c.r != nil && c.r.Buffered() > 0 || inputReady(c.raw)
}
