package smtp

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Return-Path keeps the reverse-path as sent, a quoted local part with
// "<" and ">" in it included (RFC 5321 section 4.4: it "preserves the
// information in the reverse-path").
func TestAppendReturnPath(t *testing.T) {
	for from, want := range map[string]string{
		`"a>b"@b.example`:   "Return-Path: <\"a>b\"@b.example>\r\n",
		`"a b<c"@b.example`: "Return-Path: <\"a b<c\"@b.example>\r\n",
		"":                  "Return-Path: <>\r\n",
		"ü@bücher.example":  "Return-Path: <ü@bücher.example>\r\n",
	} {
		assert.Equal(t, want, string(AppendReturnPath(nil, from)))
	}
	assert.Equal(t, "Return-Path: <a__b@c>\r\n", string(AppendReturnPath(nil, "a\r\nb@c")), "never a line break")
}

// A Received field has the clauses of RFC 5321 section 4.4 in order, on
// folded lines; names from the client cannot break it.
func TestReceivedAppendTo(t *testing.T) {
	date := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	r := Received{
		From: "client (evil); x", FromAddr: &net.TCPAddr{IP: net.ParseIP("2001:db8::7"), Port: 4000},
		By: "mx.example.org", Via: "Postwire", With: "UTF8SMTPSA", ID: "q1", For: `"a>b"@example.org`, Date: date,
	}
	got := string(r.AppendTo(nil))
	want := "Received: from client__evil___x ([IPv6:2001:db8::7])\r\n" +
		"\tby mx.example.org (Postwire) with UTF8SMTPSA\r\n" +
		"\tid q1 for <\"a>b\"@example.org>; Mon, 23 Nov 2026 03:00:00 +0000\r\n"
	assert.Equal(t, want, got)
	assert.Equal(t, 3, strings.Count(got, "\r\n"))
}

// NewReceived reads the protocol off the connection: ESMTP after EHLO,
// UTF8SMTP for an SMTPUTF8 transaction, LMTP on an LMTP server (RFC 3848,
// RFC 6531 section 3.7.3).
func TestReceivedProtocol(t *testing.T) {
	b := &srvBackend{}
	_, addr := srvStart(t, b, nil)
	c := srvDial(t, addr)
	c.expect("220 ")
	c.cmd("EHLO client.test", "250 ")
	conn := b.LastConn()
	assert.Equal(t, "ESMTP", ReceivedProtocol(conn, false))
	assert.Equal(t, "UTF8SMTP", ReceivedProtocol(conn, true))
	r := NewReceived(conn, false, "")
	assert.Equal(t, "client.test", r.From)
	assert.Equal(t, "mx.test", r.By)
	c.cmd("HELO client.test", "250 ")
	assert.Equal(t, "SMTP", ReceivedProtocol(conn, false))

	lb := &srvBackend{}
	_, laddr := srvStart(t, lb, func(s *Server) { s.LMTP = true })
	lc := srvDial(t, laddr)
	lc.expect("220 ")
	lc.cmd("LHLO client.test", "250 ")
	assert.Equal(t, "LMTP", ReceivedProtocol(lb.LastConn(), false))
	assert.Equal(t, "UTF8LMTP", ReceivedProtocol(lb.LastConn(), true))
}
