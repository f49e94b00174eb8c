// Command send sends one message to an SMTP or LMTP server with Postwire's
// client and prints the server's replies.
//
//	go run ./examples/send -server 127.0.0.1:2525 -from a@example.org -to b@example.org message.eml
//	echo "Subject: hi" | go run ./examples/send -from a@example.org -to b@example.org -v
//
// The message is read from the file named on the command line, or from
// standard input, whole: the client then declares its size (SIZE=, RFC
// 1870 section 6) and BODY=8BITMIME when it is 8-bit (RFC 6152), and
// refuses it before MAIL when the server cannot take it. -from is needed;
// the null reverse-path <> of a bounce (RFC 5321 section 4.5.5) only
// with -null-sender. -v prints the whole dialogue (credentials masked) on
// standard error. The exit status is 0 only when every recipient took the
// message.
//
// With -mx the message goes straight to the MX hosts of each recipient's
// domain instead of to -server (package smtp/delivery: MX resolution,
// DANE, MTA-STS, REQUIRETLS), and each recipient's outcome is printed with
// the TLS policy that applied:
//
//	go run ./examples/send -mx -name mail.example.org -from a@example.org -to b@example.net message.eml
//
// DANE needs a validating resolver: -dnssec-resolver 127.0.0.1:53 sends
// every DNS query there and believes its AD bit, so use one on loopback.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
	"github.com/postwire/postwire/smtp/delivery"
)

// recipients collects the repeatable -to flag.
type recipients []string

func (r *recipients) String() string     { return strings.Join(*r, ",") }
func (r *recipients) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	var to recipients
	server := flag.String("server", "127.0.0.1:2525", "server `host:port`")
	from := flag.String("from", "", "envelope sender (required unless -null-sender)")
	nullSender := flag.Bool("null-sender", false, "send with the null reverse-path <>, as a bounce does (RFC 5321 section 4.5.5)")
	flag.Var(&to, "to", "envelope recipient (repeatable)")
	startTLS := flag.Bool("starttls", false, "upgrade with STARTTLS (RFC 3207); fail if not offered")
	implicitTLS := flag.Bool("tls", false, "implicit TLS from the start (RFC 8314, port 465)")
	insecure := flag.Bool("insecure-skip-verify", false, "do not verify the server's certificate")
	authMech := flag.String("auth", "", "SASL mechanism: plain, login, cram-md5 or scram-sha-256")
	user := flag.String("user", "", "user name for -auth")
	password := flag.String("password", "", "password for -auth (default: $POSTWIRE_PASSWORD)")
	lmtp := flag.Bool("lmtp", false, "speak LMTP (RFC 2033)")
	noPipelining := flag.Bool("no-pipelining", false, "send each command in lock-step")
	chunking := flag.Bool("chunking", false, "require BDAT (RFC 3030): fail if CHUNKING is not offered")
	noChunking := flag.Bool("no-chunking", false, "send the body with DATA even when CHUNKING is offered")
	smtputf8 := flag.Bool("smtputf8", false, "ask for SMTPUTF8 (RFC 6531); automatic for non-ASCII addresses")
	localName := flag.String("name", "localhost", "name to send with EHLO")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this long")
	verbose := flag.Bool("v", false, "print the whole dialogue on standard error")
	mx := flag.Bool("mx", false, "deliver directly to each recipient domain's MX hosts instead of -server")
	mxPort := flag.Int("mx-port", 25, "TCP port of the MX hosts, with -mx")
	dnssec := flag.String("dnssec-resolver", "", "with -mx: `host:port` of a validating DNS resolver, for DANE")
	requireTLS := flag.Bool("requiretls", false, "with -mx: mark the message REQUIRETLS (RFC 8689)")
	flag.Parse()

	if err := run(config{
		server: *server, from: *from, nullSender: *nullSender, to: to, startTLS: *startTLS, implicitTLS: *implicitTLS,
		insecure: *insecure, authMech: *authMech, user: *user, password: *password, lmtp: *lmtp,
		noPipelining: *noPipelining, chunking: *chunking, noChunking: *noChunking, smtputf8: *smtputf8, localName: *localName,
		timeout: *timeout, verbose: *verbose, file: flag.Arg(0),
		mx: *mx, mxPort: *mxPort, dnssecResolver: *dnssec, requireTLS: *requireTLS,
	}); err != nil {
		fmt.Fprintln(os.Stderr, "send:", err)
		os.Exit(1)
	}
}

