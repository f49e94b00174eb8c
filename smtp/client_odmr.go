package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/postwire/postwire/extensions"
)

// ErrATRNNotOffered is returned by Client.ATRN when the server did not
// advertise ATRN in its EHLO reply (RFC 2645 section 4).
var ErrATRNNotOffered = errors.New("smtp: server does not offer ATRN")

// errReversed is the Client's sticky error once ATRN gave its connection
// to the reversed session.
var errReversed = errors.New("smtp: the connection was reversed by ATRN")

// ATRN collects the mail an On-Demand Mail Relay provider holds for the
// customer (RFC 2645): call it after Auth, on a connection to the ODMR
// port (366). domains are the domains to collect, checked before anything
// is sent; none means every domain the authenticated identity may take
// (section 5.2.1).
//
// When the provider answers 250 the roles reverse on the same connection
// (section 5.3): srv serves it as it would serve a connection it accepted,
// with its Backend, Sessions, limits and timeouts (its ProxyProtocol must
// be off), greeting the provider, which then sends the held mail as an
// SMTP client and ends with QUIT. ATRN returns when that session is over,
// with nil, or with ctx's error when ctx ended it (the connection is then
// closed). srv need not be serving anything else; its Shutdown and Close
// end this session too. Either way the Client is done: later calls return
// an error.
//
// A refusal is an *Error: 450 (refused for these domains), 451 (not now),
// 453 (no mail), 530 (not authenticated), 502 (not available). A server
// that did not advertise ATRN gets nothing: the error is ErrATRNNotOffered.
func (c *Client) ATRN(ctx context.Context, domains []string, srv *Server) error {
	switch {
	case srv == nil || srv.Backend == nil:
		return errors.New("smtp: ATRN needs a Server with a Backend for the reversed session")
	case srv.ProxyProtocol:
		return errors.New("smtp: ATRN's reversed session has no PROXY header; use a Server without ProxyProtocol")
	}
	for _, d := range domains {
		if !etrnDomain(d) {
			return fmt.Errorf("smtp: ATRN domain %q is not a fully qualified domain name", d)
		}
	}
	if err := c.hello(ctx); err != nil {
		return err
	}
	if !c.ext.Has(extensions.ATRN) {
		return ErrATRNNotOffered
	}

	verb, arg := "ATRN", ""
	if len(domains) > 0 {
		verb, arg = "ATRN ", strings.Join(domains, ",")
	}
	r, err := c.cmd(ctx, c.opts.CommandTimeout, DefaultCommandTimeout, verb, arg)
	if err != nil {
		return err
	}
	if r.Code != 250 {
		return clientReplyError(r)
	}
	nc, st := c.handOver()
	return srv.serveReversed(ctx, nc, st)
}

// handOver gives the Client's connection away, with what it has read but
// not used in front, and the state of its TLS layer.
func (c *Client) handOver() (net.Conn, *tls.ConnectionState) {
	var pending []byte
	if n := c.br.Buffered(); n > 0 {
		b, _ := c.br.Peek(n)
		pending = append(pending, b...)
	}
	c.err = errReversed
	c.hookHandOver()
	c.netConn.SetDeadline(time.Time{})
	var st *tls.ConnectionState
	if tc, ok := c.netConnTLS(); ok {
		s := tc.ConnectionState()
		st = &s
	}
	return &prereadConn{Conn: c.conn, pending: pending}, st
}

// serveReversed serves nc, a connection this side dialled, as if the
// Server had accepted it: the reversed session of ATRN (RFC 2645 section
// 5.3). It returns when the session ends, or ctx's error after ctx ended
// it.
func (s *Server) serveReversed(ctx context.Context, nc net.Conn, st *tls.ConnectionState) error {
	s.init()
	c := newConn(s, nc, ctx)
	c.tlsState = st
	c.reversed = true
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		nc.Close()
		return ErrServerClosed
	}
	s.active.Add(1)
	s.conns[c] = struct{}{}
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, c.closeNow)
	c.serve()
	if !stop() {
		return fmt.Errorf("smtp: %w", ctx.Err())
	}
	return nil
}
