package delivery

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/idna"

	"github.com/postwire/postwire/smtp"
)

// Defaults of a Deliverer: port 25, the SMTP port, where RFC 7672
// section 2.2.3 looks for TLSA records (_25._tcp); five minutes for one
// attempt, as for each command of RFC 5321 section 4.5.3.2, three times
// that for a whole domain; a bound on the connections of one domain (RFC
// 5321 section 5.1 lets the client limit the addresses it tries) and on
// the domains delivered to at once.
const (
	DefaultPort           = 25
	DefaultAttemptTimeout = 5 * time.Minute
	DefaultTimeout        = 15 * time.Minute
	DefaultMaxAttempts    = 10
	DefaultConcurrency    = 16
)

// A Deliverer delivers messages to the MX hosts of their recipients'
// domains (RFC 5321 section 5.1) with the TLS policies of DANE (RFC 7672),
// MTA-STS (RFC 8461) and REQUIRETLS (RFC 8689). It keeps no queue: each
// recipient's Result says whether to try again later. The zero value is
// usable; do not change the fields while a delivery runs. A Deliverer is
// safe for concurrent use.
type Deliverer struct {
	// Hostname is the name said with EHLO (RFC 5321 section 4.1.1.1); ""
	// means os.Hostname().
	Hostname string
	// Resolver answers the DNS questions. nil means a DNSClient for
	// DNSSECResolver when that is set, else NetResolver (no DNSSEC, so no
	// DANE). DANE is used when the Resolver is a TLSAResolver.
	Resolver Resolver
	// DNSSECResolver is the address ("host:port") of a validating
	// resolver to send every query to when Resolver is nil, such as
	// "127.0.0.1:53". Its AD bit is believed: see DNSClient on why it
	// must be on loopback or behind a channel you trust.
	DNSSECResolver string
	// Port is the TCP port of the MX hosts, and the port in the TLSA
	// owner name "_<port>._tcp.<host>"; 0 means 25.
	Port int
	// AddressFamily chooses and orders the addresses tried.
	AddressFamily AddressFamily
	// AttemptTimeout bounds one connection to one address, from dial to
	// QUIT; 0 means DefaultAttemptTimeout.
	AttemptTimeout time.Duration
	// Timeout bounds the delivery to one domain, all its hosts
	// included; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxAttempts bounds the connections made for one domain; 0 means
	// DefaultMaxAttempts.
	MaxAttempts int
	// Concurrency bounds the domains delivered to at once; 0 means
	// DefaultConcurrency.
	Concurrency int

	// RequireDANE refuses every MX host without a usable, authenticated
	// TLSA RRset (a temporary failure with TLS-RPT result dane-required,
	// RFC 8460 section 4.3.2.1), as Postfix's "dane-only" level does.
	// Message.TLSRequiredNo lifts it.
	RequireDANE bool
	// DisableMTASTS skips MTA-STS.
	DisableMTASTS bool
	// STSFetcher fetches MTA-STS policies; nil means one with RootCAs.
	STSFetcher *STSFetcher
	// STSCache keeps the policies; nil means a MemorySTSCache of the
	// Deliverer's own.
	STSCache STSCache
	// RootCAs verifies the MX hosts' certificates under MTA-STS (and the
	// policy hosts' when STSFetcher is nil); nil means the system roots.
	RootCAs *x509.CertPool

	// DialOptions are the client settings for each connection (timeouts,
	// trace, pipelining, chunking, a Dialer with a local address);
	// LocalName and TLSConfig are set by the Deliverer, and ChunkSize
	// defaults to 16 KiB unless Chunking is set. nil means the defaults.
	DialOptions *smtp.DialOptions

	// Now is the clock for certificate validity and policy ages; nil
	// means time.Now.
	Now func() time.Time

	once     sync.Once
	resolver Resolver
	cache    STSCache
	fetcher  *STSFetcher
	hostname string
}

// Message is one message to deliver: its envelope and its body (the whole
// message, header and body, RFC 5322).
type Message struct {
	smtp.Envelope
	Body []byte
	// TLSRequiredNo carries the meaning of the "TLS-Required: No" header
	// field (RFC 8689 section 5): TLS is still tried, but a failure of
	// DANE or MTA-STS does not stop the delivery. It has no effect when
	// MailOptions.RequireTLS is set, which wins (RFC 8689 section 4.1).
	// See HasTLSRequiredNo to read it from the header.
	TLSRequiredNo bool
}

// Status is the outcome class of one recipient, as the reply codes
// classify it (RFC 5321 section 4.2.1: 2yz, 4yz, 5yz).
type Status int

