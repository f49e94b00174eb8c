package sasl

import "golang.org/x/text/secure/precis"

// Preparation of user names and passwords with PRECIS (RFC 8264, RFC 8265),
// the successor of SASLprep (RFC 4013) that RFC 5802 section 5.1 and RFC
// 4616 section 2 refer to.
//
// The choice of profiles made by this package:
//
//   - Clients prepare user names with UsernameCasePreserved (RFC 8265
//     section 3.4) and never fold case: whether "Tim" and "tim" are the same
//     account is the server's decision, and a client that lowered the case
//     would lock its user out of a case-sensitive server. Like SASLprep, the
//     profile normalises to NFC and maps full-width characters.
//   - SCRAM servers enforce UsernameCasePreserved too, so the name given to
//     the credential lookup is exactly the one the client prepared; a server
//     that wants case-insensitive names folds case in its lookup (or calls
//     PrepareUsernameCaseMapped there).
//   - PLAIN servers built with NewPlainServerPrepared enforce
//     UsernameCaseMapped (RFC 8265 section 3.3), since the server itself is
//     the one comparing names, and OpaqueString on the password.
//   - Passwords are prepared with OpaqueString (RFC 8265 section 4.2) on
//     both sides, which is what makes a SCRAM proof computed by the client
//     match the StoredKey derived by NewScramCredentials.
//
// Preparation errors wrap ErrMalformed and never quote the input.

// PrepareUsername prepares a user name with the PRECIS UsernameCasePreserved
// profile (RFC 8265 section 3.4).
func PrepareUsername(name string) (string, error) {
	s, err := precis.UsernameCasePreserved.String(name)
	if err != nil || s == "" { // x/text lets an empty name through; we do not
		return "", malformed("PRECIS", "user name not allowed by UsernameCasePreserved")
	}
	return s, nil
}

// PrepareUsernameCaseMapped prepares a user name with the PRECIS
// UsernameCaseMapped profile (RFC 8265 section 3.3): like PrepareUsername,
// and case-folded, for comparisons that ignore case.
func PrepareUsernameCaseMapped(name string) (string, error) {
	s, err := precis.UsernameCaseMapped.String(name)
	if err != nil || s == "" { // x/text lets an empty name through; we do not
		return "", malformed("PRECIS", "user name not allowed by UsernameCaseMapped")
	}
	return s, nil
}

// PreparePassword prepares a password with the PRECIS OpaqueString profile
// (RFC 8265 section 4.2): non-ASCII spaces become U+0020, the result is in
// NFC, and control characters and empty passwords are refused.
func PreparePassword(password string) (string, error) {
	s, err := precis.OpaqueString.String(password)
	if err != nil {
		return "", malformed("PRECIS", "password not allowed by OpaqueString")
	}
	return s, nil
}