type config struct {
	server, from, authMech, user, password, localName, file string
	to                                                      []string
	startTLS, implicitTLS, insecure, lmtp, nullSender       bool
	noPipelining, chunking, noChunking, smtputf8, verbose   bool
	timeout                                                 time.Duration

	// -mx: direct delivery.
	mx, requireTLS bool
	mxPort         int
	dnssecResolver string
	resolver       delivery.Resolver // tests' own; nil means from dnssecResolver
	out            io.Writer         // nil means standard output
}

// run sends one message as cfg says: it connects, greets, secures and
// authenticates as asked, sends, and says QUIT, printing each reply.
func run(cfg config) error {
	if len(cfg.to) == 0 {
		return errors.New("at least one -to is needed")
	}
	switch {
	case cfg.from == "" && !cfg.nullSender:
		return errors.New("-from is needed (or -null-sender for the null reverse-path <>)")
	case cfg.from != "" && cfg.nullSender:
		return errors.New("-from and -null-sender exclude each other")
	}
	body, err := readMessage(cfg.file)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	if cfg.mx {
		return deliverDirect(ctx, cfg, body)
	}

	c, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := secure(ctx, c, cfg); err != nil {
		return err
	}
	if err := authenticate(ctx, c, cfg); err != nil {
		return err
	}

	if err := send(ctx, c, cfg, body); err != nil {
		return err
	}
	if err := c.Quit(ctx); err != nil {
		return err
	}
	fmt.Println("quit: 221")
	return nil
}

// connect dials the server, with TLS from the start for -tls, and says
// EHLO.
func connect(ctx context.Context, cfg config) (*smtp.Client, error) {
	opts := &smtp.DialOptions{
		LocalName:         cfg.localName,
		LMTP:              cfg.lmtp,
		DisablePipelining: cfg.noPipelining,
		DisableChunking:   cfg.noChunking,
		TLSConfig:         &tls.Config{InsecureSkipVerify: cfg.insecure},
	}
	if cfg.verbose {
		opts.Trace = os.Stderr
	}
	dial := smtp.Dial
	if cfg.implicitTLS {
		dial = smtp.DialTLS
	}
	c, err := dial(ctx, cfg.server, opts)
	if err != nil {
		return nil, err
	}

	fmt.Printf("greeting: 220 %s\n", c.Greeting())
	if err := c.Hello(ctx, ""); err != nil {
		c.Close()
		return nil, err
	}
	fmt.Printf("hello: 250, extensions %s\n", strings.Join(c.Extensions().Keywords(), " "))
	return c, nil
}

// secure upgrades with STARTTLS for -starttls, and checks that CHUNKING is
// offered for -chunking.
func secure(ctx context.Context, c *smtp.Client, cfg config) error {
	if cfg.startTLS {
		if err := c.StartTLS(ctx, nil); err != nil {
			return err
		}
		state, _ := c.TLSConnectionState()
		fmt.Printf("starttls: 220, %s; extensions now %s\n", tls.VersionName(state.Version),
			strings.Join(c.Extensions().Keywords(), " "))
	}
	if cfg.chunking && !c.Extensions().Has("CHUNKING") {
		return errors.New("-chunking: the server does not offer CHUNKING")
	}
	return nil
}

// authenticate authenticates with the -auth mechanism, if any.
func authenticate(ctx context.Context, c *smtp.Client, cfg config) error {
	if cfg.authMech == "" {
		return nil
	}
	mech, err := mechanism(cfg)
	if err != nil {
		return err
	}
	if err := c.Auth(ctx, mech); err != nil {
		return err
	}
	fmt.Printf("auth: 235 authenticated with %s\n", strings.ToUpper(cfg.authMech))
	return nil
}

