package smtp

import (
	"log/slog"

	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/internal/ascii"
	"github.com/postwire/postwire/textproto"
)

// A command is one row of the command table: all that the dispatcher
// needs to know about a verb before its handler runs. Adding a command is
// adding a row.
type command struct {
	// handle answers the command. nil marks a command this server knows
	// but does not implement: 502 5.5.1 (RFC 5321 section 4.2.4).
	handle func(c *Conn, args []byte) outcome

	// allowed are the states in which the command may come. In any other
	// it is refused with 503 5.5.1 (RFC 5321 section 4.3.2) and changes
	// nothing; outOfOrder is the text, unless the state has its own (see
	// outOfOrder).
	allowed    states
	outOfOrder string

	// offered reports whether this connection offers the command at all;
	// nil means always. One not offered is answered 502 5.5.1 and is left
	// out of HELP.
	offered func(c *Conn) bool

	// guards are the conditions beyond the state, checked in order once
	// the state allows the command: each returns the zero outcome to let
	// it through, or its refusal. HELP leaves out a command that a guard
	// refuses.
	guards []func(c *Conn) outcome

	// line is the command line limit that applies (RFC 5321 section
	// 4.5.3.1.4 and the extensions' increments for MAIL and RCPT).
	line lineKind

	// protocol is where the verb exists: HELO and EHLO in SMTP only, LHLO
	// in LMTP only (RFC 2033 section 4.1); elsewhere it is unrecognized.
	protocol protocol

	// chunk marks BDAT: its chunk follows the line, and is read and
	// discarded when the command is refused, so that it is never taken
	// for commands (RFC 3030 section 3).
	chunk bool

	// junk marks a command that costs the server work but moves no mail:
	// Server.MaxJunkCommands bounds how many a client may send between
	// accepted messages.
	junk bool
}

type lineKind uint8

const (
	lineCommand lineKind = iota
	lineMail
	lineRcpt
)

type protocol uint8

const (
	smtpAndLMTP protocol = iota
	smtpOnly
	lmtpOnly
)

// The states of the table's columns.
var (
	anyState       = in(stateConnected, stateGreeted, stateMail, stateRcpt, stateBDAT)
	outsideChunks  = in(stateConnected, stateGreeted, stateMail, stateRcpt)
	outsideMail    = in(stateConnected, stateGreeted)
	greetedNoMail  = in(stateGreeted)
	mailOpen       = in(stateMail, stateRcpt)
	withRecipients = in(stateRcpt)
)

// commands is THE table of the SMTP and LMTP commands: which state allows
// each, what else it needs, and its handler. It is filled in init because
// HELP reads it.
//
// Column notes:
//   - HELO, EHLO and LHLO may come at any time but between BDAT chunks;
//     they abort a transaction (RFC 5321 section 4.1.4).
//   - MAIL needs a greeting and no open transaction (section 4.1.1.2,
//     3.3); RCPT needs MAIL; DATA and BDAT need an accepted recipient
//     (section 3.3, RFC 3030 section 2), in LMTP too (RFC 2033 section
//     4.2: 503).
//   - RSET, NOOP, HELP and QUIT may come at any time, even between BDAT
//     chunks (RFC 3030 section 3; section 4.1.4 adds VRFY and EXPN, which
//     this server takes outside BDAT bodies only). A command between
//     chunks ends the message undelivered (see bdat.go).
//   - STARTTLS and AUTH are refused inside a transaction (RFC 3207
//     section 4, RFC 4954 section 4); AUTH also needs EHLO.
//   - XCLIENT may come at any time but inside a transaction
//     (XCLIENT_README).
//   - Commands this server does not implement (TURN, SEND, ...) are
//     allowed wherever they could come, so that their 502 does not depend
//     on the state. So are ETRN and ATRN, which only some sessions offer:
//     their order (after EHLO, outside a transaction; ATRN after AUTH,
//     RFC 2645 section 5.2.1) is in guards, checked once they are
//     offered.
var commands [numVerbs]command

