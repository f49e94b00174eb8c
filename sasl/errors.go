package sasl

import "errors"

// mechError is the error every mechanism returns for its own failures. Its
// text names the mechanism and a fixed reason, never the bytes the peer sent,
// so that no password or token can leak into a log through an error.
type mechError struct {
	mech   string
	reason string
	kind   error // one of ErrInvalidCredentials, ErrMalformed, ErrCancelled
}

func (e *mechError) Error() string { return "sasl: " + e.mech + ": " + e.reason }

// Unwrap lets errors.Is match the sentinel the error is a kind of.
func (e *mechError) Unwrap() error { return e.kind }

func malformed(mech, reason string) error {
	return &mechError{mech: mech, reason: reason, kind: ErrMalformed}
}

func invalid(mech, reason string) error {
	return &mechError{mech: mech, reason: reason, kind: ErrInvalidCredentials}
}

// errFinished is returned by a Server whose exchange is already over.
func errFinished(mech string) error {
	return malformed(mech, "exchange already finished")
}

// outcome tracks the end of one server exchange, shared by every Server of
// the package: once over, Next only returns errors, and Identity is reported
// only after success.
type outcome struct {
	mech      string
	over      bool
	succeeded bool
	id        Identity
	attempted string // the user name the client gave, for Attempted
}

// attempt records the user name the client tries to authenticate as.
func (o *outcome) attempt(username string) { o.attempted = username }

// Attempted reports the user name the client tried, succeeded or not; ""
// when it named none.
func (o *outcome) Attempted() string { return o.attempted }

// finished reports the error to return when Next is called after the end.
func (o *outcome) finished() error {
	if o.over {
		return errFinished(o.mech)
	}
	return nil
}

// fail ends the exchange with err.
func (o *outcome) fail(err error) ([]byte, bool, error) {
	o.over = true
	if err == nil { // a callback must not turn a failure into success
		err = invalid(o.mech, "authentication failed")
	}
	return nil, false, err
}

// succeed ends the exchange successfully as id.
func (o *outcome) succeed(id Identity) ([]byte, bool, error) {
	o.over = true
	o.succeeded = true
	o.id = id
	return nil, true, nil
}

// Identity reports who authenticated; the zero Identity until success.
func (o *outcome) Identity() Identity {
	if !o.succeeded {
		return Identity{}
	}
	return o.id
}

// isCredentialsError tells whether err says the credentials were wrong.
func isCredentialsError(err error) bool { return errors.Is(err, ErrInvalidCredentials) }
