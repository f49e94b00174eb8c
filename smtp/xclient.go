package smtp

import (
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/postwire/postwire/internal/ascii"
	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/textproto"
)

// This file implements Postfix's XCLIENT command
// (https://www.postfix.org/XCLIENT_README.html), with which a trusted proxy
// or content filter tells the server about the client it relays: the
// client's address and port, host name, HELO name, protocol, login, and
// the address and port it connected to.

// xclientAttributeNames is what EHLO advertises after XCLIENT: the
// attributes this server understands, in the README's order.
var xclientAttributeNames = strings.Join(xclientNames[:], " ")

// Values XCLIENT_README gives for missing information. They are matched
// case-insensitively ("Note 2") and kept in upper case.
const (
	XCLIENTUnavailable = "[UNAVAILABLE]" // the information is not available
	XCLIENTTempUnavail = "[TEMPUNAVAIL]" // NAME only: the lookup failed for now
)

// XCLIENTMechanism is the mechanism Conn.AuthIdentity reports for a login
// an XCLIENT LOGIN attribute announced.
const XCLIENTMechanism = "XCLIENT"

// XCLIENTAttributes are the attributes trusted clients sent with XCLIENT
// on a connection, xtext-decoded. Each persists until a later XCLIENT
// changes it ("XCLIENT attributes persist until the end of an SMTP
// session"); one never sent is "". Their effect shows in Conn.RemoteAddr
// (ADDR, PORT), Conn.LocalAddr (DESTADDR, DESTPORT), Conn.Hostname (HELO)
// and Conn.AuthIdentity (LOGIN, mechanism XCLIENTMechanism).
type XCLIENTAttributes struct {
	// Name is the client's host name, XCLIENTUnavailable, or
	// XCLIENTTempUnavail when its lookup failed temporarily.
	Name string
	// Addr is the client's IP address in its usual text form (an IPv6
	// address without the "IPV6:" prefix of the wire), or
	// XCLIENTUnavailable.
	Addr string
	// Port is the client's TCP port in decimal, or XCLIENTUnavailable.
	Port string
	// Proto is "SMTP" or "ESMTP": how the client greeted the proxy.
	Proto string
	// HELO is the client's HELO/EHLO argument, or XCLIENTUnavailable.
	HELO string
	// Login is the name the client authenticated as (SASL), or
	// XCLIENTUnavailable when it did not.
	Login string
	// DestAddr and DestPort are the address and port the client connected
	// to, or XCLIENTUnavailable.
	DestAddr, DestPort string
}

// xclientState is what the server remembers about a connection whose
// client is in Server.XCLIENTTrusted (Conn.xclient, set before the
// greeting). Its fields are guarded by the Conn's mu. attrs stays zero
// until an XCLIENT succeeds, since each sets at least one attribute to a
// value that is not empty.
type xclientState struct {
	attrs XCLIENTAttributes
}

