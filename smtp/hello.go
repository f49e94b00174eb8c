package smtp

import (
	"strconv"
	"strings"

	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/textproto"
)

// handleHELO, handleEHLO and handleLHLO answer the greetings (RFC 5321
// section 4.1.1.1, RFC 2033 section 4.1); see hello.
func (c *Conn) handleHELO(args []byte) outcome { return c.hello(textproto.VerbHELO, args) }
func (c *Conn) handleEHLO(args []byte) outcome { return c.hello(textproto.VerbEHLO, args) }
func (c *Conn) handleLHLO(args []byte) outcome { return c.hello(textproto.VerbLHLO, args) }

// hello records the client's name (unless XCLIENT gave one, which
// stands), aborts any transaction (section 4.1.4) and, for EHLO and LHLO,
// advertises the extensions (XCLIENT only to clients in
// Server.XCLIENTTrusted).
func (c *Conn) hello(verb textproto.Verb, args []byte) outcome {
	if len(args) == 0 {
		return answer(501, EnhancedCode{5, 5, 4}, "Syntax: "+verb.String()+" hostname")
	}
	helo, fromXCLIENT := c.xclientHELO()
	if !fromXCLIENT {
		helo = string(args)
	}

	if verb == textproto.VerbHELO {
		c.greeted(helo, false, extensions.Set{})
		return answer(250, EnhancedCode{}, c.srv.hostname)
	}

	exts := c.srv.extensionSet(c.tlsState != nil, c.authMechanisms())
	c.addQueueExtensions(&exts)
	if c.xclient != nil {
		exts.Add(extensions.XClient, xclientAttributeNames)
	}
	c.greeted(helo, true, exts)
	lines := append([]string{c.srv.hostname + " greets " + safeName(helo)}, exts.Lines()...)
	return outcome{code: 250, lines: lines}
}

// authMechanisms returns the mechanisms to advertise: none when the
// session cannot authenticate, or over plaintext unless allowed. They stay
// advertised after a successful AUTH, so that an EHLO sent then still
// allows the AUTH= parameter of MAIL (RFC 4954 section 5); the AUTH
// command itself is refused with 503 once a client has authenticated
// (section 4).
func (c *Conn) authMechanisms() []string {
	as, ok := c.session.(AuthSession)
	if !ok {
		return nil
	}
	if c.tlsState == nil && !c.srv.AllowInsecureAuth {
		return nil
	}
	return c.offerable(as.AuthMechanisms())
}

// extensionSet is what the server advertises in EHLO/LHLO, in this order,
// for a connection with or without TLS, with the given AUTH mechanisms.
func (s *Server) extensionSet(overTLS bool, mechs []string) extensions.Set {
	var set extensions.Set

	// How commands and replies travel (RFC 2920, 6152, 1870, 2034).
	if !s.DisablePipelining {
		set.Add(extensions.Pipelining, "")
	}
	if !s.Disable8BitMIME {
		set.Add(extensions.EightBitMIME, "")
	}
	if max := s.maxMessageBytes(); max > 0 && !s.DisableSize {
		set.Add(extensions.Size, strconv.FormatInt(max, 10))
	}
	if !s.DisableEnhancedStatusCodes {
		set.Add(extensions.EnhancedStatusCodes, "")
	}

	// Securing the session and authenticating (RFC 3207, 4954).
	if s.TLSConfig != nil && !overTLS {
		set.Add(extensions.StartTLS, "")
	}
	if len(mechs) > 0 {
		set.Add(extensions.Auth, strings.Join(mechs, " "))
	}

	// How the message is sent and what it may hold (RFC 3030, 6531).
	if !s.DisableChunking {
		set.Add(extensions.Chunking, "")
		if s.EnableBINARYMIME {
			set.Add(extensions.BinaryMIME, "")
		}
	}
	if !s.DisableSMTPUTF8 {
		set.Add(extensions.SMTPUTF8, "")
	}

	// What the client may ask of delivery (RFC 3461, 8689, 6710, 2852),
	// and the limits it must keep to (RFC 9422).
	if s.EnableDSN {
		set.Add(extensions.DSN, "")
	}
	if s.EnableREQUIRETLS && overTLS {
		set.Add(extensions.RequireTLS, "")
	}
	if s.EnableMTPriority {
		set.Add(extensions.MTPriority, "")
	}
	if s.EnableDeliverBy {
		set.Add(extensions.DeliverBy, "")
	}
	if max := s.maxRecipients(); s.EnableLimits && max > 0 {
		set.Add(extensions.Limits, "RCPTMAX="+strconv.Itoa(max))
	}

	set.Add(extensions.Help, "")
	return set
}

// safeName returns the client's HELO name cut to 64 printable octets, for
// echoing it in a reply.
func safeName(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		s = s[:maxLen]
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return "you"
		}
	}
	return s
}
