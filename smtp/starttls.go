package smtp

import "crypto/tls"

// handleStartTLS answers STARTTLS (RFC 3207); the command table has
// already refused it where TLS is not configured (502), already active or
// inside a transaction (503). After the 220 reply every octet the client
// sent before the handshake is discarded (CVE-2011-0411: a command
// injected behind STARTTLS must not run inside TLS), and after the
// handshake the session starts over as if just connected: no HELO name,
// no extensions, no authentication, and a new Session from the Backend
// (section 4.2: the server "MUST discard any knowledge obtained from the
// client"). What a trusted proxy announced with XCLIENT is not the
// client's word and stays, its LOGIN included (XCLIENT_README: the
// attributes last until the next XCLIENT). A failed handshake closes the
// connection.
func (c *Conn) handleStartTLS(args []byte) outcome {
	if len(args) > 0 {
		return answer(501, EnhancedCode{5, 5, 4}, "Syntax: STARTTLS takes no argument")
	}
	if c.sendNow(220, EnhancedCode{2, 0, 0}, "Ready to start TLS") != nil {
		return hangUp
	}

	c.discardInput()
	if !c.handshake(tls.Server(c.nc, c.srv.TLSConfig)) {
		return hangUp
	}
	return c.startOver(" after STARTTLS", nil)
}
