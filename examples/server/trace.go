package main

import (
	"github.com/postwire/postwire/smtp"
)

// traceHeader returns the header fields a delivering server puts on top of
// a message it stores (RFC 5321 section 4.4), built by the library:
// Return-Path with the reverse-path as the client sent it, then a Received
// field saying where the message came from, how and when. The message
// itself follows unchanged, byte for byte. The "by" name is the Server's
// Hostname.
//
//	Return-Path: <alice@client.example>
//	Received: from client.example ([127.0.0.1])
//		by mx.example.org (Postwire) with ESMTPS (TLS 1.3, TLS_AES_128_GCM_SHA256)
//		id 3fa2c91e-1b for <bob@example.org>; Mon, 23 Nov 2026 03:00:00 +0000
func traceHeader(c *smtp.Conn, from string, to []string, utf8 bool) []byte {
	return receivedField(smtp.AppendReturnPath(nil, from), c, to, utf8)
}

// receivedField appends the Received field alone (RFC 5321 section 4.4)
// to dst; alone, it is what a message this server relays rather than
// delivers carries: held mail sent on over On-Demand Mail Relay, which
// must not have a Return-Path yet.
func receivedField(dst []byte, c *smtp.Conn, to []string, utf8 bool) []byte {
	// Only a single recipient is named: listing them all would tell each
	// who else got the message (RFC 5321 section 7.2).
	forRcpt := ""
	if len(to) == 1 {
		forRcpt = to[0]
	}
	received := smtp.NewReceived(c, utf8, forRcpt)
	received.Via = "Postwire"
	received.ID = c.ID()
	return received.AppendTo(dst)
}