// send sends the message and prints the outcome for each recipient and,
// when it was accepted, the server's reply to the body.
func send(ctx context.Context, c *smtp.Client, cfg config, body io.Reader) error {
	env := &smtp.Envelope{From: cfg.from, To: cfg.to}
	if cfg.smtputf8 {
		env.MailOptions = &smtp.MailOptions{UTF8: true}
	}
	res, err := c.Send(ctx, env, body)
	if res != nil {
		for _, r := range res.Recipients {
			if r.Err != nil {
				fmt.Printf("recipient <%s>: %v\n", r.Address, r.Err)
			} else {
				fmt.Printf("recipient <%s>: accepted\n", r.Address)
			}
		}
		if res.Accepted() > 0 {
			fmt.Printf("message: 250 %s\n", res.Reply)
		}
	}
	var partial *smtp.RecipientsError
	if errors.As(err, &partial) {
		// Sent to some: QUIT as usual, then report the others.
		if qerr := c.Quit(ctx); qerr == nil {
			fmt.Println("quit: 221")
		}
		return fmt.Errorf("%d of %d recipients took the message", partial.Accepted, len(res.Recipients))
	}
	return err
}

// readMessage reads the message whole, from file or standard input: a
// body known in advance is one whose size and 8-bit content the client
// declares.
func readMessage(file string) (*bytes.Reader, error) {
	var b []byte
	var err error
	if file == "" || file == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

func mechanism(cfg config) (sasl.Client, error) {
	password := cfg.password
	if password == "" {
		password = os.Getenv("POSTWIRE_PASSWORD")
	}
	switch strings.ToLower(cfg.authMech) {
	case "plain":
		return sasl.NewPlainClient("", cfg.user, password), nil
	case "login":
		return sasl.NewLoginClient(cfg.user, password), nil
	case "cram-md5":
		return sasl.NewCramMD5Client(cfg.user, password), nil
	case "scram-sha-256":
		return sasl.NewScramSHA256Client(cfg.user, password, ""), nil
	}
	return nil, fmt.Errorf("-auth %q: want plain, login, cram-md5 or scram-sha-256", cfg.authMech)
}

// deliverDirect delivers the message to the recipients' MX hosts and
// prints each recipient's outcome and TLS policy.
func deliverDirect(ctx context.Context, cfg config, body io.Reader) error {
	msg, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	out := cfg.out
	if out == nil {
		out = os.Stdout
	}
	d := &delivery.Deliverer{
		Hostname:       cfg.localName,
		Resolver:       cfg.resolver,
		DNSSECResolver: cfg.dnssecResolver,
		Port:           cfg.mxPort,
		DialOptions:    &smtp.DialOptions{DisablePipelining: cfg.noPipelining, DisableChunking: cfg.noChunking},
	}
	if cfg.verbose {
		d.DialOptions.Trace = os.Stderr
	}
	m := &delivery.Message{Envelope: smtp.Envelope{From: cfg.from, To: cfg.to}, Body: msg,
		TLSRequiredNo: delivery.HasTLSRequiredNo(msg)}
	if cfg.requireTLS || cfg.smtputf8 {
		m.MailOptions = &smtp.MailOptions{RequireTLS: cfg.requireTLS, UTF8: cfg.smtputf8}
	}

	rep, err := d.Deliver(ctx, m)
	if err != nil {
		return err
	}
	for _, r := range rep.Results {
		fmt.Fprintf(out, "recipient <%s>: %s", r.Recipient, r.Status)
		if r.MX != "" {
			fmt.Fprintf(out, " via %s [%s]", r.MX, r.IP)
		}
		if r.Err != nil {
			fmt.Fprintf(out, ": %v", r.Err)
		}
		if r.MX == "" {
			fmt.Fprintln(out, "; no host was connected to")
			continue
		}
		fmt.Fprintf(out, "; TLS policy %s\n", describeTLS(r.TLS))
	}
	if failed := rep.Failed(); len(failed) > 0 {
		return fmt.Errorf("%d of %d recipients not delivered", len(failed), len(rep.Results))
	}
	return nil
}

// describeTLS tells the policy and what became of TLS, in TLS-RPT's words
// (RFC 8460).
func describeTLS(o delivery.TLSOutcome) string {
	s := string(o.Policy)
	if o.STSMode != "" {
		s += " (" + string(o.STSMode) + ")"
	}
	switch {
	case o.TLS && o.Verified:
		s += ", " + tls.VersionName(o.Version) + ", verified"
	case o.TLS:
		s += ", " + tls.VersionName(o.Version) + ", not verified"
	default:
		s += ", no TLS"
	}
	if o.Failure != "" {
		s += ", failure " + string(o.Failure)
	}
	return s
}
