package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
)

// hold is the store-and-forward half of the example: mail for the domains
// of -hold is kept here, one folder per domain, instead of the Maildir,
// until the customer who owns the domain collects it over On-Demand Mail
// Relay (RFC 2645) on the -odmr-addr listener. Each message is two files:
// NAME.msg, its trace field and body, and NAME.env, its envelope in JSON,
// written last, so that a message is listed only once it is whole.
type hold struct {
	dir    string
	owners map[string]string // domain (lower case) -> user who collects it
	mu     sync.Mutex        // one delivery or store at a time per hold
}

// envelope is a held message's NAME.env.
type envelope struct {
	From string   `json:"from"`
	To   []string `json:"to"`
}

// parseHold parses -hold: "user=domain+domain,..." (each domain owned by
// one user of -users).
func parseHold(list string, accounts users) (map[string]string, error) {
	owners := map[string]string{}
	if list == "" {
		return owners, nil
	}
	for _, item := range strings.Split(list, ",") {
		name, domains, ok := strings.Cut(item, "=")
		if !ok || name == "" || domains == "" {
			return nil, fmt.Errorf("-hold: %q is not user=domain+domain", item)
		}
		prepared, err := sasl.PrepareUsername(name)
		if err != nil || accounts[prepared] == nil {
			return nil, fmt.Errorf("-hold: user %q is not in -users", name)
		}
		for _, d := range strings.Split(domains, "+") {
			d = strings.ToLower(d)
			if _, err := smtp.ParseETRNNode(d); err != nil || strings.HasPrefix(d, "#") || strings.HasPrefix(d, "@") {
				return nil, fmt.Errorf("-hold: %q is not a domain", d)
			}
			if _, dup := owners[d]; dup {
				return nil, fmt.Errorf("-hold: domain %q is listed twice", d)
			}
			owners[d] = prepared
		}
	}
	return owners, nil
}

// openHold makes the hold folder.
func openHold(dir string, owners map[string]string) (*hold, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &hold{dir: dir, owners: owners}, nil
}

// holds reports whether mail for the domain of address is held.
func (h *hold) holds(address string) bool {
	if h == nil {
		return false
	}
	_, ok := h.owners[domainOf(address)]
	return ok
}

func domainOf(address string) string {
	return strings.ToLower(address[strings.LastIndexByte(address, '@')+1:])
}

// put holds one message for the recipients to, grouped by domain: a copy
// for each domain, so that each customer collects its own.
func (h *hold) put(from string, to []string, data []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	byDomain := map[string][]string{}
	for _, rcpt := range to {
		d := domainOf(rcpt)
		byDomain[d] = append(byDomain[d], rcpt)
	}
	for d, rcpts := range byDomain {
		if err := h.write(d, envelope{From: from, To: rcpts}, data); err != nil {
			return err
		}
	}
	return nil
}

// write stores one held message for domain d: data, then the envelope.
func (h *hold) write(d string, env envelope, data []byte) error {
	dir := filepath.Join(h.dir, d)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var r [12]byte
	if _, err := rand.Read(r[:]); err != nil {
		return err
	}
	name := filepath.Join(dir, hex.EncodeToString(r[:]))
	meta, err := json.Marshal(env)
	if err != nil {
		return err
	}
	if err := writeSynced(name+".msg", data); err != nil {
		return err
	}
	if err := writeSynced(name+".env", meta); err != nil {
		os.Remove(name + ".msg")
		return err
	}
	return nil
}

// writeSynced writes data to path through a temporary name, on disk
// before it appears under path.
func writeSynced(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// domainsOf returns the domains user collects (RFC 2645 section 5.2.1).
func (h *hold) domainsOf(user string) []string {
	var ds []string
	for d, owner := range h.owners {
		if owner == user {
			ds = append(ds, d)
		}
	}
	slices.Sort(ds)
	return ds
}

// held returns the names (without extension) of the messages held for d.
func (h *hold) held(d string) []string {
	entries, _ := os.ReadDir(filepath.Join(h.dir, strings.ToLower(d)))
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".env"); ok {
			names = append(names, n)
		}
	}
	return names
}

