package smtp

import "crypto/tls"

// handleStartTLS answers STARTTLS (RFC 3207). After the 220 reply every
// octet the client sent before the handshake is discarded (CVE-2011-0411:
// a command injected behind STARTTLS must not run inside TLS), and after
// the handshake the session starts over as if just connected: no HELO
// name, no extensions, no authentication, and a new Session from the
// Backend (section 4.2: the server "MUST discard any knowledge obtained
// from the client"). What a trusted proxy announced with XCLIENT is not
// the client's word and stays, its LOGIN included (XCLIENT_README: the
// attributes last until the next XCLIENT). A failed handshake closes the
// connection.
func (c *Conn) handleStartTLS(args []byte) {
	switch {
	case c.tlsState != nil:
		c.reply(503, EnhancedCode{5, 5, 1}, "TLS already active")
		return
	case c.srv.TLSConfig == nil:
		c.reply(502, EnhancedCode{5, 5, 1}, "STARTTLS not available")
		return
	case len(args) > 0:
		c.reply(501, EnhancedCode{5, 5, 4}, "Syntax: STARTTLS takes no argument")
		return
	}
	c.reply(220, EnhancedCode{2, 0, 0}, "Ready to start TLS")
	if c.flush() != nil {
		return
	}
	c.discardInput()
	if !c.handshake(tls.Server(c.nc, c.srv.TLSConfig)) {
		c.closing = true
		return
	}
	c.startOver(" after STARTTLS", nil)
}