// Statuses.
const (
	// Delivered: an MX host took responsibility for the message (RFC
	// 5321 section 4.2.5).
	Delivered Status = iota + 1
	// TemporaryFailure: try again later (a 4xx reply, a broken
	// connection, a DNS failure, a TLS policy failure).
	TemporaryFailure
	// PermanentFailure: do not try again; send a bounce (a 5xx reply, a
	// null MX, REQUIRETLS not satisfiable).
	PermanentFailure
)

// String names the status (RFC 5321 section 4.2.1 words).
func (s Status) String() string {
	switch s {
	case Delivered:
		return "delivered"
	case TemporaryFailure:
		return "temporary failure"
	case PermanentFailure:
		return "permanent failure"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Result is the outcome for one recipient: what a queue needs to retry
// it or to bounce it with the reply (RFC 5321 section 6.1, RFC 3464).
type Result struct {
	Recipient string
	Status    Status
	// Err is nil when delivered. Otherwise it says why, and errors.As
	// always finds an *smtp.Error in it: the server's reply, or one this
	// package made up with the code a bounce should carry (RFC 3463),
	// such as ErrNullMX, ErrRequireTLS, 451 4.4.3 for a DNS failure or
	// 451 4.4.2 for a lost connection.
	Err error
	// Reply is the reply of the MX host that decided the outcome, when
	// it was a server's reply (RFC 5321 section 4.2); nil when delivered
	// or when the failure was decided here.
	Reply *smtp.Error
	// MX and IP are the host and address of the last attempt made for
	// the recipient ("" and the zero Addr when none was).
	MX string
	IP netip.Addr
	// TLS is the TLS outcome of that attempt.
	TLS TLSOutcome
}

// Attempt is one connection to an MX host, or a host skipped by policy,
// for TLS-RPT counting (RFC 8460 section 4.4).
type Attempt struct {
	Domain string
	MX     string
	IP     netip.Addr // zero for a host that was not connected to
	TLS    TLSOutcome
	// Err is why the attempt did not deliver to every recipient it was
	// for; nil when it did.
	Err error
}

// Report is what Deliver returns: one Result per recipient of the
// message, in the order of Message.To, and every attempt made, domain by
// domain in the order their first recipient appears in Message.To.
type Report struct {
	Results  []Result
	Attempts []Attempt
}

// Failed returns the results that are not Delivered: the recipients to
// retry or bounce (RFC 5321 section 4.5.4).
func (r *Report) Failed() []Result {
	var f []Result
	for _, res := range r.Results {
		if res.Status != Delivered {
			f = append(f, res)
		}
	}
	return f
}

// Deliver delivers msg to every recipient: grouped by domain, one
// connection to an MX host carrying all of a domain's recipients, the
// domains concurrently up to Concurrency. It returns an error only for a
// message it cannot try at all (no recipient, RcptOptions not matching
// To); every other failure is in the Report, per recipient.
func (d *Deliverer) Deliver(ctx context.Context, msg *Message) (*Report, error) {
	if msg == nil || len(msg.To) == 0 {
		return nil, errors.New("delivery: the message has no recipient")
	}
	if msg.RcptOptions != nil && len(msg.RcptOptions) != len(msg.To) {
		return nil, errors.New("delivery: Message.RcptOptions must be nil or match To")
	}
	d.init()

	rep := &Report{Results: make([]Result, len(msg.To))}
	groups := groupByDomain(msg.To, rep.Results)

	// Each domain writes only its own recipients' results and its own
	// slot of attempts.
	attempts := make([][]Attempt, len(groups))
	var wg sync.WaitGroup
	sem := make(chan struct{}, positive(d.Concurrency, DefaultConcurrency))
	for k, g := range groups {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			attempts[k] = d.deliverDomain(ctx, msg, g, rep.Results)
		}()
	}
	wg.Wait()

	for _, a := range attempts {
		rep.Attempts = append(rep.Attempts, a...)
	}
	return rep, nil
}

// domainGroup is the recipients of one domain: their indexes in
// Message.To.
type domainGroup struct {
	domain string // as looked up: lower case, A-labels
	idx    []int
}

// groupByDomain groups the recipients by domain, in the order of their
// first appearance; an address without a usable domain gets its failure
// in results at once (553 5.1.3, RFC 3463 "bad destination mailbox
// address syntax").
func groupByDomain(to []string, results []Result) []*domainGroup {
	var groups []*domainGroup
	byName := make(map[string]*domainGroup)
	for i, rcpt := range to {
		results[i].Recipient = rcpt
		domain, err := recipientDomain(rcpt)
		if err != nil {
			results[i].Status = PermanentFailure
			results[i].Err = localReply(553, smtp.EnhancedCode{5, 1, 3}, err.Error(), nil)
			continue
		}
		g := byName[domain]
		if g == nil {
			g = &domainGroup{domain: domain}
			byName[domain] = g
			groups = append(groups, g)
		}
		g.idx = append(g.idx, i)
	}
	return groups
}

// recipientDomain returns the domain of addr, lower case and in A-labels
// (RFC 5890), or an address literal as it is.
func recipientDomain(addr string) (string, error) {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "", fmt.Errorf("recipient %q has no domain", addr)
	}
	domain := addr[at+1:]
	if domain[0] == '[' {
		if _, err := parseAddressLiteral(domain); err != nil {
			return "", err
		}
		return domain, nil
	}
	ascii, err := idna.Lookup.ToASCII(strings.TrimSuffix(domain, "."))
	if err != nil {
		return "", fmt.Errorf("recipient %q: domain: %v", addr, err)
	}
	return strings.ToLower(ascii), nil
}

