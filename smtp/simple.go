package smtp

import (
	"strings"

	"github.com/postwire/postwire/textproto"
)

// handleRset answers RSET (RFC 5321 section 4.1.1.5): the transaction, if
// any, is aborted; the greeting stays.
func (c *Conn) handleRset(args []byte) outcome {
	if len(args) > 0 {
		return answer(501, EnhancedCode{5, 5, 4}, "Syntax: RSET takes no argument")
	}
	c.endTransaction()
	return answer(250, EnhancedCode{2, 0, 0}, "OK")
}

// handleNoop answers NOOP (RFC 5321 section 4.1.1.9), whose argument, if
// any, is ignored.
func (c *Conn) handleNoop([]byte) outcome {
	return answer(250, EnhancedCode{2, 0, 0}, "OK")
}

// handleQuit answers QUIT (RFC 5321 section 4.1.1.10) and ends the
// connection once the reply is out. QUIT takes no argument: one is a
// syntax error and the connection stays open, as for RSET.
func (c *Conn) handleQuit(args []byte) outcome {
	if len(args) > 0 {
		return answer(501, EnhancedCode{5, 5, 4}, "Syntax: QUIT takes no argument")
	}
	c.endTransaction()
	return answer(221, EnhancedCode{2, 0, 0}, c.srv.hostname+" Service closing transmission channel").closeAfter()
}

// handleHelp answers HELP (RFC 5321 section 4.1.1.8), whatever the
// argument, with the commands this connection can use now: those of its
// protocol that are implemented, offered (STARTTLS with a TLSConfig, AUTH
// with mechanisms, BDAT once CHUNKING was advertised, ...) and let through
// by their guards (no STARTTLS once TLS is active, no AUTH before EHLO,
// without TLS or once authenticated, ...). The order of a transaction is
// left out: MAIL is listed before the greeting too.
func (c *Conn) handleHelp([]byte) outcome {
	var b strings.Builder
	b.WriteString("Commands:")
	for v := range textproto.Verb(numVerbs) {
		if c.usable(v) {
			b.WriteByte(' ')
			b.WriteString(v.String())
		}
	}
	return outcome{code: 214, enh: EnhancedCode{2, 0, 0}, lines: []string{b.String()}}
}

// usable reports whether the command table would let v through on this
// connection in some state of the dialogue: see handleHelp.
func (c *Conn) usable(v textproto.Verb) bool {
	row := c.lookup(v)
	if row == nil || row.handle == nil || row.offered != nil && !row.offered(c) {
		return false
	}
	for _, guard := range row.guards {
		if !guard(c).isZero() {
			return false
		}
	}
	return true
}

// handleVrfy answers VRFY (RFC 5321 sections 3.5 and 4.1.1.6). Without a
// VerifySession it is 252 2.5.0: the server cannot verify the user but
// will accept mail for it and try (section 3.5.3 recommends this over
// 502, which it reserves for a server that does not implement VRFY).
func (c *Conn) handleVrfy(args []byte) outcome {
	if len(args) == 0 {
		return answer(501, EnhancedCode{5, 5, 4}, "Syntax: VRFY user")
	}
	vs, ok := c.session.(VerifySession)
	if !ok {
		return answer(252, EnhancedCode{2, 5, 0}, "Cannot VRFY user, but will accept message and attempt delivery")
	}
	mailbox, err := vs.Verify(c.ctx, string(args))
	if err != nil {
		return backendFailure("VRFY", err)
	}
	return outcome{code: 250, enh: EnhancedCode{2, 1, 5}, lines: []string{mailbox}}
}

// handleExpn answers EXPN (RFC 5321 section 4.1.1.7) for a VerifySession,
// one line per member; the table answers 502 5.5.1 without one (section
// 3.5.2 makes EXPN optional).
func (c *Conn) handleExpn(args []byte) outcome {
	if len(args) == 0 {
		return answer(501, EnhancedCode{5, 5, 4}, "Syntax: EXPN list")
	}
	members, err := c.session.(VerifySession).Expand(c.ctx, string(args))
	if err != nil {
		return backendFailure("EXPN", err)
	}
	if len(members) == 0 {
		return answer(550, EnhancedCode{5, 1, 1}, "List has no members")
	}
	return outcome{code: 250, enh: EnhancedCode{2, 1, 5}, lines: members}
}
