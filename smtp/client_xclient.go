package smtp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/internal/ascii"
	"github.com/postwire/postwire/textproto"
)

// This file is the client side of Postfix's XCLIENT command
// (https://www.postfix.org/XCLIENT_README.html): a proxy or content filter
// tells the server it relays to about the client it is relaying for. The
// server side is xclient.go.

// xclientMaxLine is the longest XCLIENT command line the client sends, CRLF
// included: the command line limit of RFC 5321 section 4.5.3.1.4, which
// XCLIENT_README's servers apply to it as to any other command.
const xclientMaxLine = 512

// ErrXCLIENTRefused is wrapped by the error XCLIENT returns when the server
// answers the command with anything but its new 220 greeting (550 5.7.0
// for a client it does not trust, 501 for a value it does not take, 503
// inside a transaction); errors.As still finds the server's *Error.
var ErrXCLIENTRefused = errors.New("smtp: XCLIENT refused by the server")

// XCLIENT sends Postfix's XCLIENT command (XCLIENT_README) with every
// attribute of attrs that is not "": the client's address and port, host
// name, HELO name, protocol and login, as the client this connection
// relays for presented them; XCLIENTUnavailable says one is unknown
// (XCLIENTTempUnavail too, for Name). Addresses are given in their usual
// text form: an IPv6 Addr or DestAddr gets the "IPV6:" prefix of the wire.
// Values are sent as xtext (RFC 3461 section 4).
//
// It says EHLO first if that was not done, and refuses, before anything is
// written, when the server does not advertise XCLIENT or does not list one
// of the attributes (an error wrapping ErrNotAdvertised), inside a mail
// transaction, or when the command would be longer than 512 octets. On
// success the server starts the session over: XCLIENT reads its new 220
// greeting and says EHLO again, with the announced HELO name when there is
// one (as XCLIENT_README's example does) and DialOptions.LocalName
// otherwise, so Extensions tells what the server now offers the relayed
// client. A refusal is an error wrapping both
// ErrXCLIENTRefused and the server's *Error; the session is then as it was.
func (c *Client) XCLIENT(ctx context.Context, attrs XCLIENTAttributes) error {
	if err := c.hello(ctx); err != nil {
		return err
	}
	if c.mailOpened {
		return errors.New("smtp: XCLIENT inside a mail transaction (XCLIENT_README forbids it)")
	}
	line, err := c.appendXCLIENT(c.line[:0], attrs)
	if err != nil {
		return err
	}
	c.line = line

	r, err := c.roundTrip(ctx, c.opts.CommandTimeout, DefaultCommandTimeout, line)
	if err != nil {
		return err
	}
	if r.Code != 220 {
		return fmt.Errorf("%w: %w", ErrXCLIENTRefused, clientReplyError(r))
	}

	c.greeting = clientJoin(r.Lines)
	c.didHello, c.ehlo, c.ext = false, false, extensions.Set{}
	c.needReset = false
	return c.Hello(ctx, xclientHelloName(attrs.HELO))
}

// xclientHelloName is the name for the EHLO after XCLIENT: the announced
// HELO, as XCLIENT_README's example does (Postfix's smtpd takes the name
// of that EHLO over the attribute's), or "" for DialOptions.LocalName when
// there is none or it is no valid EHLO argument.
func xclientHelloName(helo string) string {
	if helo == "" || ascii.EqualFold(helo, XCLIENTUnavailable) || clientCheckHelloName(helo) != nil {
		return ""
	}
	return helo
}

// appendXCLIENT appends the XCLIENT command line for attrs, CRLF included,
// after checking each attribute against what the server advertised.
func (c *Client) appendXCLIENT(dst []byte, attrs XCLIENTAttributes) ([]byte, error) {
	offered, ok := c.ext.Params(extensions.XClient)
	if !ok {
		return nil, clientNotAdvertised("XCLIENT")
	}
	values := [len(xclientNames)]string{
		xName: attrs.Name, xAddr: xclientWireAddr(attrs.Addr), xPort: attrs.Port, xProto: attrs.Proto,
		xHELO: attrs.HELO, xLogin: attrs.Login, xDestAddr: xclientWireAddr(attrs.DestAddr), xDestPort: attrs.DestPort,
	}

	dst = append(dst, "XCLIENT"...)
	sent := 0
	for idx, v := range values {
		if v == "" {
			continue
		}
		if !xclientOffers(offered, xclientNames[idx]) {
			return nil, clientNotAdvertised("XCLIENT attribute " + xclientNames[idx])
		}
		dst = append(dst, ' ')
		dst = append(dst, xclientNames[idx]...)
		dst = append(dst, '=')
		dst = append(dst, textproto.EncodeXtext(v)...)
		sent++
	}
	if sent == 0 {
		return nil, errors.New("smtp: XCLIENT needs at least one attribute")
	}
	dst = append(dst, '\r', '\n')
	if len(dst) > xclientMaxLine {
		return nil, fmt.Errorf("smtp: XCLIENT command of %d octets is over the %d-octet line limit", len(dst), xclientMaxLine)
	}
	return dst, nil
}

// xclientOffers reports whether the server's XCLIENT keyword parameters
// list name (case-insensitively, XCLIENT_README "Note 2").
func xclientOffers(offered, name string) bool {
	for _, n := range ascii.Fields(offered) {
		if ascii.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// xclientWireAddr writes an address as XCLIENT carries it: IPv6 with the
// "IPV6:" prefix, IPv4 and the special values as they are.
func xclientWireAddr(a string) string {
	if strings.IndexByte(a, ':') < 0 || (len(a) > 5 && ascii.EqualFold(a[:5], "IPV6:")) {
		return a
	}
	return "IPV6:" + a
}
