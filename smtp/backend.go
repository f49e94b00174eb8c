package smtp

import (
	"context"
	"io"

	"github.com/postwire/postwire/sasl"
)

// Backend makes a Session for each connection the Server accepts. It is
// the application's half of the server, as http.Handler is for net/http.
type Backend interface {
	// NewSession is called when a connection is accepted, before the
	// greeting, and again each time the dialogue starts over: after
	// STARTTLS (RFC 3207 section 4.2) and after XCLIENT, once the previous
	// Session was logged out. The Conn then tells what changed (TLS, the
	// client's address); its HELO name is "" until the client greets
	// again. An *Error is sent as the refusal (use 554 to turn a client
	// away, RFC 5321 section 3.1); any other error sends 421 4.3.0 and
	// closes the connection.
	NewSession(c *Conn) (Session, error)
}

// BackendFunc adapts an ordinary function to Backend, as
// http.HandlerFunc adapts one to http.Handler.
type BackendFunc func(c *Conn) (Session, error)

// NewSession calls f(c).
func (f BackendFunc) NewSession(c *Conn) (Session, error) { return f(c) }

// Session is one connection's conversation with the backend: a series of
// mail transactions (RFC 5321 section 3.3). The Server calls its methods
// from the connection's goroutine only, never two at a time.
//
// Every error a method returns becomes the reply to the command: an *Error
// is sent exactly as it is, so return one of the ready-made ones
// (ErrNoSuchUser, ErrMailboxFull, ErrRelayDenied, ErrMessageRefused,
// ErrTryLater, ...) or your own; any other error becomes 451 4.3.0, and
// its text is logged at Warn with the connection's id, never sent (it may
// hold internals). A panic in a method becomes 421 4.3.0 and ends that
// connection alone; it is logged.
//
// Conn.Hostname gives the client's HELO name from its HELO, EHLO or LHLO
// on, so in every method but none before; Conn.TLSConnectionState and
// Conn.AuthIdentity tell how it is connected.
//
// The context given to each method is cancelled when the connection ends,
// when Server.Close is called, or when Server.Shutdown gives up waiting.
type Session interface {
	// Mail starts a transaction with the reverse-path (RFC 5321 section
	// 4.1.1.2); from is "" for the null path "<>". opts belongs to the
	// connection and is reused: it is valid only during the call. Refuse
	// with ErrSenderRefused, ErrAuthRequired or ErrTryLater, for example.
	//
	// from is the address as the client sent it: with SMTPUTF8 its domain
	// may be in U-labels ("bob@bücher.example", RFC 6531 section 3.3).
	// opts.FromALabels is the same address with the domain in A-labels
	// ("bob@xn--bcher-kva.example", RFC 5890 section 2.3.2.1), equal to
	// from when the client sent ASCII: match an allow-list keyed in
	// A-labels against it, one keyed in U-labels against from.
	Mail(ctx context.Context, from string, opts *MailOptions) error
	// Rcpt adds a recipient (RFC 5321 section 4.1.1.3). opts is valid
	// only during the call. Refuse with ErrNoSuchUser, ErrRelayDenied,
	// ErrMailboxFull or ErrMailboxUnavailable, for example.
	//
	// to is the address as the client sent it, its domain possibly in
	// U-labels (RFC 6531 section 3.3); opts.ToALabels is the same address
	// with the domain in A-labels (RFC 5890 section 2.3.2.1), equal to to
	// when the client sent ASCII. A client may send either form for one
	// mailbox: compare domains in A-labels (ToALabels) to treat both
	// alike.
	Rcpt(ctx context.Context, to string, opts *RcptOptions) error
	// Data receives the message body of DATA or BDAT (RFC 5321 section
	// 4.1.1.4, RFC 3030): r yields it unstuffed, with CRLF line endings,
	// and io.EOF at its end. r is valid only during the call. Refuse with
	// ErrMessageRefused, ErrMessageTooBig or ErrMailboxFull, for example;
	// return nil only once the message is on stable storage, since the
	// client then forgets it (RFC 5321 section 6.1). To accept with a
	// reply text of its own (a before-queue proxy passing on its
	// upstream's "250 2.0.0 Ok: queued as ..."), Data returns an *Error
	// with Code 250: it is sent as it is and counts as acceptance (in
	// LMTP, as a recipient's status too).
	//
	// A body that breaks a rule (over Server.MaxMessageBytes, a bare CR
	// or LF, a line over Server.MaxBodyLineLength) makes r fail with an
	// error; whatever Data returns then, the client gets the reply for
	// that rule. If Data returns before r's end, the Server reads and
	// discards the rest itself.
	Data(ctx context.Context, r io.Reader) error
	// Reset ends the current transaction: forget the envelope (RFC 5321
	// section 4.1.1.5). It is called after every message (accepted or
	// not) and when RSET, HELO/EHLO/LHLO, QUIT or STARTTLS abort an open
	// transaction.
	Reset()
	// Logout is called once when the connection ends.
	Logout() error
}

// AuthSession is a Session that offers SMTP AUTH (RFC 4954). The Server
// advertises AUTH with the mechanisms it returns, only over TLS unless
// Server.AllowInsecureAuth is set.
type AuthSession interface {
	Session
	// AuthMechanisms lists the SASL mechanisms to offer, such as
	// sasl.Plain; nil or empty offers none.
	AuthMechanisms() []string
	// Auth returns the server side of mech for one exchange. After the
	// exchange succeeds, the identity comes from sasl.IdentityServer when
	// the returned Server implements it (Conn.AuthIdentity). Errors
	// wrapping sasl.ErrInvalidCredentials give 535 5.7.8 (as
	// ErrAuthFailed does), sasl.ErrMalformed 501 5.5.2, an *Error is sent
	// as it is, others 454 4.7.0 with their text logged at Warn.
	Auth(mech string) (sasl.Server, error)
}

// StatusCollector takes the outcome of delivery to each recipient of an
// LMTP transaction (RFC 2033 section 4.2).
type StatusCollector interface {
	// SetStatus records the result for rcptTo, one of the addresses Rcpt
	// accepted, as passed to Rcpt: nil for success, an error as for a
	// Session method otherwise. A recipient given no status gets the
	// result LMTPData returns.
	SetStatus(rcptTo string, err error)
}

// LMTPSession is a Session that reports a status for each recipient after
// an LMTP DATA or BDAT (RFC 2033 section 4.2). A Session without it gets,
// in LMTP mode, the result of Data repeated for every recipient.
type LMTPSession interface {
	Session
	// LMTPData receives the body as Data does and reports per recipient
	// through status.
	LMTPData(ctx context.Context, r io.Reader, status StatusCollector) error
}

// VerifySession is a Session that answers VRFY and EXPN (RFC 5321
// sections 3.5 and 4.1.1.6-7). Without it VRFY gets 252 2.5.0 (cannot
// verify, but will accept and try, section 3.5.3) and EXPN 502 5.5.1.
type VerifySession interface {
	Session
	// Verify answers VRFY arg: the mailbox it stands for ("Name
	// <local@domain>" or "<local@domain>"), sent with 250 2.1.5, or an
	// error (550 5.1.1 for an unknown user, 553 5.1.4 for an ambiguous
	// one, 252 for "cannot verify").
	Verify(ctx context.Context, arg string) (mailbox string, err error)
	// Expand answers EXPN list with the members' mailboxes, sent as a
	// multi-line 250 2.1.5, or an error (550 5.1.1 when no such list;
	// return an *Error with code 502 to refuse).
	Expand(ctx context.Context, list string) (members []string, err error)
}
