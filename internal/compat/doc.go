// Package compat holds Postwire's interoperability tests against real SMTP
// peers (Postfix, swaks, msmtp, Python's smtplib and aiosmtpd, go-smtp,
// net/smtp) and its side-by-side benchmarks against go-smtp and
// net/textproto. It is a module of its own so that the library's go.mod
// stays lean; nothing here is API.
package compat
