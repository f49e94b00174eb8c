// Package textproto is the SMTP wire grammar of RFC 5321: the command-line
// parser (section 4.1.1), mailbox paths and their limits (sections 4.1.2
// and 4.5.3.1), ESMTP parameters and the codec of their values (one
// ParseXxx and AppendXxx pair per MAIL and RCPT keyword, for both sides),
// xtext (RFC 3461 section 4, RFC 6533 section 3), and replies (section
// 4.2) with enhanced status codes (RFC 2034, RFC 3463): the encoder a
// server writes with and the reader a client reads with.
//
// It is written by hand as byte-level state machines: no regular
// expressions, no net/textproto, and no allocation to parse a command
// without arguments or to encode a one-line reply.
package textproto
