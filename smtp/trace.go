package smtp

import (
	"crypto/tls"
	"net"
	"strings"
	"time"
)

// This file builds the trace fields a server that delivers or relays a
// message adds on top of it (RFC 5321 section 4.4): Return-Path, written
// by the final delivery, and Received, written by every server the
// message passes.

// AppendReturnPath appends the Return-Path field for the reverse-path
// from, as Session.Mail received it ("" for the null path), and CRLF:
// "Return-Path: <from>" (RFC 5321 section 4.4, RFC 5322 section 3.6.7).
// The path is kept as the client sent it, quoted local part included, as
// the RFC asks ("preserves the information in the reverse-path"); the
// Server has already refused any control octet in it.
func AppendReturnPath(dst []byte, from string) []byte {
	dst = append(dst, "Return-Path: <"...)
	dst = appendTraceText(dst, from, "")
	return append(dst, ">\r\n"...)
}

// Received is a Received trace field (RFC 5321 section 4.4, RFC 5322
// section 3.6.7). NewReceived fills one in for a message on a connection.
type Received struct {
	// From is the client's HELO name, and FromAddr its address (written
	// as an address literal, RFC 5321 section 4.1.3).
	From     string
	FromAddr net.Addr
	// By is the receiving server's name.
	By string
	// Via names the software in a comment after By, such as "Postwire";
	// "" for none.
	Via string
	// With is the protocol (RFC 3848, RFC 6531 section 3.7.3): SMTP,
	// ESMTP, LMTP, with S for TLS and A for authentication, UTF8 for
	// SMTPUTF8.
	With string
	// TLS, when set, is named in a comment after With.
	TLS *tls.ConnectionState
	// ID is the receiving server's identifier of the message, such as a
	// queue id; "" for none.
	ID string
	// For is the one recipient to name; "" names none. Name one only when
	// the message has a single recipient: listing them all tells each who
	// else got the message (RFC 5321 section 7.2).
	For string
	// Date is when the message was received.
	Date time.Time
}

// NewReceived returns the Received field for a message accepted on c now:
// the client's HELO name and address, the Server's Hostname, the protocol
// as c was used (utf8 when the transaction asked for SMTPUTF8), its TLS
// state, and forRcpt as the one recipient to name ("" for none).
func NewReceived(c *Conn, utf8 bool, forRcpt string) Received {
	r := Received{
		From: c.Hostname(), FromAddr: c.RemoteAddr(), By: c.srv.hostname,
		With: ReceivedProtocol(c, utf8), For: forRcpt, Date: time.Now(),
	}
	if state, ok := c.TLSConnectionState(); ok {
		r.TLS = &state
	}
	return r
}

// ReceivedProtocol returns the "with" protocol of a Received field for a
// message on c (RFC 3848, RFC 6531 section 3.7.3): SMTP after HELO, which
// has no variants (RFC 5321 section 4.4); otherwise ESMTP or LMTP, UTF8SMTP
// or UTF8LMTP for an SMTPUTF8 transaction, then S when over TLS and A when
// authenticated.
func ReceivedProtocol(c *Conn, utf8 bool) string {
	p := "ESMTP"
	switch {
	case c.srv.LMTP:
		p = "LMTP"
	case !c.ESMTP():
		return "SMTP"
	}
	if utf8 {
		p = "UTF8" + strings.TrimPrefix(p, "E")
	}
	if _, ok := c.TLSConnectionState(); ok {
		p += "S"
	}
	if _, _, ok := c.AuthIdentity(); ok {
		p += "A"
	}
	return p
}

// AppendTo appends r as a header field, folded over lines that start with
// a tab, and CRLF:
//
//	Received: from client.example ([192.0.2.1])
//		by mx.example.org (Postwire) with ESMTPS (TLS 1.3, TLS_AES_128_GCM_SHA256)
//		id 3fa2c91e-1b for <bob@example.org>; Mon, 23 Nov 2026 03:00:00 +0000
//
// Names the client gave are written with anything that could break the
// field's grammar (control octets, spaces, "()<>;\") replaced by "_"; a
// missing HELO name is "unknown".
func (r *Received) AppendTo(dst []byte) []byte {
	dst = append(dst, "Received: from "...)
	dst = appendTraceText(dst, orUnknown(r.From), "()<>;\\ ")
	if r.FromAddr != nil {
		dst = append(dst, " ("...)
		dst = appendAddressLiteral(dst, r.FromAddr)
		dst = append(dst, ')')
	}

	dst = append(dst, "\r\n\tby "...)
	dst = appendTraceText(dst, orUnknown(r.By), "()<>;\\ ")
	if r.Via != "" {
		dst = append(dst, " ("...)
		dst = appendTraceText(dst, r.Via, "()\\")
		dst = append(dst, ')')
	}
	if r.With != "" {
		dst = append(dst, " with "...)
		dst = appendTraceText(dst, r.With, "()<>;\\ ")
	}
	if r.TLS != nil {
		dst = append(dst, " ("...)
		dst = append(dst, tls.VersionName(r.TLS.Version)...)
		dst = append(dst, ", "...)
		dst = append(dst, tls.CipherSuiteName(r.TLS.CipherSuite)...)
		dst = append(dst, ')')
	}

	dst = append(dst, "\r\n\t"...)
	if r.ID != "" {
		dst = append(dst, "id "...)
		dst = appendTraceText(dst, r.ID, "()<>;\\ ")
		if r.For != "" {
			dst = append(dst, ' ')
		}
	}
	if r.For != "" {
		dst = append(dst, "for <"...)
		dst = appendTraceText(dst, r.For, "")
		dst = append(dst, '>')
	}
	dst = append(dst, "; "...)
	dst = r.Date.AppendFormat(dst, time.RFC1123Z)
	return append(dst, "\r\n"...)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// appendTraceText appends s with control octets, and the octets of
// special, replaced by "_", so that nothing of it can end or fold the
// field.
func appendTraceText(dst []byte, s, special string) []byte {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < ' ' || b == 0x7f || strings.IndexByte(special, b) >= 0 {
			b = '_'
		}
		dst = append(dst, b)
	}
	return dst
}

// appendAddressLiteral appends a's IP as RFC 5321 section 4.1.3 writes
// it: "[192.0.2.1]" or "[IPv6:2001:db8::1]".
func appendAddressLiteral(dst []byte, a net.Addr) []byte {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		dst = append(dst, '[')
		dst = appendTraceText(dst, a.String(), "()<>;\\ []")
		return append(dst, ']')
	}
	if ip4 := tcp.IP.To4(); ip4 != nil {
		return append(append(append(dst, '['), ip4.String()...), ']')
	}
	return append(append(append(dst, "[IPv6:"...), tcp.IP.String()...), ']')
}
