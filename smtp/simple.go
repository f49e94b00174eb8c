package smtp

import (
	"github.com/postwire/postwire/textproto"
)

// handleRset answers RSET (RFC 5321 section 4.1.1.5): the transaction, if
// any, is aborted; the greeting stays.
func (c *Conn) handleRset(args []byte) {
	if len(args) > 0 {
		c.reply(501, EnhancedCode{5, 5, 4}, "Syntax: RSET takes no argument")
		return
	}
	c.resetTransaction()
	c.reply(250, EnhancedCode{2, 0, 0}, "OK")
}

// handleQuit answers QUIT (RFC 5321 section 4.1.1.10) and ends the
// connection once the reply is out. QUIT takes no argument: one is a
// syntax error and the connection stays open, as for RSET.
func (c *Conn) handleQuit(args []byte) {
	if len(args) > 0 {
		c.reply(501, EnhancedCode{5, 5, 4}, "Syntax: QUIT takes no argument")
		return
	}
	c.resetTransaction()
	c.reply(221, EnhancedCode{2, 0, 0}, c.srv.hostname+" Service closing transmission channel")
	c.closing = true
}

// handleHelp answers HELP (RFC 5321 section 4.1.1.8) with the commands
// this server knows, whatever the argument.
func (c *Conn) handleHelp() {
	text := "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH"
	if c.srv.LMTP {
		text = "Commands: LHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH"
	}
	c.reply(214, EnhancedCode{2, 0, 0}, text)
}

// handleVrfy answers VRFY (RFC 5321 sections 3.5 and 4.1.1.6). Without a
// VerifySession it is 252 2.5.0: the server cannot verify the user but
// will accept mail for it and try (section 3.5.3 recommends this over
// 502, which it reserves for a server that does not implement VRFY).
func (c *Conn) handleVrfy(args []byte) {
	if len(args) == 0 {
		c.reply(501, EnhancedCode{5, 5, 4}, "Syntax: VRFY user")
		return
	}
	vs, ok := c.session.(VerifySession)
	if !ok {
		c.reply(252, EnhancedCode{2, 5, 0}, "Cannot VRFY user, but will accept message and attempt delivery")
		return
	}
	mailbox, err := vs.Verify(c.ctx, string(args))
	if err != nil {
		c.backendError("VRFY", err)
		return
	}
	c.writeReply(textproto.Reply{Code: 250, Enhanced: EnhancedCode{2, 1, 5}, Lines: []string{mailbox}})
}

// handleExpn answers EXPN (RFC 5321 section 4.1.1.7): 502 5.5.1 without a
// VerifySession (section 3.5.2 makes EXPN optional), otherwise one line per
// member.
func (c *Conn) handleExpn(args []byte) {
	vs, ok := c.session.(VerifySession)
	if !ok {
		c.reply(502, EnhancedCode{5, 5, 1}, "EXPN not implemented")
		return
	}
	if len(args) == 0 {
		c.reply(501, EnhancedCode{5, 5, 4}, "Syntax: EXPN list")
		return
	}
	members, err := vs.Expand(c.ctx, string(args))
	if err != nil {
		c.backendError("EXPN", err)
		return
	}
	if len(members) == 0 {
		c.reply(550, EnhancedCode{5, 1, 1}, "List has no members")
		return
	}
	c.writeReply(textproto.Reply{Code: 250, Enhanced: EnhancedCode{2, 1, 5}, Lines: members})
}

// handleNotImplemented answers the commands this server does not offer:
// ETRN (RFC 1985), TURN (RFC 5321 section 4.1.1 lists it as obsolete and
// 502 is its answer; it would be a security hole), ATRN (RFC 2645, which
// needs an authenticated ODMR session) and SEND, SOML, SAML (RFC 821,
// removed by RFC 5321 appendix F.6). All get 502 5.5.1.
func (c *Conn) handleNotImplemented(v textproto.Verb) {
	c.reply(502, EnhancedCode{5, 5, 1}, v.String()+" command not implemented")
}
