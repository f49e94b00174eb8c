package smtp

import (
	"strings"
	"testing"

	"github.com/postwire/postwire/textproto"
	"github.com/stretchr/testify/assert"
)

// The table says what RFC 5321 section 4.1.4, RFC 3030 and RFC 4954 say;
// spot-check the rows that matter most.
func TestStateTableRules(t *testing.T) {
	tests := []struct {
		state state
		verb  textproto.Verb
		want  bool
	}{
		{stateConnected, textproto.VerbMAIL, false},
		{stateConnected, textproto.VerbEHLO, true},
		{stateConnected, textproto.VerbAUTH, false},
		{stateConnected, textproto.VerbSTARTTLS, true},
		{stateGreeted, textproto.VerbMAIL, true},
		{stateGreeted, textproto.VerbRCPT, false},
		{stateGreeted, textproto.VerbDATA, false},
		{stateGreeted, textproto.VerbBDAT, false},
		{stateGreeted, textproto.VerbAUTH, true},
		{stateMail, textproto.VerbMAIL, false},
		{stateMail, textproto.VerbRCPT, true},
		{stateMail, textproto.VerbDATA, false},
		{stateMail, textproto.VerbAUTH, false},
		{stateMail, textproto.VerbSTARTTLS, false},
		{stateMail, textproto.VerbEHLO, true},
		{stateRcpt, textproto.VerbDATA, true},
		{stateRcpt, textproto.VerbBDAT, true},
		{stateRcpt, textproto.VerbRCPT, true},
		{stateRcpt, textproto.VerbMAIL, false},
		// Between chunks the body reader takes the next BDAT itself; the
		// table judges only what interrupts the body.
		{stateBDAT, textproto.VerbBDAT, false},
		{stateBDAT, textproto.VerbDATA, false},
		{stateBDAT, textproto.VerbMAIL, false},
		{stateBDAT, textproto.VerbEHLO, false},
		{stateBDAT, textproto.VerbRSET, true},
		{stateBDAT, textproto.VerbQUIT, true},
		{stateBDAT, textproto.VerbNOOP, true},
	}
	for _, tt := range tests {
		t.Run(tt.state.String()+"/"+tt.verb.String(), func(t *testing.T) {
			assert.Equal(t, tt.want, commands[tt.verb].allowed.has(tt.state))
		})
	}
	for s := range numStates {
		for _, v := range []textproto.Verb{textproto.VerbRSET, textproto.VerbNOOP, textproto.VerbQUIT, textproto.VerbHELP} {
			assert.True(t, commands[v].allowed.has(s), "%s must be allowed in %s", v, s)
		}
		assert.False(t, commands[textproto.VerbUnknown].allowed.has(s))
	}
}

// srvStateCommands are sample lines for each verb, for driving the table.
var srvStateCommands = map[textproto.Verb]string{
	textproto.VerbHELO:     "HELO client.test",
	textproto.VerbEHLO:     "EHLO client.test",
	textproto.VerbMAIL:     "MAIL FROM:<a@example.org>",
	textproto.VerbRCPT:     "RCPT TO:<b@example.org>",
	textproto.VerbDATA:     "DATA",
	textproto.VerbBDAT:     "BDAT 6\r\nQUIT", // with the CRLF send adds: a chunk that looks like a command
	textproto.VerbRSET:     "RSET",
	textproto.VerbNOOP:     "NOOP",
	textproto.VerbVRFY:     "VRFY alice",
	textproto.VerbEXPN:     "EXPN staff",
	textproto.VerbHELP:     "HELP",
	textproto.VerbSTARTTLS: "STARTTLS",
	textproto.VerbAUTH:     "AUTH PLAIN AHVzZXIAcGFzcw==",
	textproto.VerbETRN:     "ETRN example.org",
	textproto.VerbTURN:     "TURN",
	textproto.VerbATRN:     "ATRN example.org",
	textproto.VerbSEND:     "SEND FROM:<a@example.org>",
	textproto.VerbSOML:     "SOML FROM:<a@example.org>",
	textproto.VerbSAML:     "SAML FROM:<a@example.org>",
	textproto.VerbXCLIENT:  "XCLIENT ADDR=192.0.2.1",
}

// srvToState drives a new connection into s.
func srvToState(c *srvClient, s state) {
	c.expect("220 ")
	if s == stateConnected {
		return
	}
	c.cmd("EHLO client.test", "250 ")
	if s == stateGreeted {
		return
	}
	c.cmd("MAIL FROM:<a@example.org>", "250 ")
	if s == stateMail {
		return
	}
	c.cmd("RCPT TO:<b@example.org>", "250 ")
	if s == stateRcpt {
		return
	}
	c.raw("BDAT 3\r\nabc")
	c.expect("250 2.0.0")
}

// Every command the table refuses, in every state, gets 503 5.5.1, changes
// nothing (a NOOP after it is answered in step), and a refused BDAT's
// chunk is never run as a command. Between BDAT chunks the refused command
// has ended the body, so the message is not delivered and the transaction
// is over.
func TestStateTableRefusals(t *testing.T) {
	b := &srvBackend{auth: true}
	_, addr := srvStart(t, b, func(s *Server) { s.AllowInsecureAuth = true })
	for s := range numStates {
		for v, line := range srvStateCommands {
			if commands[v].allowed.has(s) || s == stateBDAT && v == textproto.VerbBDAT {
				continue
			}
			t.Run(s.String()+"/"+v.String(), func(t *testing.T) {
				c := srvDial(t, addr)
				srvToState(c, s)
				c.send(line)
				lines := c.expect("503 5.5.1")
				assert.NotContains(t, strings.Join(lines, "\n"), "\n", "one line")
				c.cmd("NOOP", "250 2.0.0")
				// The state is unchanged: what was allowed still is.
				switch s {
				case stateGreeted:
					c.cmd("MAIL FROM:<a@example.org>", "250 ")
				case stateMail, stateRcpt:
					c.cmd("RCPT TO:<c@example.org>", "250 ")
				case stateBDAT:
					c.raw("BDAT 2 LAST\r\nde")
					c.expect("503 5.5.1")
					c.cmd("MAIL FROM:<a@example.org>", "250 ")
				}
			})
		}
	}
	// No transaction was ever completed, and a body interrupted between
	// chunks is never delivered.
	assert.Empty(t, b.Messages())
}
