package smtp

import (
	"crypto/tls"

	"github.com/postwire/postwire/extensions"
)

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
	c.resetTransaction()
	c.state = stateConnected
	c.exts = extensions.Set{}
	c.authFailures = 0
	c.mu.Lock()
	c.helo, c.esmtp = "", false
	c.identity, c.authMech = xclientLogin(c.xclient)
	c.mu.Unlock()
	c.setLimits()
	c.renewSession()
}

// renewSession replaces the session by a new one from the Backend, after
// logging the old one out.
func (c *Conn) renewSession() {
	old := c.session
	c.session = nil
	if err := old.Logout(); err != nil {
		c.srv.logger().Warn("smtp: Session.Logout failed", "err", err)
	}
	s, err := c.srv.Backend.NewSession(c)
	if err != nil {
		c.srv.logger().Error("smtp: Backend.NewSession failed after STARTTLS", "remote", c.remote, "err", err)
		c.reply(421, EnhancedCode{4, 3, 0}, c.srv.hostname+" Service not available, closing connection")
		c.closing = true
		return
	}
	c.session = s
}
