package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/postwire/postwire/smtp"
)

// run serves until ctx ends, then shuts the server down gracefully.
// ready, when not nil, is called with the listening address once clients
// can connect.
func run(ctx context.Context, cfg *config, log *slog.Logger, ready func(net.Addr)) error {
	srv, err := newServer(cfg, log)
	if err != nil {
		return err
	}
	if cfg.metrics != "" {
		m := &metrics{}
		srv.Hooks = m.serverHooks()
		ml, err := serveMetrics(m, cfg.metrics, log)
		if err != nil {
			return err
		}
		defer ml.Close()
	}
	l, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	if cfg.implicitTLS {
		l = tls.NewListener(l, srv.TLSConfig) // RFC 8314 section 3.3
	}
	servers := []*smtp.Server{srv}
	listeners := []net.Listener{l}
	if cfg.odmrAddr != "" {
		ol, err := net.Listen("tcp", cfg.odmrAddr)
		if err != nil {
			l.Close()
			return err
		}
		if cfg.implicitTLS {
			ol = tls.NewListener(ol, srv.TLSConfig)
		}
		servers, listeners = append(servers, newODMRServer(srv)), append(listeners, ol)
		log.Info("listening for On-Demand Mail Relay (RFC 2645)", "addr", ol.Addr().String())
	}
	log.Info("listening", "addr", l.Addr().String(), "hostname", srv.Hostname)
	if ready != nil {
		ready(l.Addr())
	}
	served := make(chan error, len(servers))
	for i, s := range servers {
		go func() { served <- s.Serve(listeners[i]) }()
	}
	select {
	case err := <-served:
		for _, s := range servers {
			s.Close()
		}
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: letting transactions in flight finish", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for _, s := range servers {
		if serr := s.Shutdown(sctx); err == nil {
			err = serr
		}
	}
	for range servers {
		if serr := <-served; !errors.Is(serr, smtp.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// newServer builds the smtp.Server the flags describe and logs what it
// offers.
func newServer(cfg *config, log *slog.Logger) (*smtp.Server, error) {
	accounts, err := parseUsers(cfg.users)
	if err != nil {
		return nil, err
	}
	if cfg.requireAuth && len(accounts) == 0 {
		return nil, errors.New("-require-auth needs -users: nobody could send")
	}
	tlsConf, fingerprint, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	b := &backend{users: accounts, log: log}
	if b.hold, err = holdFromFlags(cfg, accounts); err != nil {
		return nil, err
	}
	store := "discard"
	if !cfg.discard {
		if store, err = filepath.Abs(cfg.maildir); err != nil {
			return nil, err
		}
		if b.box, err = openMaildir(store, cfg.hostname); err != nil {
			return nil, err
		}
	}
	proxies, err := parsePrefixes("-proxy-protocol", cfg.proxyProtocol)
	if err != nil {
		return nil, err
	}
	xclients, err := parsePrefixes("-xclient", cfg.xclient)
	if err != nil {
		return nil, err
	}
	srv := &smtp.Server{
		Addr:                cfg.addr,
		GreetingBanner:      cfg.banner,
		Hostname:            cfg.hostname,
		Backend:             b,
		TLSConfig:           tlsConf,
		LMTP:                cfg.lmtp,
		MaxMessageBytes:     cfg.maxSize,
		MaxRecipients:       cfg.maxRcpt,
		AllowInsecureAuth:   cfg.insecureAuth,
		RequireAuth:         cfg.requireAuth,
		ProxyProtocol:       len(proxies) > 0,
		ProxyTrusted:        proxies,
		XCLIENTTrusted:      xclients,
		MaxConnections:      cfg.maxConns,
		MaxConnectionsPerIP: cfg.maxConnsPerIP,
		Logger:              log,
	}
	logSettings(log, cfg, store, len(accounts) > 0, tlsConf != nil, fingerprint)
	return srv, nil
}

// parsePrefixes parses a flag's comma-separated list of CIDR prefixes
// (a bare address counts as a /32 or /128); "" is none.
func parsePrefixes(flag, list string) ([]netip.Prefix, error) {
	if list == "" {
		return nil, nil
	}
	var prefixes []netip.Prefix
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				return nil, fmt.Errorf("%s: %q is neither a CIDR prefix nor an address", flag, item)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		prefixes = append(prefixes, p.Masked())
	}
	return prefixes, nil
}

// holdFromFlags opens the hold of -hold, nil without it; -odmr-addr
// without -hold would offer nothing to collect.
func holdFromFlags(cfg *config, accounts users) (*hold, error) {
	if cfg.holdList == "" {
		if cfg.odmrAddr != "" {
			return nil, errors.New("-odmr-addr needs -hold: there would be nothing to collect")
		}
		return nil, nil
	}
	owners, err := parseHold(cfg.holdList, accounts)
	if err != nil {
		return nil, err
	}
	return openHold(cfg.hold, owners)
}

// newODMRServer is the -odmr-addr server: the main server's name, TLS,
// AUTH and limits, with sessions that are ODMR providers (smtp.ODMRSession)
// over the same hold.
func newODMRServer(main *smtp.Server) *smtp.Server {
	return &smtp.Server{
		Hostname:          main.Hostname,
		Backend:           odmrBackend{main.Backend.(*backend)},
		TLSConfig:         main.TLSConfig,
		MaxMessageBytes:   main.MaxMessageBytes,
		AllowInsecureAuth: main.AllowInsecureAuth,
		Logger:            main.Logger,
		Hooks:             main.Hooks,
	}
}

// logSettings says at start what the server offers, and warns when AUTH
// is configured but would never be offered.
func logSettings(log *slog.Logger, cfg *config, store string, auth, hasTLS bool, fingerprint string) {
	protocol, tlsMode, authMode := "SMTP", "off", "off"
	if cfg.lmtp {
		protocol = "LMTP"
	}
	switch {
	case cfg.implicitTLS:
		tlsMode = "implicit (RFC 8314)"
	case hasTLS:
		tlsMode = "STARTTLS"
	}
	if auth {
		authMode = strings.Join(mechanisms, " ")
		if !hasTLS && !cfg.insecureAuth {
			log.Warn("AUTH is offered over TLS only and TLS is off: add -tls-self-signed (or -tls-cert/-tls-key) or -insecure-auth")
		}
	}
	attrs := []any{"protocol", protocol, "maildir", store, "tls", tlsMode, "auth", authMode,
		"require_auth", cfg.requireAuth, "max_size", cfg.maxSize, "max_rcpt", cfg.maxRcpt}
	if cfg.proxyProtocol != "" {
		attrs = append(attrs, "proxy_protocol", cfg.proxyProtocol)
	}
	if cfg.xclient != "" {
		attrs = append(attrs, "xclient", cfg.xclient)
	}
	if cfg.maxConns > 0 || cfg.maxConnsPerIP > 0 {
		attrs = append(attrs, "max_conns", cfg.maxConns, "max_conns_per_ip", cfg.maxConnsPerIP)
	}
	if fingerprint != "" {
		attrs = append(attrs, "self_signed_sha256", fingerprint)
	}
	log.Info("postwire example server", attrs...)
}
