package smtp

// Ready-made replies for a Session (and a Backend or sasl.Server) to
// return: the answers a mail server gives most, each with the reply code
// of RFC 5321 section 4.2.3 and the enhanced code of RFC 3463 that say it
// best. The Server sends an *Error exactly as it is, while a plain Go
// error becomes 451 4.3.0 without its text, so return one of these (or
// your own *Error) whenever the client should learn why. Use WithMessage
// to keep a code with text of your own. Do not modify them.
var (
	// ErrNoSuchUser refuses a recipient that does not exist: 550 5.1.1
	// (RFC 3463 section 3.2, "bad destination mailbox address").
	ErrNoSuchUser = &Error{Code: 550, Enhanced: EnhancedCode{5, 1, 1}, Message: "No such user here"}
	// ErrMailboxDisabled refuses a recipient whose mailbox takes no mail:
	// 550 5.2.1 (RFC 3463 section 3.3).
	ErrMailboxDisabled = &Error{Code: 550, Enhanced: EnhancedCode{5, 2, 1}, Message: "Mailbox disabled, not accepting messages"}
	// ErrMailboxUnavailable defers a recipient whose mailbox cannot be
	// reached now: 450 4.2.1 (RFC 5321 section 4.2.3: "mailbox
	// unavailable (e.g., mailbox busy)").
	ErrMailboxUnavailable = &Error{Code: 450, Enhanced: EnhancedCode{4, 2, 1}, Message: "Mailbox temporarily unavailable"}
	// ErrMailboxFull defers a recipient over its quota: 452 4.2.2 (RFC
	// 3463 section 3.3, "mailbox full"); the sender tries again later.
	ErrMailboxFull = &Error{Code: 452, Enhanced: EnhancedCode{4, 2, 2}, Message: "Mailbox full"}
	// ErrRelayDenied refuses a recipient the server does not deliver for,
	// from a client not allowed to relay: 554 5.7.1 (RFC 3463 section 3.8,
	// "delivery not authorized").
	ErrRelayDenied = &Error{Code: 554, Enhanced: EnhancedCode{5, 7, 1}, Message: "Relay access denied"}
	// ErrSenderRefused refuses a reverse-path by policy: 550 5.7.1.
	ErrSenderRefused = &Error{Code: 550, Enhanced: EnhancedCode{5, 7, 1}, Message: "Sender address rejected"}
	// ErrMessageRefused refuses a message by content or policy, from Data:
	// 554 5.7.1 (RFC 5321 section 4.2.3: "transaction failed").
	ErrMessageRefused = &Error{Code: 554, Enhanced: EnhancedCode{5, 7, 1}, Message: "Message refused"}
	// ErrMessageTooBig refuses a message over a limit of the Session's own
	// (the Server enforces MaxMessageBytes itself): 552 5.3.4 (RFC 1870
	// section 6).
	ErrMessageTooBig = &Error{Code: 552, Enhanced: EnhancedCode{5, 3, 4}, Message: "Message size exceeds fixed maximum message size"}
	// ErrAuthFailed refuses credentials, from a sasl.Server or
	// AuthSession.Auth: 535 5.7.8 (RFC 4954 section 6).
	ErrAuthFailed = &Error{Code: 535, Enhanced: EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
	// ErrAuthRequired refuses a command until the client authenticates:
	// 530 5.7.0 (RFC 4954 section 6). Server.RequireAuth does this for
	// MAIL.
	ErrAuthRequired = &Error{Code: 530, Enhanced: EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	// ErrTryLater defers a command for reasons of policy, such as
	// greylisting or a rate limit: 451 4.7.1 (RFC 3463 section 3.8).
	ErrTryLater = &Error{Code: 451, Enhanced: EnhancedCode{4, 7, 1}, Message: "Try again later"}
	// ErrLocalError defers a command the server could not carry out, as
	// a plain Go error does (but without its log line): 451 4.3.0 (RFC
	// 5321 section 4.2.3: "local error in processing").
	ErrLocalError = &Error{Code: 451, Enhanced: EnhancedCode{4, 3, 0}, Message: "Requested action aborted: local error in processing"}
)

// WithMessage returns a copy of e with message as its text, the codes
// kept: smtp.ErrNoSuchUser.WithMessage("No mailbox for bob here").
func (e *Error) WithMessage(message string) *Error {
	c := *e
	c.Message = message
	return &c
}
