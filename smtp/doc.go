// Package smtp is Postwire's public face: a Server that applications embed
// to receive mail (RFC 5321, LMTP of RFC 2033, submission of RFC 6409 and
// RFC 8314) and a Client that services use to send it, sharing one Error
// type.
package smtp