// numVerbs bounds textproto.Verb for the table.
const numVerbs = int(textproto.VerbXCLIENT) + 1

func init() {
	commands = [numVerbs]command{
		textproto.VerbHELO: {handle: (*Conn).handleHELO, allowed: outsideChunks, protocol: smtpOnly},
		textproto.VerbEHLO: {handle: (*Conn).handleEHLO, allowed: outsideChunks, protocol: smtpOnly},
		textproto.VerbLHLO: {handle: (*Conn).handleLHLO, allowed: outsideChunks, protocol: lmtpOnly},

		textproto.VerbMAIL: {
			handle: (*Conn).handleMail, allowed: greetedNoMail, outOfOrder: "Nested MAIL command",
			guards: []func(*Conn) outcome{(*Conn).guardAuthRequired}, line: lineMail,
		},
		textproto.VerbRCPT: {
			handle: (*Conn).handleRcpt, allowed: mailOpen, outOfOrder: "Need MAIL before RCPT",
			line: lineRcpt,
		},
		textproto.VerbDATA: {
			handle: (*Conn).handleData, allowed: withRecipients, outOfOrder: "Need RCPT (recipient) first",
			guards: []func(*Conn) outcome{(*Conn).guardNotBinaryMIME},
		},
		textproto.VerbBDAT: {
			handle: (*Conn).handleBDAT, allowed: withRecipients, outOfOrder: "Need RCPT (recipient) first",
			offered: (*Conn).chunkingAdvertised, chunk: true,
		},

		textproto.VerbRSET: {handle: (*Conn).handleRset, allowed: anyState, junk: true},
		textproto.VerbNOOP: {handle: (*Conn).handleNoop, allowed: anyState, junk: true},
		textproto.VerbQUIT: {handle: (*Conn).handleQuit, allowed: anyState},
		textproto.VerbHELP: {handle: (*Conn).handleHelp, allowed: anyState, junk: true},
		textproto.VerbVRFY: {handle: (*Conn).handleVrfy, allowed: outsideChunks, junk: true},
		textproto.VerbEXPN: {handle: (*Conn).handleExpn, allowed: outsideChunks, offered: (*Conn).canVerify, junk: true},

		textproto.VerbSTARTTLS: {
			handle: (*Conn).handleStartTLS, allowed: outsideMail,
			outOfOrder: "STARTTLS not allowed during a mail transaction",
			offered:    (*Conn).tlsConfigured, guards: []func(*Conn) outcome{(*Conn).guardNoTLSYet},
		},
		textproto.VerbAUTH: {
			handle: (*Conn).handleAuth, allowed: greetedNoMail,
			outOfOrder: "AUTH not allowed during a mail transaction",
			offered:    (*Conn).canAuthenticate,
			guards: []func(*Conn) outcome{
				(*Conn).guardEHLO, (*Conn).guardNotAuthenticated, (*Conn).guardAuthOverTLS,
			},
		},
		textproto.VerbXCLIENT: {
			handle: (*Conn).handleXCLIENT, allowed: outsideMail,
			outOfOrder: "XCLIENT not allowed during a mail transaction",
			offered:    (*Conn).xclientConfigured,
		},

		textproto.VerbETRN: {
			handle: (*Conn).handleETRN, allowed: outsideChunks, offered: (*Conn).canETRN,
			guards: []func(*Conn) outcome{(*Conn).guardEHLO, (*Conn).guardNoTransaction}, junk: true,
		},
		textproto.VerbATRN: {
			handle: (*Conn).handleATRN, allowed: outsideChunks, offered: (*Conn).canATRN,
			guards: []func(*Conn) outcome{
				(*Conn).guardEHLO, (*Conn).guardNoTransaction, (*Conn).guardAuthenticated,
			},
		},
		textproto.VerbTURN: {allowed: outsideChunks},
		textproto.VerbSEND: {allowed: outsideChunks},
		textproto.VerbSOML: {allowed: outsideChunks},
		textproto.VerbSAML: {allowed: outsideChunks},
	}
}

