package main

import (
	"crypto/tls"
	"net"
	"strings"
	"time"

	"github.com/postwire/postwire/smtp"
)

// traceHeader returns the header fields a delivering server puts on top of
// a message it stores (RFC 5321 section 4.4): Return-Path with the
// reverse-path, then a Received line saying where the message came from,
// how and when. The message itself follows unchanged, byte for byte. The
// "by" name is the Server's Hostname.
//
//	Return-Path: <alice@client.example>
//	Received: from client.example ([127.0.0.1])
//		by mx.example.org (Postwire) with ESMTPS (TLS 1.3, TLS_AES_128_GCM_SHA256)
//		for <bob@example.org>; Mon, 23 Nov 2026 03:00:00 +0000
func traceHeader(c *smtp.Conn, from string, to []string, utf8 bool) []byte {
	return append([]byte("Return-Path: <"+cleanPath(from)+">\r\n"), receivedField(c, to, utf8)...)
}

// receivedField is the Received field alone (RFC 5321 section 4.4), for a
// message this server relays rather than delivers: held mail sent on over
// On-Demand Mail Relay, which must not carry a Return-Path yet.
func receivedField(c *smtp.Conn, to []string, utf8 bool) []byte {
	var b strings.Builder
	b.WriteString("Received: from " + cleanName(c.Hostname()) + " (" + addressLiteral(c.RemoteAddr()) + ")\r\n")
	b.WriteString("\tby " + cleanName(c.Server().Hostname) + " (Postwire) with " + protocol(c, utf8))
	if state, ok := c.TLS(); ok {
		b.WriteString(" (" + tls.VersionName(state.Version) + ", " + tls.CipherSuiteName(state.CipherSuite) + ")")
	}
	b.WriteString("\r\n\t")
	// Only a single recipient is named: listing them all would tell each
	// who else got the message (RFC 5321 section 7.2).
	if len(to) == 1 {
		b.WriteString("for <" + cleanPath(to[0]) + ">")
	}
	b.WriteString("; " + time.Now().Format(time.RFC1123Z) + "\r\n")
	return []byte(b.String())
}

// protocol is the WITH clause (RFC 3848, and RFC 6531 section 3.7.3 for
// SMTPUTF8): ESMTP or LMTP, S when over TLS, A when authenticated; plain
// SMTP after HELO (RFC 5321 section 4.4), which has no such variants.
func protocol(c *smtp.Conn, utf8 bool) string {
	p := "ESMTP"
	if c.Server().LMTP {
		p = "LMTP"
	} else if !c.ESMTP() {
		return "SMTP"
	}
	if utf8 {
		p = "UTF8" + strings.TrimPrefix(p, "E")
	}
	if _, ok := c.TLS(); ok {
		p += "S"
	}
	if _, _, ok := c.AuthIdentity(); ok {
		p += "A"
	}
	return p
}

// addressLiteral formats the client's IP as RFC 5321 section 4.1.3 does:
// "[192.0.2.1]" or "[IPv6:2001:db8::1]".
func addressLiteral(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return "[" + cleanName(a.String()) + "]"
	}
	if ip4 := tcp.IP.To4(); ip4 != nil {
		return "[" + ip4.String() + "]"
	}
	return "[IPv6:" + tcp.IP.String() + "]"
}

// cleanName keeps a client-given name from breaking the header: control
// characters, spaces and the characters that delimit a Received clause
// become "_". The Server has checked these names already; this is belt
// and braces for a header that ends up in a mailbox.
func cleanName(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("()<>;\\", r) {
			return '_'
		}
		return r
	}, s)
}

// cleanPath does the same for an address inside angle brackets, where a
// quoted local part may hold spaces.
func cleanPath(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '<' || r == '>' {
			return '_'
		}
		return r
	}, s)
}
