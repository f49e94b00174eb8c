package smtp

import (
	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/sasl"
	"log/slog"
)

// state is where a connection stands in the SMTP dialogue (RFC 5321
// section 4.1.4 orders the commands; RFC 3030 section 2 adds BDAT). The
// command table (commands.go) says which command each state allows; the
// functions below are the only ones that change it, one per transition.
type state uint8

const (
	// stateConnected: the greeting was sent, no HELO/EHLO/LHLO yet (and
	// again after STARTTLS, RFC 3207 section 4.2, or XCLIENT).
	stateConnected state = iota
	// stateGreeted: HELO/EHLO/LHLO accepted, no transaction.
	stateGreeted
	// stateMail: MAIL accepted, no recipient yet.
	stateMail
	// stateRcpt: MAIL and at least one RCPT accepted.
	stateRcpt
	// stateBDAT: a BDAT body is being read, its LAST chunk not yet; or a
	// command came between its chunks, ended the body, and is about to be
	// judged (see commands.go).
	stateBDAT
	numStates
)

var stateNames = [numStates]string{"connected", "greeted", "mail", "rcpt", "bdat"}

func (s state) String() string { return stateNames[s] }

// inTransaction reports whether a mail transaction is open.
func (s state) inTransaction() bool { return s >= stateMail }

// states is a set of states, for the command table.
type states uint8

// in makes the set of the given states.
func in(list ...state) states {
	var set states
	for _, s := range list {
		set |= 1 << s
	}
	return set
}

func (set states) has(s state) bool { return set&(1<<s) != 0 }

// greeted: HELO, EHLO or LHLO was accepted (RFC 5321 section 4.1.1.1). Any
// transaction is aborted first (section 4.1.4), and the extensions in
// force, and with them the command line limits, become exts (empty after
// HELO).
func (c *Conn) greeted(helo string, esmtp bool, exts extensions.Set) {
	c.endTransaction()
	c.state = stateGreeted
	c.mu.Lock()
	c.helo, c.esmtp = helo, esmtp
	c.mu.Unlock()
	c.exts = exts
	c.setLimits()
}

// mailAccepted: MAIL opened a transaction (RFC 5321 section 4.1.1.2).
func (c *Conn) mailAccepted() { c.state = stateMail }

// rcptAccepted: RCPT added a recipient (RFC 5321 section 4.1.1.3).
func (c *Conn) rcptAccepted(to string) {
	c.rcpts = append(c.rcpts, to)
	c.state = stateRcpt
}

// chunksStarted: the first BDAT chunk of a message arrived (RFC 3030
// section 2).
func (c *Conn) chunksStarted() { c.state = stateBDAT }

// endTransaction: the transaction, if any, is over: its message answered,
// or aborted by RSET, QUIT, HELO/EHLO or a broken body. The session is
// told (Session.Reset) and the recipients forgotten; the greeting stays.
func (c *Conn) endTransaction() {
	if c.state.inTransaction() {
		c.session.Reset()
	}
	if c.state > stateGreeted {
		c.state = stateGreeted
	}
	clear(c.rcpts)
	c.rcpts = c.rcpts[:0]
}

// messageAccepted: a message was accepted for at least one recipient. The
// transaction is over and the counts towards Server.MaxErrors and
// Server.MaxJunkCommands restart.
func (c *Conn) messageAccepted() {
	c.errors, c.junk = 0, 0
	c.msg.accepted = true
	c.endTransaction()
}

// startOver takes the connection back to where it was after the greeting,
// as STARTTLS (RFC 3207 section 4.2) and XCLIENT require: the session is
// logged out, the transaction, HELO name, extensions and login forgotten
// (but for a login XCLIENT announced), and a new session opened. update,
// when not nil, runs under c.mu before the new session is asked for, so
// that the Backend sees what it changes (XCLIENT's addresses). The
// outcome is the Backend's refusal when it gives no session (see
// openSession), the zero outcome otherwise.
func (c *Conn) startOver(after string, update func()) outcome {
	c.endTransaction()
	if err := c.session.Logout(); err != nil {
		c.log(slog.LevelWarn, "smtp: Session.Logout failed", "err", err)
	}
	c.session = nil
	c.state = stateConnected
	c.exts = extensions.Set{}
	c.authFailures = 0
	c.mu.Lock()
	c.helo, c.esmtp = "", false
	if update != nil {
		update()
	}
	c.identity, c.authMech = xclientLogin(c.xclient)
	c.mu.Unlock()
	c.setLimits()
	return c.openSession(after)
}

// authenticated: AUTH succeeded (RFC 4954 section 4) as id with mech.
func (c *Conn) authenticated(id *sasl.Identity, mech string) {
	c.mu.Lock()
	c.identity, c.authMech = id, mech
	c.mu.Unlock()
}

// rolesReversed: ATRN was answered 250 and this side becomes the SMTP
// client of the same connection (RFC 2645 section 5.3). No command is
// read any more; the connection ends when the reversed session does.
func (c *Conn) rolesReversed() {
	c.endTransaction()
	c.closing = true
}
