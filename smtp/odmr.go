package smtp

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/postwire/postwire/internal/ascii"
	"github.com/postwire/postwire/sasl"
)

// This file is the provider's side of On-Demand Mail Relay (RFC 2645):
// ATRN after AUTH, and the reversal of roles on the same connection, where
// the server becomes the SMTP client and the application sends what it
// holds with this package's Client.

// ODMRSession is a Session of an On-Demand Mail Relay provider (RFC 2645):
// an application that holds mail for customers' domains and hands it over
// when an authenticated customer says ATRN. The Server advertises ATRN in
// EHLO only for such a session (RFC 2645 section 4), answers ATRN with 502
// 5.5.1 otherwise, and with 530 5.7.0 before a successful AUTH (section
// 5.2.1). A server on the ODMR port, 366 (section 4), is an ordinary Server
// whose Backend gives ODMRSessions; RFC 2645 section 5.4 allows it to
// refuse MAIL, which a Session may do in Mail.
//
// The library keeps no queue: the application says which domains the
// customer may take and which have mail, and sends the messages itself.
type ODMRSession interface {
	AuthSession
	// ATRNDomains returns the domains the customer who authenticated as
	// id may collect (RFC 2645 section 5.2.1: the authorization comes
	// from the authenticated identity). ATRN without an argument asks for
	// all of them; ATRN naming one outside them is refused with 450 4.7.1
	// "ATRN request refused". An error refuses ATRN: an *Error is sent as
	// it is, any other is logged and answered 451 4.3.0 "Unable to
	// process ATRN request now" (section 7).
	ATRNDomains(ctx context.Context, id sasl.Identity) ([]string, error)
	// HeldDomains returns those of domains for which mail is held. None
	// is answered 453 "You have no mail" (RFC 2645 section 7); errors are
	// treated as for ATRNDomains.
	HeldDomains(ctx context.Context, domains []string) ([]string, error)
	// DeliverHeld runs after the Server answered ATRN with 250 and the
	// roles reversed (RFC 2645 section 5.3): c is a Client on the same
	// connection, the customer's greeting read and EHLO said as the
	// Server's Hostname, and domains are those HeldDomains returned. c
	// waits Server.ReadTimeout for each reply when it is set. It sends the held messages with c
	// (c.Send or c.SendMany), whose results tell, per recipient, what the
	// customer accepted, so that the application removes exactly those
	// from its queue and keeps the rest. The Server then says QUIT and
	// closes the connection; DeliverHeld must not keep c.
	DeliverHeld(ctx context.Context, c *Client, domains []string) error
}

// canATRN is the ATRN row's offered column: the session is an ODMR
// provider's.
func (c *Conn) canATRN() bool {
	_, ok := c.session.(ODMRSession)
	return ok
}

// handleATRN answers ATRN (RFC 2645 section 5.2.1): the domains are
// parsed and checked against what the customer may take and what is held,
// and on 250 the roles reverse (section 5.3) until the held mail is sent;
// the connection then ends.
func (c *Conn) handleATRN(args []byte) outcome {
	requested, ok := parseATRNDomains(args)
	if !ok {
		return answer(501, EnhancedCode{5, 5, 4}, "Syntax: ATRN [domain *(\",\" domain)]")
	}
	s := c.session.(ODMRSession)

	allowed, err := s.ATRNDomains(c.ctx, *c.identity)
	if err != nil {
		return c.atrnFailure("ATRNDomains", err)
	}
	domains, permitted := atrnPermitted(requested, allowed)
	if !permitted {
		return answer(450, EnhancedCode{4, 7, 1}, "ATRN request refused")
	}
	held, err := s.HeldDomains(c.ctx, domains)
	if err != nil {
		return c.atrnFailure("HeldDomains", err)
	}
	if len(held) == 0 {
		return answer(453, EnhancedCode{4, 0, 0}, "You have no mail")
	}

	if err := c.sendNow(250, EnhancedCode{2, 0, 0}, "OK now reversing the connection"); err != nil {
		return hangUp
	}
	c.reverseRoles(s, held)
	return hangUp
}