// execute runs one command line (CRLF removed) through the table and
// returns its outcome.
func (c *Conn) execute(line []byte) outcome {
	cmd, err := textproto.ParseCommand(line)
	if err != nil {
		return failure(err)
	}
	row := c.lookup(cmd.Verb)
	if row == nil {
		if isForeignVerb(cmd.Name) {
			return c.foreign(ascii.ToUpper(string(cmd.Name)) + " request")
		}
		return answer(500, EnhancedCode{5, 5, 2}, "Command unrecognized")
	}
	if len(line)+2 > c.lineLimit(row.line) {
		return answer(500, EnhancedCode{5, 5, 6}, "Line too long")
	}

	if refusal, refused := c.admit(cmd.Verb, row); refused {
		return c.refuse(row, cmd.Args, refusal)
	}
	if row.junk && c.tooMuchJunk() {
		return answer(421, EnhancedCode{4, 7, 0}, c.srv.hostname+" Too many commands that move no mail, closing connection").closeAfter()
	}
	return row.handle(c, cmd.Args)
}

// tooMuchJunk counts a junk command and reports whether it is one more
// than Server.MaxJunkCommands allows, as Postfix's
// smtpd_junk_command_limit does.
func (c *Conn) tooMuchJunk() bool {
	c.junk++
	limit := setting(c.srv.MaxJunkCommands, DefaultMaxJunkCommands)
	if limit > 0 && c.junk > limit {
		c.log(slog.LevelInfo, "smtp: too many junk commands, closing connection", "commands", c.junk)
		return true
	}
	return false
}

// lookup returns the table's row for v, or nil when v is no command of
// this server's protocol.
func (c *Conn) lookup(v textproto.Verb) *command {
	row := &commands[v]
	switch {
	case row.allowed == 0:
		return nil // VerbUnknown
	case row.protocol == smtpOnly && c.srv.LMTP, row.protocol == lmtpOnly && !c.srv.LMTP:
		return nil
	}
	return row
}

// admit decides, from the table alone, whether the command may run now:
// its state, whether it is implemented and offered, and its guards. It
// returns the refusal and true when it may not.
func (c *Conn) admit(v textproto.Verb, row *command) (outcome, bool) {
	if !row.allowed.has(c.state) {
		return answer(503, EnhancedCode{5, 5, 1}, c.outOfOrder(row)), true
	}
	if row.handle == nil {
		return answer(502, EnhancedCode{5, 5, 1}, v.String()+" command not implemented"), true
	}
	if row.offered != nil && !row.offered(c) {
		return answer(502, EnhancedCode{5, 5, 1}, v.String()+" not available"), true
	}
	for _, guard := range row.guards {
		if refusal := guard(c); !refusal.isZero() {
			return refusal, true
		}
	}
	return outcome{}, false
}

// outOfOrder is the text of the 503 for a command the state does not
// allow: what the state lacks, or the command's own text.
func (c *Conn) outOfOrder(row *command) string {
	switch {
	case c.state == stateConnected:
		return "Send HELO/EHLO first"
	case c.state == stateBDAT:
		return "Only BDAT, RSET, NOOP, HELP or QUIT between BDAT chunks"
	case row.outOfOrder != "":
		return row.outOfOrder
	}
	return "Bad sequence of commands"
}

// refuse returns the refusal of a command, first reading and discarding
// the chunk of a refused BDAT.
func (c *Conn) refuse(row *command, args []byte, refusal outcome) outcome {
	if row.chunk {
		if o, ok := c.skipChunk(args); !ok {
			return o
		}
	}
	return refusal
}

// lineLimit returns the longest command line of kind k, CRLF included.
func (c *Conn) lineLimit(k lineKind) int {
	switch k {
	case lineMail:
		return c.mailLimit
	case lineRcpt:
		return c.rcptLimit
	}
	return c.cmdLimit
}

// What the connection offers (the table's offered column).

func (c *Conn) chunkingAdvertised() bool { return c.exts.Has(extensions.Chunking) }