// deliver sends what is held for d with c, the Client of a reversed
// ATRN connection, and forgets each recipient the customer accepted or
// refused for good (a 5xx; this example sends no bounce, it logs the
// loss); a recipient refused for now (4xx) stays held for the next ATRN.
func (h *hold) deliver(ctx context.Context, c *smtp.Client, d string, log *slog.Logger) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, name := range h.held(d) {
		base := filepath.Join(h.dir, d, name)
		meta, err := os.ReadFile(base + ".env")
		if err != nil {
			return err
		}
		var env envelope
		if err := json.Unmarshal(meta, &env); err != nil {
			return err
		}
		f, err := os.Open(base + ".msg")
		if err != nil {
			return err
		}
		// The file is streamed, so the client cannot see whether it is
		// 8-bit: declare it when the customer takes 8-bit (RFC 6152
		// section 3); otherwise an 8-bit body is refused as it goes.
		var mo *smtp.MailOptions
		if ok, _ := c.Extension("8BITMIME"); ok {
			mo = &smtp.MailOptions{Body: smtp.Body8BitMIME}
		}
		res, sendErr := c.Send(ctx, &smtp.Envelope{From: env.From, To: env.To, MailOptions: mo}, f)
		f.Close()
		if res == nil {
			return sendErr
		}
		// A *RecipientsError is a message the customer took for some:
		// each recipient's own result decides.
		var partial *smtp.RecipientsError
		failed := sendErr != nil && !errors.As(sendErr, &partial)
		if err := h.settle(base, env, res, failed, log); err != nil {
			return err
		}
	}
	return nil
}

// settle keeps, of a held message, the recipients that failed for now,
// and removes it when none is left. failed says Send failed as a whole:
// then no recipient took the message, even one without an error of its
// own (the connection broke before its reply).
func (h *hold) settle(base string, env envelope, res *smtp.SendResult, failed bool, log *slog.Logger) error {
	var keep []string
	for _, r := range res.Recipients {
		var se *smtp.Error
		switch {
		case r.Err == nil && !failed:
			log.Info("held message delivered", "from", env.From, "to", r.Address)
		case errors.As(r.Err, &se) && !se.Temporary():
			log.Warn("held message refused for good; dropped", "from", env.From, "to", r.Address, "error", r.Err)
		default:
			log.Info("held message refused for now; kept", "from", env.From, "to", r.Address, "error", r.Err)
			keep = append(keep, r.Address)
		}
	}
	if len(keep) == 0 {
		os.Remove(base + ".env")
		return os.Remove(base + ".msg")
	}
	meta, err := json.Marshal(envelope{From: env.From, To: keep})
	if err != nil {
		return err
	}
	os.Remove(base + ".env")
	return writeSynced(base+".env", meta)
}

// odmrSession is a session of the -odmr-addr listener: an ODMR provider
// (smtp.ODMRSession) whose customers authenticate with -users and collect
// the domains -hold gives them. It takes no mail itself (RFC 2645 section
// 5.4 allows refusing MAIL).
type odmrSession struct{ *session }

// Mail refuses: the ODMR port is for collecting mail.
func (s *odmrSession) Mail(context.Context, string, *smtp.MailOptions) error {
	return &smtp.Error{Code: 502, Enhanced: smtp.EnhancedCode{5, 5, 1},
		Message: "This is the On-Demand Mail Relay port: AUTH and ATRN only"}
}

// ATRNDomains returns the domains the customer collects.
func (s *odmrSession) ATRNDomains(_ context.Context, id sasl.Identity) ([]string, error) {
	prepared, err := sasl.PrepareUsername(id.Authentication)
	if err != nil {
		return nil, nil
	}
	return s.b.hold.domainsOf(prepared), nil
}

// HeldDomains returns those of domains with held mail.
func (s *odmrSession) HeldDomains(_ context.Context, domains []string) ([]string, error) {
	var with []string
	for _, d := range domains {
		if len(s.b.hold.held(d)) > 0 {
			with = append(with, strings.ToLower(d))
		}
	}
	return with, nil
}

// DeliverHeld sends the held mail over the reversed connection.
func (s *odmrSession) DeliverHeld(ctx context.Context, c *smtp.Client, domains []string) error {
	for _, d := range domains {
		if err := s.b.hold.deliver(ctx, c, d, s.b.log); err != nil {
			return err
		}
	}
	return nil
}