// parseATRNDomains parses ATRN's argument, [domain *("," domain)] (RFC
// 2645 section 5.2.1), into its domains; none for an empty argument.
func parseATRNDomains(args []byte) ([]string, bool) {
	if len(args) == 0 {
		return nil, true
	}
	domains := strings.Split(string(args), ",")
	for _, d := range domains {
		if !etrnDomain(d) {
			return nil, false
		}
	}
	return domains, true
}

// atrnPermitted returns the domains to look at: all of allowed when none
// was requested, else the requested ones, provided each is allowed
// (compared without regard to case).
func atrnPermitted(requested, allowed []string) ([]string, bool) {
	if len(requested) == 0 {
		return allowed, len(allowed) > 0
	}
	for _, r := range requested {
		found := false
		for _, a := range allowed {
			if ascii.EqualFold(r, a) {
				found = true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return requested, true
}

// atrnFailure is the outcome of an ODMRSession method's error: an *Error
// as it is, anything else logged and answered 451 4.3.0 (RFC 2645 section
// 7: "Unable to process ATRN request now").
func (c *Conn) atrnFailure(op string, err error) outcome {
	var se *Error
	if errors.As(err, &se) {
		return failure(err)
	}
	c.srv.logger().Warn("smtp: backend error", "op", op, "remote", c.remote, "err", err)
	return answer(451, EnhancedCode{4, 3, 0}, "Unable to process ATRN request now")
}

// reverseRoles is the reversed state of RFC 2645 section 5.3: the
// customer greets, this side says EHLO as the server's Hostname, the
// Session delivers the held mail with a Client on the connection, then
// QUIT ends it.
func (c *Conn) reverseRoles(s ODMRSession, domains []string) {
	c.rolesReversed()
	log := c.srv.logger()
	cl, err := clientStart(c.ctx, c.handOver(), "", c.tlsState != nil, c.reversedOptions())
	if err != nil {
		log.Info("smtp: ATRN: customer did not greet", "remote", c.remote, "err", err)
		return
	}
	defer cl.Close()
	if err := cl.Hello(c.ctx, ""); err != nil {
		log.Info("smtp: ATRN: customer refused EHLO", "remote", c.remote, "err", err)
		return
	}
	if err := s.DeliverHeld(c.ctx, cl, domains); err != nil {
		log.Warn("smtp: backend error", "op", "DeliverHeld", "remote", c.remote, "err", err)
	}
	if err := cl.Quit(c.ctx); err != nil {
		log.Info("smtp: ATRN: QUIT failed", "remote", c.remote, "err", err)
	}
}

// reversedOptions are the settings of the Client of the reversed session:
// EHLO with the server's Hostname, and Server.ReadTimeout, when set, as
// the wait for each reply but the one after a body (RFC 5321 section
// 4.5.3.2's defaults otherwise).
func (c *Conn) reversedOptions() *DialOptions {
	t := c.srv.ReadTimeout
	return &DialOptions{LocalName: c.srv.hostname, GreetingTimeout: t, CommandTimeout: t, DataInitTimeout: t}
}

// handOver returns the connection for another role to use, with the
// octets already read from it but not yet used (in the read buffer, or
// read while idle) in front, and releases the server's read buffer.
func (c *Conn) handOver() net.Conn {
	var pending []byte
	if c.r != nil {
		b, _ := c.r.Peek(c.r.Buffered())
		pending = append(pending, b...)
		c.r.Discard(len(b))
	}
	pending = append(pending, c.in.pending...)
	c.in.pending = nil
	c.releaseReader()
	return &prereadConn{Conn: c.nc, pending: pending}
}

// prereadConn is a connection with octets already read from it in front:
// what the side handing it over had buffered.
type prereadConn struct {
	net.Conn
	pending []byte
}

func (p *prereadConn) Read(b []byte) (int, error) {
	if len(p.pending) > 0 {
		n := copy(b, p.pending)
		p.pending = p.pending[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}