// XCLIENT returns the attributes trusted clients sent with XCLIENT on this
// connection, and whether any XCLIENT succeeded.
func (c *Conn) XCLIENT() (XCLIENTAttributes, bool) {
	st := c.xclient
	if st == nil {
		return XCLIENTAttributes{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return st.attrs, st.attrs != XCLIENTAttributes{}
}

// xclientHELO returns the HELO name XCLIENT announced, which a later
// HELO/EHLO does not replace (XCLIENT_README: the server "must not reset
// attributes that were received with the last XCLIENT command. This
// includes HELO").
func (c *Conn) xclientHELO() (string, bool) {
	st := c.xclient
	if st == nil {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if h := st.attrs.HELO; h != "" && h != XCLIENTUnavailable {
		return h, true
	}
	return "", false
}

// handleXCLIENT answers XCLIENT. The command table allows it outside a mail
// transaction only (503 otherwise: "The XCLIENT command may be sent at any
// time, except in the middle of a mail delivery transaction"), and with
// Server.XCLIENTTrusted empty XCLIENT is not offered (502 5.5.1). A client
// outside the list gets 550 5.7.0 (XCLIENT_README: "insufficient
// authorization"), a malformed command 501 5.5.4 and changes nothing. On
// success the connection goes back to the greeting stage, as after
// STARTTLS: the Session is logged out and a new one made (seeing the new
// addresses), any AUTH login not announced by XCLIENT is forgotten, the
// 220 greeting is sent again, and the client must send EHLO. TLS stays as
// it is. If the Backend refuses the new session, its *Error (or 421 4.3.0)
// is sent and the connection closed.
func (c *Conn) handleXCLIENT(args []byte) outcome {
	st := c.xclient
	if st == nil {
		return answer(550, EnhancedCode{5, 7, 0}, "Insufficient authorization for XCLIENT")
	}
	cmd, err := parseXCLIENT(args)
	if err != nil {
		return failure(err)
	}
	c.log(slog.LevelInfo, "smtp: XCLIENT", "args", string(args))

	refused := c.startOver(" after XCLIENT", func() {
		cmd.mergeInto(&st.attrs)
		if h := st.attrs.HELO; h != XCLIENTUnavailable {
			c.helo = h
		}
		c.remote = cmd.endpoint(c.remote, xAddr, xPort)
		c.local = cmd.endpoint(c.local, xDestAddr, xDestPort)
	})
	if refused.close {
		return refused
	}
	return c.greeting()
}

// xclientLogin returns the login that XCLIENT's LOGIN attribute announced
// on the connection, as identity and mechanism, or nil and "". st may be
// nil; the caller holds c.mu.
func xclientLogin(st *xclientState) (*sasl.Identity, string) {
	if st == nil {
		return nil, ""
	}
	if l := st.attrs.Login; l != "" && l != XCLIENTUnavailable {
		return &sasl.Identity{Authentication: l}, XCLIENTMechanism
	}
	return nil, ""
}

// xclientCommand is one parsed XCLIENT command: for each attribute, in
// xclientNames' order, its value as stored, "" when the command does not
// set it (no value is empty); the address or port it gives, for ADDR,
// PORT, DESTADDR and DESTPORT.
type xclientCommand struct {
	values [8]string
	addrs  [8]netip.Addr
	ports  [8]uint16
}

// xclientNames are the attribute names, indexed by the constants below.
var xclientNames = [8]string{"NAME", "ADDR", "PORT", "PROTO", "HELO", "LOGIN", "DESTADDR", "DESTPORT"}

const (
	xName = iota
	xAddr
	xPort
	xProto
	xHELO
	xLogin
	xDestAddr
	xDestPort
)

// parseXCLIENT parses the arguments of XCLIENT:
//
//	xclient-command = XCLIENT 1*( SP attribute-name"="attribute-value )
//	attribute-name  = ( NAME | ADDR | PORT | PROTO | HELO | LOGIN | DESTADDR | DESTPORT )
//	attribute-value = xtext
//
// Names are case-insensitive; values are xtext (RFC 3461 section 4) and
// checked as the README describes each. A later occurrence of a name wins.
// The error is a *textproto.ParseError for a 501 5.5.4 reply.
func parseXCLIENT(args []byte) (*xclientCommand, error) {
	fields := ascii.Fields(string(args))
	if len(fields) == 0 {
		return nil, errXCLIENTSyntax
	}
	cmd := &xclientCommand{}
	for _, field := range fields {
		name, raw, ok := strings.Cut(field, "=")
		if !ok {
			return nil, errXCLIENTSyntax
		}
		idx := slices.IndexFunc(xclientNames[:], func(n string) bool { return ascii.EqualFold(name, n) })
		if idx < 0 {
			return nil, xclientError("Bad XCLIENT attribute name: " + name)
		}
		value, err := textproto.DecodeXtext(raw)
		if err != nil || value == "" {
			return nil, badXCLIENTValue(idx)
		}
		v, ok := cmd.check(idx, value)
		if !ok {
			return nil, badXCLIENTValue(idx)
		}
		cmd.values[idx] = v
	}
	return cmd, nil
}

// errXCLIENTSyntax answers an XCLIENT without attributes, or with a field
// that is not attribute=value.
var errXCLIENTSyntax = xclientError("Syntax: XCLIENT attribute=value ...")

// xclientError is a malformed XCLIENT's 501 5.5.4 (RFC 3463: invalid
// command arguments), as textproto reports other commands' syntax errors.
func xclientError(msg string) *textproto.ParseError {
	return &textproto.ParseError{Code: 501, Enhanced: EnhancedCode{5, 5, 4}, Msg: msg}
}

// badXCLIENTValue is the error for a bad value of attribute idx.
func badXCLIENTValue(idx int) *textproto.ParseError {
	return xclientError("Bad XCLIENT " + xclientNames[idx] + " syntax")
}

// check validates one attribute's value and returns it as stored, or
// false when it is bad.
func (cmd *xclientCommand) check(idx int, v string) (string, bool) {
	unavailable := ascii.EqualFold(v, XCLIENTUnavailable)
	if unavailable {
		v = XCLIENTUnavailable
	}

	switch idx {
	case xName:
		return checkXCLIENTName(v, unavailable)
	case xAddr, xDestAddr:
		return cmd.checkAddr(idx, v, unavailable)
	case xPort, xDestPort:
		return cmd.checkPort(idx, v, unavailable)
	case xProto:
		return checkXCLIENTProto(v)
	case xHELO:
		if !unavailable && !printableToken(v) {
			return "", false
		}
	case xLogin:
		if !utf8.ValidString(v) {
			return "", false
		}
	}
	return v, true
}

// checkXCLIENTName checks a NAME: a host name, [UNAVAILABLE] or
// [TEMPUNAVAIL].
func checkXCLIENTName(v string, unavailable bool) (string, bool) {
	if ascii.EqualFold(v, XCLIENTTempUnavail) {
		return XCLIENTTempUnavail, true
	}
	if !unavailable && !validHostName(v) {
		return "", false
	}
	return v, true
}

// checkAddr checks an ADDR or DESTADDR, keeps the address it names in
// cmd.addrs[idx] and returns it in its usual text form.
func (cmd *xclientCommand) checkAddr(idx int, v string, unavailable bool) (string, bool) {
	if unavailable {
		return v, true
	}
	a, ok := parseXCLIENTAddr(v)
	if !ok {
		return "", false
	}
	cmd.addrs[idx] = a
	return a.String(), true
}

// checkPort checks a PORT or DESTPORT and keeps the port in
// cmd.ports[idx]: 0 when unavailable, replacing any earlier occurrence's.
func (cmd *xclientCommand) checkPort(idx int, v string, unavailable bool) (string, bool) {
	var p uint16
	if !unavailable {
		var ok bool
		if p, ok = parsePort(v); !ok {
			return "", false
		}
	}
	cmd.ports[idx] = p
	return v, true
}

// checkXCLIENTProto checks a PROTO, SMTP or ESMTP in any case, and returns
// it in upper case.
func checkXCLIENTProto(v string) (string, bool) {
	switch {
	case ascii.EqualFold(v, "SMTP"):
		return "SMTP", true
	case ascii.EqualFold(v, "ESMTP"):
		return "ESMTP", true
	}
	return "", false
}

// parseXCLIENTAddr parses an ADDR or DESTADDR value: IPv4 dotted decimal,
// or "IPV6:" (any case) and an IPv6 address; no zone, no brackets.
func parseXCLIENTAddr(v string) (netip.Addr, bool) {
	want6 := len(v) > 5 && ascii.EqualFold(v[:5], "IPV6:")
	if want6 {
		v = v[5:]
	}
	return parseIPText(v, !want6)
}

// validHostName reports whether s looks like a host name: dot-separated
// labels of letters, digits, "-" and "_", at most 255 octets.
func validHostName(s string) bool {
	if len(s) > 255 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// mergeInto records the attributes this command sets.
func (cmd *xclientCommand) mergeInto(a *XCLIENTAttributes) {
	fields := [8]*string{&a.Name, &a.Addr, &a.Port, &a.Proto, &a.HELO, &a.Login, &a.DestAddr, &a.DestPort}
	for i, v := range cmd.values {
		if v != "" {
			*fields[i] = v
		}
	}
}

// endpoint returns the endpoint old after this command, given the indexes
// of its address and port attributes (ADDR and PORT, or DESTADDR and
// DESTPORT). A new address without a port in the same command gets port 0
// (unknown) rather than the old address's port; an unavailable address
// becomes an address whose String is "[UNAVAILABLE]"; a port alone
// changes the port of a TCP address.
func (cmd *xclientCommand) endpoint(old net.Addr, addrIdx, portIdx int) net.Addr {
	port := cmd.ports[portIdx] // 0 when not set or unavailable
	switch addr := cmd.values[addrIdx]; {
	case addr == XCLIENTUnavailable:
		return unavailableAddr{}
	case addr != "":
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(cmd.addrs[addrIdx], port))
	case cmd.values[portIdx] != "":
		if ta, ok := old.(*net.TCPAddr); ok {
			return &net.TCPAddr{IP: ta.IP, Port: int(port), Zone: ta.Zone}
		}
	}
	return old
}

// unavailableAddr is the address XCLIENT reported as [UNAVAILABLE].
type unavailableAddr struct{}

func (unavailableAddr) Network() string { return "tcp" }
func (unavailableAddr) String() string  { return XCLIENTUnavailable }