// parseAddressLiteral parses "[192.0.2.1]" or "[IPv6:2001:db8::1]" (RFC
// 5321 section 4.1.3).
func parseAddressLiteral(lit string) (netip.Addr, error) {
	inner, ok := strings.CutPrefix(lit, "[")
	inner, ok2 := strings.CutSuffix(inner, "]")
	if !ok || !ok2 {
		return netip.Addr{}, fmt.Errorf("address literal %q is not bracketed", lit)
	}
	if v6, ok := cutPrefixFold(inner, "IPv6:"); ok {
		a, err := netip.ParseAddr(v6)
		if err != nil || !a.Is6() || a.Is4In6() {
			return netip.Addr{}, fmt.Errorf("address literal %q is not an IPv6 address", lit)
		}
		return a, nil
	}
	a, err := netip.ParseAddr(inner)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("address literal %q is not an IPv4 address", lit)
	}
	return a, nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// init fills the unexported defaults once.
func (d *Deliverer) init() {
	d.once.Do(func() {
		d.resolver = d.Resolver
		if d.resolver == nil && d.DNSSECResolver != "" {
			d.resolver = &DNSClient{Addr: d.DNSSECResolver}
		}
		if d.resolver == nil {
			d.resolver = NetResolver{}
		}
		d.cache = d.STSCache
		if d.cache == nil {
			d.cache = &MemorySTSCache{Now: d.Now}
		}
		d.fetcher = d.STSFetcher
		if d.fetcher == nil {
			d.fetcher = &STSFetcher{RootCAs: d.RootCAs}
		}
		d.hostname = d.Hostname
		if d.hostname == "" {
			if h, err := os.Hostname(); err == nil && h != "" {
				d.hostname = h
			} else {
				d.hostname = "localhost"
			}
		}
	})
}

func (d *Deliverer) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

func (d *Deliverer) port() int { return positive(d.Port, DefaultPort) }

func positive[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// SendMail delivers msg from from to each of to directly, with a
// zero Deliverer (the system's resolver and roots, port 25): the
// net/smtp.SendMail of delivery to the world. It returns nil when every
// recipient was delivered, else a *DeliveryError.
func SendMail(ctx context.Context, from string, to []string, msg []byte) error {
	var d Deliverer
	return d.SendMail(ctx, from, to, msg)
}

// SendMail delivers msg from from to each of to with d's settings. It
// returns nil when every recipient was delivered, else a *DeliveryError.
func (d *Deliverer) SendMail(ctx context.Context, from string, to []string, msg []byte) error {
	rep, err := d.Deliver(ctx, &Message{Envelope: smtp.Envelope{From: from, To: to}, Body: msg})
	if err != nil {
		return err
	}
	if failed := rep.Failed(); len(failed) > 0 {
		return &DeliveryError{Failed: failed}
	}
	return nil
}

// DeliveryError lists the recipients that were not delivered (RFC 5321
// section 4.5.4: retry the temporary ones, bounce the permanent ones).
type DeliveryError struct {
	Failed []Result
}

// Error lists each failed recipient with its reason, replies as on the
// wire (RFC 5321 section 4.2).
func (e *DeliveryError) Error() string {
	var b strings.Builder
	b.WriteString("delivery: ")
	for i, r := range e.Failed {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "<%s>: %s: %v", r.Recipient, r.Status, r.Err)
	}
	return b.String()
}

// Temporary reports whether every failure is temporary (4yz, RFC 5321
// section 4.2.1), so that the whole message may be tried again later.
func (e *DeliveryError) Temporary() bool {
	for _, r := range e.Failed {
		if r.Status != TemporaryFailure {
			return false
		}
	}
	return true
}

// Unwrap returns each recipient's error, for errors.As to find the
// *smtp.Error replies (RFC 5321 section 4.2).
func (e *DeliveryError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, r := range e.Failed {
		errs[i] = r.Err
	}
	return errs
}