func (c *Conn) tlsConfigured() bool { return c.srv.TLSConfig != nil }

func (c *Conn) xclientConfigured() bool { return len(c.srv.XCLIENTTrusted) > 0 }

func (c *Conn) canVerify() bool {
	_, ok := c.session.(VerifySession)
	return ok
}

func (c *Conn) canAuthenticate() bool {
	as, ok := c.session.(AuthSession)
	return ok && len(as.AuthMechanisms()) > 0
}

// The guards: conditions of order and security beyond the state.

// guardAuthRequired refuses MAIL before AUTH on a server with
// Server.RequireAuth (RFC 4954 section 6). Where AUTH needs TLS and
// STARTTLS is on offer, the client is told to use it first (RFC 3207
// section 4), since AUTH was not even advertised to it.
func (c *Conn) guardAuthRequired() outcome {
	switch {
	case !c.srv.RequireAuth || c.identity != nil:
		return outcome{}
	case c.tlsState == nil && !c.srv.AllowInsecureAuth && c.srv.TLSConfig != nil:
		return answer(530, EnhancedCode{5, 7, 0}, "Must issue a STARTTLS command first")
	}
	return answer(530, EnhancedCode{5, 7, 0}, "Authentication required")
}

// guardNoTransaction refuses ETRN and ATRN inside a mail transaction:
// both hand the connection's purpose to queued mail (RFC 1985 section 5,
// RFC 2645 section 5.2), which an open envelope would leave half done.
// A guard rather than the table's states, so that where the Session does
// not offer them their 502 does not depend on the state.
func (c *Conn) guardNoTransaction() outcome {
	if c.state.inTransaction() {
		return answer(503, EnhancedCode{5, 5, 1}, "Not allowed during a mail transaction")
	}
	return outcome{}
}

// guardAuthenticated refuses ATRN before a successful AUTH (RFC 2645
// section 5.2.1: 530).
func (c *Conn) guardAuthenticated() outcome {
	if c.identity == nil {
		return answer(530, EnhancedCode{5, 7, 0}, "Authentication required")
	}
	return outcome{}
}

// guardNotBinaryMIME refuses DATA for a message declared BODY=BINARYMIME,
// which only BDAT can carry (RFC 3030 section 3).
func (c *Conn) guardNotBinaryMIME() outcome {
	if c.mailOpts.Body == BodyBinaryMIME {
		return answer(503, EnhancedCode{5, 5, 1}, "BODY=BINARYMIME requires BDAT")
	}
	return outcome{}
}

// guardNoTLSYet refuses a second STARTTLS (RFC 3207 section 4.2: TLS is
// negotiated once).
func (c *Conn) guardNoTLSYet() outcome {
	if c.tlsState != nil {
		return answer(503, EnhancedCode{5, 5, 1}, "TLS already active")
	}
	return outcome{}
}

// guardEHLO refuses AUTH before EHLO: AUTH is an extension (RFC 4954
// section 3), so HELO does not make it available.
func (c *Conn) guardEHLO() outcome {
	if !c.esmtp {
		return answer(503, EnhancedCode{5, 5, 1}, "Send EHLO first")
	}
	return outcome{}
}

// guardNotAuthenticated refuses AUTH after a successful one (RFC 4954
// section 4: "After a successful AUTH command completes, a server MUST
// reject any further AUTH commands with a 503 reply").
func (c *Conn) guardNotAuthenticated() outcome {
	if c.identity != nil {
		return answer(503, EnhancedCode{5, 5, 1}, "Already authenticated")
	}
	return outcome{}
}

// guardAuthOverTLS refuses AUTH without TLS unless Server.AllowInsecureAuth
// (RFC 4954 section 4, 538 5.7.11), before any credentials are read.
func (c *Conn) guardAuthOverTLS() outcome {
	if c.tlsState == nil && !c.srv.AllowInsecureAuth {
		return answer(538, EnhancedCode{5, 7, 11}, "Encryption required for requested authentication mechanism")
	}
	return outcome{}
}
