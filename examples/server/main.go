// Command server is a receiving SMTP (or LMTP) server built on Postwire:
// it stores every message it accepts in a Maildir and logs the envelope.
//
//	go run ./examples/server
//
// listens on 127.0.0.1:2525 and writes to ./maildir/new/. Try it with
// swaks, Python's smtplib or examples/send; flags add STARTTLS or implicit
// TLS (RFC 3207, RFC 8314), AUTH (RFC 4954), LMTP (RFC 2033) and limits:
//
//	go run ./examples/server -tls-self-signed -users alice:secret
//	swaks -s 127.0.0.1 -p 2525 -t bob@example.org -tls -a PLAIN -au alice -ap secret
//
// Each stored file is the message exactly as the client sent it (CRLF line
// endings, dots unstuffed) under two trace fields a delivering server adds
// (RFC 5321 section 4.4): Return-Path and Received. A message is answered
// 250 only after it is on disk in new/; when it cannot be stored the
// client gets 451 4.3.0 and keeps it. -discard reads and drops bodies
// instead, for benchmarks.
//
// With -hold, mail for a customer's domains is kept in -hold-dir instead,
// and -odmr-addr opens an On-Demand Mail Relay listener (RFC 2645, port
// 366) where the customer authenticates and says ATRN: the connection
// turns around and the held mail is sent to the customer over it. A
// recipient the customer refuses for now stays held:
//
//	go run ./examples/server -users alice:secret -insecure-auth \
//	    -hold alice=example.org -odmr-addr 127.0.0.1:3366
//	fetchmail -p ODMR -P 3366 -u alice --fetchdomains example.org 127.0.0.1
//
// -metrics 127.0.0.1:9100 serves the server's counters (connections,
// commands, replies, AUTH, messages, octets) over HTTP on loopback, as
// expvar's JSON on /debug/vars and as Prometheus text on /metrics.
//
// Behind HAProxy (send-proxy-v2) or another proxy, -proxy-protocol takes
// the client's address from the PROXY header and -xclient lets a trusted
// relay announce it with XCLIENT; either way the log names that address:
//
//	go run ./examples/server -proxy-protocol 127.0.0.1/32 -max-conns-per-ip 20
//
// SIGINT or SIGTERM stops the server gracefully (transactions in flight
// finish, idle clients get 421); a second signal stops it at once.
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
	addr, hostname, maildir    string
	discard                    bool
	tlsCert, tlsKey            string
	tlsSelfSigned, implicitTLS bool
	users                      string
	insecureAuth, requireAuth  bool
	lmtp                       bool
	maxSize                    int64
	maxRcpt                    int
	odmrAddr, holdList, hold   string
	metrics                    string
	proxyProtocol, xclient     string
	maxConns, maxConnsPerIP    int
	logLevel, banner           string
	level                      slog.Level // parsed from logLevel
}

// parseFlags reads the command line; errors go to stderr with the usage.
func parseFlags(args []string, stderr io.Writer) (*config, error) {
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	cfg := &config{}
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:2525", "listen on `host:port`")
	fs.StringVar(&cfg.hostname, "hostname", host, "server `name` in the greeting, EHLO reply and Received field")
	fs.StringVar(&cfg.maildir, "maildir", "maildir", "store messages in this Maildir `directory` (created if missing)")
	fs.BoolVar(&cfg.discard, "discard", false, "read and discard message bodies instead of storing them")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "PEM certificate `file` for STARTTLS or -implicit-tls")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "PEM private key `file` for -tls-cert")
	fs.BoolVar(&cfg.tlsSelfSigned, "tls-self-signed", false, "make an ephemeral self-signed certificate for localhost at start")
	fs.BoolVar(&cfg.implicitTLS, "implicit-tls", false, "TLS from the first byte (RFC 8314) instead of STARTTLS")
	fs.StringVar(&cfg.users, "users", "", "enable AUTH for these accounts: `name:password,...`")
	fs.BoolVar(&cfg.insecureAuth, "insecure-auth", false, "offer AUTH without TLS too")
	fs.BoolVar(&cfg.requireAuth, "require-auth", false, "refuse MAIL with 530 until the client authenticates (needs -users)")
	fs.BoolVar(&cfg.lmtp, "lmtp", false, "speak LMTP (RFC 2033) instead of SMTP")
	fs.Int64Var(&cfg.maxSize, "max-size", 25<<20, "largest message in `bytes`, advertised with SIZE (0: the library's default, 32 MiB; negative: no limit)")
	fs.IntVar(&cfg.maxRcpt, "max-rcpt", 100, "most recipients per message")
	fs.StringVar(&cfg.holdList, "hold", "", "hold mail for these domains until their customer collects it: `user=domain+domain,...` (users of -users)")
	fs.StringVar(&cfg.hold, "hold-dir", "hold", "keep held mail in this `directory`, a folder per domain")
	fs.StringVar(&cfg.odmrAddr, "odmr-addr", "", "also listen on `host:port` for On-Demand Mail Relay (RFC 2645, port 366): customers AUTH and say ATRN to collect what -hold keeps")
	fs.StringVar(&cfg.metrics, "metrics", "", "serve counters on `host:port` (e.g. 127.0.0.1:9100): expvar on /debug/vars, Prometheus text on /metrics")
	fs.StringVar(&cfg.proxyProtocol, "proxy-protocol", "", "expect a PROXY protocol header (v1 or v2, as HAProxy's send-proxy-v2 sends) on every connection, from proxies in these `CIDR,...` only")
	fs.StringVar(&cfg.xclient, "xclient", "", "offer Postfix's XCLIENT to clients in these `CIDR,...` (proxies that announce the client they relay)")
	fs.IntVar(&cfg.maxConns, "max-conns", 0, "most concurrent connections; the ones beyond get 421 (0: no limit)")
	fs.IntVar(&cfg.maxConnsPerIP, "max-conns-per-ip", 0, "most concurrent connections from one client address, the one a PROXY header or XCLIENT gives (0: no limit)")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "log `level`: debug, info, warn or error")
	fs.StringVar(&cfg.banner, "banner", "", "`text` after the host name in the 220 greeting, e.g. \"ESMTP Postwire\" (default \"ESMTP Service ready\")")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := cfg.level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		err = fmt.Errorf("-log-level: %w", err)
		fmt.Fprintln(stderr, err)
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
	// After the first signal, the default handling comes back: a second
	// one ends the process at once.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, cfg, log, nil); err != nil {
		log.Error("server failed", "error", err)
		os.Exit(1)
	}
}
