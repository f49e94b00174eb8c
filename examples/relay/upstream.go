package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
	"github.com/postwire/postwire/smtp/delivery"
)

// dialTimeout bounds connecting to an upstream, its greeting, TLS, AUTH
// and XCLIENT: the client waits for the relay's reply to MAIL (or RCPT,
// with -mx) meanwhile.
const dialTimeout = 30 * time.Second

// upstream knows how to reach the server(s) the relay passes mail to.
type upstream struct {
	smarthost string // host:port; "" with -mx
	tlsMode   string // starttls, implicit or none
	tls       *tls.Config
	user, pwd string
	xclient   bool

	mx       bool
	mxPort   int
	resolver delivery.Resolver

	hostname string // the relay's EHLO name
}

// newUpstream builds the upstream the flags describe.
func newUpstream(cfg *config) (*upstream, error) {
	u := &upstream{
		smarthost: cfg.upstream, tlsMode: cfg.upstreamTLS,
		user: cfg.upstreamUser, pwd: cfg.upstreamPwd, xclient: cfg.upstreamXCLIENT,
		mx: cfg.mx, mxPort: cfg.mxPort, resolver: delivery.NetResolver{},
		hostname: cfg.hostname,
	}
	u.tls = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.upstreamInsecure}
	if cfg.upstreamCA != "" {
		pem, err := os.ReadFile(cfg.upstreamCA)
		if err != nil {
			return nil, fmt.Errorf("-upstream-ca: %w", err)
		}
		u.tls.RootCAs = x509.NewCertPool()
		if !u.tls.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-upstream-ca: no certificate in %s", cfg.upstreamCA)
		}
	}
	return u, nil
}

// client is what the relay's session says about its client, for XCLIENT.
type client struct {
	addr  net.Addr
	helo  string
	login string
}

// dialSmarthost connects to the smarthost: TLS as -upstream-tls says,
// then XCLIENT when it trusts the relay (before AUTH: XCLIENT starts the
// session over, forgetting any login), then AUTH.
func (u *upstream) dialSmarthost(ctx context.Context, cl client) (*smtp.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	opts := &smtp.DialOptions{LocalName: u.hostname, TLSConfig: u.tls}
	var c *smtp.Client
	var err error
	switch u.tlsMode {
	case "implicit":
		c, err = smtp.DialTLS(ctx, u.smarthost, opts)
	case "starttls":
		c, err = smtp.DialStartTLS(ctx, u.smarthost, opts)
	default:
		if c, err = smtp.Dial(ctx, u.smarthost, opts); err == nil {
			err = c.Hello(ctx, "")
		}
	}
	if err != nil {
		if c != nil {
			c.Close()
		}
		return nil, err
	}
	if u.xclient {
		if err := c.XCLIENT(ctx, xclientAttributes(cl)); err != nil {
			c.Close()
			return nil, fmt.Errorf("XCLIENT: %w", err)
		}
	}
	if u.user != "" {
		if err := c.Auth(ctx, sasl.NewPlainClient("", u.user, u.pwd)); err != nil {
			c.Close()
			return nil, fmt.Errorf("AUTH as %s: %w", u.user, err)
		}
	}
	return c, nil
}

// xclientAttributes are what XCLIENT tells about the relay's client: its
// address and port, HELO name and login; its host name was not looked up.
func xclientAttributes(cl client) smtp.XCLIENTAttributes {
	attrs := smtp.XCLIENTAttributes{Name: smtp.XCLIENTUnavailable, Proto: "ESMTP",
		Addr: smtp.XCLIENTUnavailable, Port: smtp.XCLIENTUnavailable, HELO: smtp.XCLIENTUnavailable, Login: smtp.XCLIENTUnavailable}
	if ap, err := netip.ParseAddrPort(cl.addr.String()); err == nil {
		attrs.Addr, attrs.Port = ap.Addr().Unmap().String(), strconv.Itoa(int(ap.Port()))
	}
	if cl.helo != "" {
		attrs.HELO = cl.helo
	}
	if cl.login != "" {
		attrs.Login = cl.login
	}
	return attrs
}

// dialMX connects to an MX host of domain (RFC 5321 section 5.1): by
// preference, each address in turn, STARTTLS whenever offered. This is
// opportunistic TLS (RFC 7435); DANE and MTA-STS, which smtp/delivery's
// Deliverer applies, are not (see the README).
func (u *upstream) dialMX(ctx context.Context, domain string) (*smtp.Client, string, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	hosts, _, err := delivery.ResolveMX(ctx, u.resolver, domain)
	if err != nil {
		return nil, "", err
	}
	var last error
	for _, h := range hosts {
		addrs, _, err := delivery.LookupAddrs(ctx, u.resolver, h.Name, delivery.IPv4First)
		if err != nil {
			last = err
			continue
		}
		for _, ip := range addrs {
			addr := net.JoinHostPort(ip.String(), strconv.Itoa(u.mxPort))
			c, err := u.dialMXHost(ctx, addr, h.Name)
			if err == nil {
				return c, h.Name, nil
			}
			last = err
		}
	}
	if last == nil {
		last = errors.New("no MX host to try")
	}
	return nil, "", last
}

func (u *upstream) dialMXHost(ctx context.Context, addr, name string) (*smtp.Client, error) {
	opts := &smtp.DialOptions{LocalName: u.hostname, TLSConfig: &tls.Config{ServerName: name, InsecureSkipVerify: true}}
	c, err := smtp.Dial(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	if err := c.Hello(ctx, ""); err != nil {
		c.Close()
		return nil, err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(ctx, nil); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Replies the relay gives of its own when the upstream gives none.
var (
	errUpstreamDown = &smtp.Error{Code: 451, Enhanced: smtp.EnhancedCode{4, 4, 1},
		Message: "Upstream server not reachable; try again later"}
	errUpstreamLost = &smtp.Error{Code: 451, Enhanced: smtp.EnhancedCode{4, 4, 2},
		Message: "Connection to the upstream server lost; the message was not accepted, try again later"}
)

// reply turns an error of the client to the upstream into the reply the
// relay's client gets (RFC 5321 section 4.2): the upstream's own reply as
// it is; a 421 (the upstream closing) as 451, since the relay's own
// connection stays open; a lost connection as 451 4.4.2; a parameter the
// upstream did not advertise as 555 5.5.4.
func reply(err error) *smtp.Error {
	var se *smtp.Error
	switch {
	case lost(err):
		return errUpstreamLost
	case errors.As(err, &se) && se.Code == 421:
		return &smtp.Error{Code: 451, Enhanced: smtp.EnhancedCode{4, 4, 2}, Message: "Upstream: " + se.Message}
	case errors.As(err, &se):
		return se
	case errors.Is(err, smtp.ErrNotAdvertised):
		return &smtp.Error{Code: 555, Enhanced: smtp.EnhancedCode{5, 5, 4}, Message: "Not supported by the upstream server: " + err.Error()}
	}
	return &smtp.Error{Code: 451, Enhanced: smtp.EnhancedCode{4, 3, 0}, Message: "Upstream error; try again later"}
}

// lost reports whether err is the connection to the upstream breaking
// (the client's 451 4.4.2 wraps the network error) rather than a reply.
func lost(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// domainOf returns the domain of an address, lower case.
func domainOf(addr string) string {
	_, d, _ := strings.Cut(addr, "@")
	return strings.ToLower(d)
}
