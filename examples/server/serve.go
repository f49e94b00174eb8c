package main

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
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
	l, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	if cfg.implicitTLS {
		l = tls.NewListener(l, srv.TLSConfig) // RFC 8314 section 3.3
	}
	log.Info("listening", "addr", l.Addr().String(), "hostname", srv.Hostname)
	if ready != nil {
		ready(l.Addr())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: letting transactions in flight finish", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, smtp.ErrServerClosed) && err == nil {
		err = serr
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
	store := "discard"
	if !cfg.discard {
		if store, err = filepath.Abs(cfg.maildir); err != nil {
			return nil, err
		}
		if b.box, err = openMaildir(store, cfg.hostname); err != nil {
			return nil, err
		}
	}
	srv := &smtp.Server{
		Addr:              cfg.addr,
		Hostname:          cfg.hostname,
		Backend:           b,
		TLSConfig:         tlsConf,
		LMTP:              cfg.lmtp,
		MaxMessageBytes:   cfg.maxSize,
		MaxRecipients:     cfg.maxRcpt,
		AllowInsecureAuth: cfg.insecureAuth,
		RequireAuth:       cfg.requireAuth,
		Logger:            log,
	}
	logSettings(log, cfg, store, len(accounts) > 0, tlsConf != nil, fingerprint)
	return srv, nil
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
	if fingerprint != "" {
		attrs = append(attrs, "self_signed_sha256", fingerprint)
	}
	log.Info("postwire example server", attrs...)
}
