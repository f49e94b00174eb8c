package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
)

// errLocal is the reply when a message cannot be stored: a temporary
// failure (RFC 5321 section 4.2.2, RFC 3463 4.3.0), so the client keeps the
// message and tries again later. The cause is logged, never sent.
var errLocal = &smtp.Error{Code: 451, Enhanced: smtp.EnhancedCode{4, 3, 0},
	Message: "Requested action aborted: local error in processing"}

// backend is the application's half of the server (smtp.Backend): it
// makes a session per connection, all storing into one Maildir (nil with
// -discard). The server's name and protocol are read from the Server
// itself, through smtp.Conn.Server.
type backend struct {
	box   *maildir
	hold  *hold // nil without -hold
	users users
	log   *slog.Logger
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{b: b, conn: c}, nil
}

// odmrBackend makes the sessions of the -odmr-addr listener.
type odmrBackend struct{ *backend }

func (b odmrBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &odmrSession{&session{b: b.backend, conn: c}}, nil
}

// session is one connection's mail transactions (smtp.Session). It also
// offers AUTH (smtp.AuthSession) when -users lists accounts. In LMTP mode
// the Server repeats Data's result for every recipient: they all share
// the one Maildir, so one stored copy serves them all.
type session struct {
	b    *backend
	conn *smtp.Conn
	from string
	to   []string
	utf8 bool
}

// Mail starts a transaction (RFC 5321 section 4.1.1.2).
func (s *session) Mail(_ context.Context, from string, opts *smtp.MailOptions) error {
	s.from, s.utf8 = from, opts.UTF8
	return nil
}

// Rcpt accepts every recipient (RFC 5321 section 4.1.1.3): this server is
// a sink for trying clients, not an MX with real mailboxes.
func (s *session) Rcpt(_ context.Context, to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

// Data stores the body (RFC 5321 section 4.1.1.4) and returns only once it
// is safely in new/: the Server answers 250 when Data returns nil, and a
// message answered 250 must never be lost (section 6.1).
func (s *session) Data(_ context.Context, r io.Reader) error {
	if held, rest := s.splitHeld(); len(held) > 0 {
		return s.holdData(r, held, rest)
	}
	return s.store(r, s.to)
}

// store writes the body into the Maildir for the recipients to.
func (s *session) store(r io.Reader, to []string) error {
	attrs := s.envelope()
	if s.b.box == nil {
		n, err := io.Copy(io.Discard, r)
		if err != nil {
			return err // the Server answers for the broken rule
		}
		s.b.log.Info("message discarded", append(attrs, "size", n)...)
		return nil
	}
	header := traceHeader(s.conn, s.from, to, s.utf8)
	path, n, err := s.b.box.deliver(header, r)
	if rerr := (*readError)(nil); errors.As(err, &rerr) {
		s.b.log.Info("message refused", append(attrs, "error", rerr.err)...)
		return rerr.err // the Server answers for the broken rule
	}
	if err != nil {
		s.b.log.Error("message not stored", append(attrs, "error", err)...)
		return errLocal
	}
	s.b.log.Info("message stored", append(attrs, "size", n, "path", path)...)
	return queuedAs(filepath.Base(path))
}

// queuedAs is the 250 reply to the final dot, naming the stored file as
// the message's queue id, as Postfix's "250 2.0.0 Ok: queued as ..." does:
// what a sender (or a relay in front) logs to find the message again. A
// Session may accept with a reply of its own by returning it (see
// smtp.Session's Data).
func queuedAs(id string) error {
	return &smtp.Error{Code: 250, Enhanced: smtp.EnhancedCode{2, 0, 0}, Message: "OK: queued as " + id}
}

// splitHeld parts the recipients into those whose domain -hold keeps for a
// customer and the rest.
func (s *session) splitHeld() (held, rest []string) {
	for _, to := range s.to {
		if s.b.hold.holds(to) {
			held = append(held, to)
		} else {
			rest = append(rest, to)
		}
	}
	return held, rest
}

// holdData holds the message for the held recipients, under a Received
// field, and stores it in the Maildir for the rest. The body is read
// whole first: the Server bounds it with -max-size.
func (s *session) holdData(r io.Reader, held, rest []string) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err // the Server answers for the broken rule
	}
	data := append(receivedField(nil, s.conn, held, s.utf8), body...)
	if err := s.b.hold.put(s.from, held, data); err != nil {
		s.b.log.Error("message not held", append(s.envelope(), "error", err)...)
		return errLocal
	}
	s.b.log.Info("message held for On-Demand Mail Relay", "from", s.from, "to", strings.Join(held, ","), "size", len(body))
	if len(rest) == 0 {
		return nil
	}
	return s.store(bytes.NewReader(body), rest)
}

// envelope returns the log attributes of the transaction.
func (s *session) envelope() []any {
	attrs := []any{"from", s.from, "to", strings.Join(s.to, ","), "remote", s.conn.RemoteAddr().String()}
	if state, ok := s.conn.TLSConnectionState(); ok {
		attrs = append(attrs, "tls", tls.VersionName(state.Version))
	}
	if id, mech, ok := s.conn.AuthIdentity(); ok {
		attrs = append(attrs, "auth", id.Authentication, "mechanism", mech)
	}
	return attrs
}

// Reset forgets the envelope (RFC 5321 section 4.1.1.5).
func (s *session) Reset() { s.from, s.to, s.utf8 = "", nil, false }

// Logout is called when the connection ends.
func (s *session) Logout() error { return nil }

// AuthMechanisms lists what AUTH offers (RFC 4954 section 3): nothing
// without -users.
func (s *session) AuthMechanisms() []string {
	if len(s.b.users) == 0 {
		return nil
	}
	return mechanisms
}

// Auth returns the server side of mech for one exchange, bound to the
// connection's TLS channel when it has one (RFC 5802 section 6).
func (s *session) Auth(mech string) (sasl.Server, error) {
	return s.b.users.server(mech, s.conn.Server().Hostname, s.conn.ChannelBindings()...)
}
