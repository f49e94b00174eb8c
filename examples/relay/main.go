// Command relay is a mail submission server (RFC 6409) built on Postwire
// that queues nothing: each transaction is passed through, as it arrives,
// to an upstream server, and the client's answer is the upstream's.
//
//	go run ./examples/server -addr 127.0.0.1:2525 &
//	go run ./examples/relay -tls-self-signed -users alice@example.org:secret \
//	    -upstream 127.0.0.1:2525 -upstream-tls none
//	swaks -s 127.0.0.1 -p 5870 -tls -a PLAIN -au alice@example.org -ap secret \
//	    -f alice@example.org -t bob@example.net
//
// It listens for submission with STARTTLS (RFC 3207, -addr, port 587 in
// production) and with implicit TLS (RFC 8314, -tls-addr, port 465). AUTH
// is required (RFC 4954), over TLS only, and the envelope sender must be
// an address the authenticated user owns (its own name when that is an
// address, or those -senders gives it): any other is refused with 553
// 5.7.1.
//
// It is a before-queue proxy. MAIL and each RCPT are forwarded to the
// upstream when they arrive and answered with the upstream's reply; the
// body streams through; the 250 after the final dot is the upstream's,
// text and queue id included, and is sent only once the upstream has
// given it. If the upstream refuses, its reply is the client's; if it
// cannot be reached or the connection to it breaks, the client gets 451
// and keeps the message. Nothing is held in between, so nothing can be
// lost there. The log names the authenticated user and the upstream's
// reply (its queue id) for every message.
//
// The upstream is a smarthost (-upstream host:port, with STARTTLS,
// implicit TLS or none, and AUTH of its own with -upstream-user), or, with
// -mx, the MX hosts of the recipients' domain (RFC 5321 section 5.1),
// found with package smtp/delivery. -upstream-xclient announces each
// client to a trusted smarthost with Postfix's XCLIENT, so that the
// upstream logs and judges the original client rather than the relay.
//
// SIGINT or SIGTERM stops the relay gracefully; a second signal stops it
// at once.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownTimeout bounds the wait for transactions in flight at shutdown.
const shutdownTimeout = 30 * time.Second

// config holds the command-line flags.
type config struct {
	addr, tlsAddr, hostname   string
	tlsCert, tlsKey           string
	tlsSelfSigned             bool
	users, senders            string
	maxSize                   int64
	upstream, upstreamTLS     string
	upstreamCA                string
	upstreamInsecure          bool
	upstreamUser, upstreamPwd string
	upstreamXCLIENT           bool
	mx                        bool
	mxPort                    int
	logLevel                  string
	level                     slog.Level
}

// parseFlags reads the command line; errors go to stderr with the usage.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	cfg := &config{}
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:5870", "listen for submission with STARTTLS on `host:port` (587 in production; \"\" for none)")
	fs.StringVar(&cfg.tlsAddr, "tls-addr", "127.0.0.1:4650", "listen for submission with implicit TLS on `host:port` (465 in production; \"\" for none)")
	fs.StringVar(&cfg.hostname, "hostname", host, "relay `name` in the greeting and the EHLO it sends upstream")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "PEM certificate `file`")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "PEM private key `file` for -tls-cert")
	fs.BoolVar(&cfg.tlsSelfSigned, "tls-self-signed", false, "make an ephemeral self-signed certificate for localhost at start")
	fs.StringVar(&cfg.users, "users", "", "accounts that may submit: `name:password,...`")
	fs.StringVar(&cfg.senders, "senders", "", "envelope senders each user may use besides its own name: `user=addr+addr,...`")
	fs.Int64Var(&cfg.maxSize, "max-size", 25<<20, "largest message in `bytes`")
	fs.StringVar(&cfg.upstream, "upstream", "", "pass mail to this smarthost, `host:port`")
	fs.StringVar(&cfg.upstreamTLS, "upstream-tls", "starttls", "TLS to the smarthost: `starttls` (required), implicit or none")
	fs.StringVar(&cfg.upstreamCA, "upstream-ca", "", "PEM `file` of the CA certificates that sign the smarthost's certificate (default: the system's)")
	fs.BoolVar(&cfg.upstreamInsecure, "upstream-insecure", false, "do not verify the smarthost's certificate (for a test peer with a self-signed one)")
	fs.StringVar(&cfg.upstreamUser, "upstream-user", "", "authenticate to the smarthost as `name` (AUTH PLAIN, over TLS)")
	fs.StringVar(&cfg.upstreamPwd, "upstream-password", "", "`password` for -upstream-user (default: $RELAY_UPSTREAM_PASSWORD)")
	fs.BoolVar(&cfg.upstreamXCLIENT, "upstream-xclient", false, "the smarthost trusts this relay: announce each client to it with XCLIENT")
	fs.BoolVar(&cfg.mx, "mx", false, "deliver to the recipients' MX hosts instead of a smarthost")
	fs.IntVar(&cfg.mxPort, "mx-port", 25, "TCP `port` of MX hosts, with -mx")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := cfg.check(); err != nil {
		fmt.Fprintln(stderr, err)
		fs.Usage()
		return nil, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintln(stderr, err)
		fs.Usage()
		return nil, err
	}
	return cfg, nil
}

// check refuses flags that contradict each other or say nothing.
func (cfg *config) check() error {
	if err := cfg.level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	if cfg.upstreamPwd == "" {
		cfg.upstreamPwd = os.Getenv("RELAY_UPSTREAM_PASSWORD")
	}
	switch {
	case cfg.mx == (cfg.upstream != ""):
		return fmt.Errorf("give either -upstream host:port or -mx")
	case cfg.mx && (cfg.upstreamXCLIENT || cfg.upstreamUser != ""):
		return fmt.Errorf("-upstream-xclient and -upstream-user are for a smarthost, not -mx")
	case cfg.upstreamTLS != "starttls" && cfg.upstreamTLS != "implicit" && cfg.upstreamTLS != "none":
		return fmt.Errorf("-upstream-tls: %q is not starttls, implicit or none", cfg.upstreamTLS)
	case cfg.upstreamUser != "" && cfg.upstreamPwd == "":
		return fmt.Errorf("-upstream-user needs -upstream-password or $RELAY_UPSTREAM_PASSWORD")
	case cfg.addr == "" && cfg.tlsAddr == "":
		return fmt.Errorf("-addr and -tls-addr are both empty: nothing to listen on")
	case cfg.users == "":
		return fmt.Errorf("-users is empty: nobody could submit")
	}
	return nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err == flag.ErrHelp {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop) // a second signal ends the process at once
	if err := run(ctx, cfg, log, nil); err != nil {
		log.Error("relay failed", "error", err)
		os.Exit(1)
	}
}
