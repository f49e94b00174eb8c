package main

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"

	"github.com/postwire/postwire/smtp"
)

// listening are the relay's addresses once it accepts clients.
type listening struct {
	submission  net.Addr // STARTTLS (-addr); nil when off
	submissions net.Addr // implicit TLS (-tls-addr); nil when off
}

// run serves until ctx ends, then shuts the relay down gracefully. ready,
// when not nil, is called once clients can connect.
func run(ctx context.Context, cfg *config, log *slog.Logger, ready func(listening)) error {
	return runAdjusted(ctx, cfg, log, ready, nil)
}

// runAdjusted is run with adjust, when not nil, called on the backend
// before serving: the tests give it their own DNS resolver for -mx.
func runAdjusted(ctx context.Context, cfg *config, log *slog.Logger, ready func(listening), adjust func(*backend)) error {
	srv, err := newServer(cfg, log)
	if err != nil {
		return err
	}
	if adjust != nil {
		adjust(srv.Backend.(*backend))
	}
	var ls []net.Listener
	var at listening
	closeAll := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	if cfg.addr != "" {
		l, err := net.Listen("tcp", cfg.addr)
		if err != nil {
			return err
		}
		ls, at.submission = append(ls, l), l.Addr()
		log.Info("listening for submission with STARTTLS (RFC 6409, RFC 3207)", "addr", l.Addr().String())
	}
	if cfg.tlsAddr != "" {
		l, err := net.Listen("tcp", cfg.tlsAddr)
		if err != nil {
			closeAll()
			return err
		}
		ls, at.submissions = append(ls, tls.NewListener(l, srv.TLSConfig)), l.Addr()
		log.Info("listening for submission with implicit TLS (RFC 8314)", "addr", l.Addr().String())
	}
	if ready != nil {
		ready(at)
	}

	served := make(chan error, len(ls))
	for _, l := range ls {
		go func() { served <- srv.Serve(l) }()
	}
	select {
	case err := <-served:
		srv.Close()
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: letting transactions in flight finish", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	for range ls {
		if serr := <-served; !errors.Is(serr, smtp.ErrServerClosed) && err == nil {
			err = serr
		}
	}
	if err == nil {
		log.Info("stopped")
	}
	return err
}

// newServer builds the submission server the flags describe.
func newServer(cfg *config, log *slog.Logger) (*smtp.Server, error) {
	users, err := parseAccounts(cfg.users, cfg.senders)
	if err != nil {
		return nil, err
	}
	tlsConf, fingerprint, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	up, err := newUpstream(cfg)
	if err != nil {
		return nil, err
	}
	srv := &smtp.Server{
		Hostname:        cfg.hostname,
		GreetingBanner:  "ESMTP Postwire relay",
		Backend:         &backend{users: users, up: up, log: log},
		TLSConfig:       tlsConf,
		MaxMessageBytes: cfg.maxSize,
		RequireAuth:     true,
		Logger:          log,
	}
	target := cfg.upstream
	if cfg.mx {
		target = "MX hosts"
	}
	attrs := []any{"upstream", target, "upstream_tls", cfg.upstreamTLS, "upstream_xclient", cfg.upstreamXCLIENT, "users", len(users)}
	if fingerprint != "" {
		attrs = append(attrs, "self_signed_sha256", fingerprint)
	}
	log.Info("postwire example relay (before-queue: nothing is held)", attrs...)
	return srv, nil
}
