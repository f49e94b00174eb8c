package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
)

// quitTimeout bounds the RSET or QUIT sent upstream when a transaction or
// the client's connection ends.
const quitTimeout = 10 * time.Second

// backend makes a session per client connection (smtp.Backend).
type backend struct {
	users accounts
	up    *upstream
	log   *slog.Logger
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{b: b, conn: c}, nil
}

// session is one client connection (smtp.Session, smtp.AuthSession). It
// holds at most one upstream connection: opened at the first MAIL (at the
// first RCPT with -mx, which needs the recipients' domain), kept for the
// next transactions of a smarthost, and closed with the client's.
type session struct {
	b    *backend
	conn *smtp.Conn
	up   *smtp.Client
	host string // the upstream's address or MX name, for the log

	// The transaction in progress.
	user     string
	from     string
	mailOpts smtp.MailOptions // -mx: MAIL is sent at the first RCPT
	domain   string           // -mx: the one domain of this transaction
	to       []string
	open     bool // MAIL was accepted upstream
}

// Mail checks that the user owns the sender and forwards MAIL, answering
// with the upstream's reply (with -mx it is sent with the first RCPT).
func (s *session) Mail(ctx context.Context, from string, opts *smtp.MailOptions) error {
	id, _, ok := s.conn.AuthIdentity()
	if !ok { // RequireAuth makes the Server refuse MAIL before AUTH
		return smtp.ErrAuthRequired
	}
	s.user = id.Authentication
	if !s.b.users.mayUse(s.user, from) {
		s.b.log.Info("sender refused", "user", s.user, "from", from, "remote", s.conn.RemoteAddr().String())
		return errNotOwned(s.user, from)
	}
	// The client's AUTH= (RFC 4954 section 5) speaks for the relay's
	// session, not the upstream's: it is not passed on, and a smarthost
	// that does not offer AUTH would refuse it.
	s.from, s.mailOpts = from, *opts
	s.mailOpts.Auth = nil
	if s.b.up.mx {
		return nil
	}

	if s.up == nil {
		if err := s.dial(ctx, ""); err != nil {
			return err
		}
	}
	err := s.up.Mail(ctx, from, s.upstreamOptions())
	if err != nil && lost(err) {
		// The smarthost may have closed an idle connection between two
		// transactions: once more, on a new one.
		s.drop()
		if err := s.dial(ctx, ""); err != nil {
			return err
		}
		err = s.up.Mail(ctx, from, s.upstreamOptions())
	}
	if err != nil {
		return s.fail("MAIL", err)
	}
	s.open = true
	return nil
}

// Rcpt forwards RCPT and answers with the upstream's reply. With -mx, the
// first recipient picks the domain whose MX is connected to, and MAIL is
// sent then; recipients of another domain get 452 4.5.3, which tells the
// client to send them in a transaction of their own (RFC 5321 section
// 4.5.3.1.10), since one reply to the final dot cannot speak for two
// upstreams.
func (s *session) Rcpt(ctx context.Context, to string, opts *smtp.RcptOptions) error {
	if s.b.up.mx {
		if err := s.openMX(ctx, to); err != nil {
			return err
		}
	}
	if s.up == nil || !s.open {
		return errUpstreamLost
	}
	if err := s.up.Rcpt(ctx, to, opts); err != nil {
		s.b.log.Info("recipient refused upstream", "user", s.user, "from", s.from, "to", to, "reply", reply(err).Error())
		return s.fail("RCPT", err)
	}
	s.to = append(s.to, to)
	return nil
}

// openMX connects to the MX of to's domain and sends MAIL, for the first
// recipient of a -mx transaction.
func (s *session) openMX(ctx context.Context, to string) error {
	domain := domainOf(to)
	if s.open {
		if domain != s.domain {
			return &smtp.Error{Code: 452, Enhanced: smtp.EnhancedCode{4, 5, 3},
				Message: "Recipients of one domain per message; send this one in another"}
		}
		return nil
	}
	s.drop()
	if err := s.dial(ctx, domain); err != nil {
		return err
	}
	if err := s.up.Mail(ctx, s.from, s.upstreamOptions()); err != nil {
		return s.fail("MAIL", err)
	}
	s.domain, s.open = domain, true
	return nil
}

// upstreamOptions are the client's MAIL parameters as the upstream gets
// them: SIZE= (RFC 1870), a mere estimate, is left out when the upstream
// does not offer SIZE; the others, which change what the message is
// (8BITMIME, SMTPUTF8, REQUIRETLS), are passed on, and an upstream that
// lacks one refuses the transaction rather than see it dropped.
func (s *session) upstreamOptions() *smtp.MailOptions {
	o := s.mailOpts
	if !s.up.Extensions().Has(extensions.Size) {
		o.Size = 0
	}
	return &o
}

// Data streams the body upstream and answers with the upstream's verdict:
// its 250, text and all, or its refusal. If the body breaks off (the
// client left, or it broke one of the Server's rules), the upstream
// connection is closed before the final dot, so that the upstream drops
// the message too.
func (s *session) Data(ctx context.Context, r io.Reader) error {
	if s.up == nil || !s.open {
		return errUpstreamLost
	}
	w, err := s.up.Data(ctx)
	if err != nil {
		return s.fail("DATA", err)
	}
	body := &bodyReader{r: r}
	n, err := io.Copy(w, body)
	if err != nil {
		s.drop() // no final dot: the upstream keeps nothing
		if body.err != nil {
			return body.err // the Server answers for the broken rule
		}
		s.b.log.Warn("message not relayed: upstream connection lost", s.attrs("size", n, "error", err)...)
		return errUpstreamLost
	}
	s.open = false
	if err := w.Close(); err != nil {
		s.b.log.Warn("message refused upstream", s.attrs("size", n, "reply", reply(err).Error())...)
		return s.fail("end of DATA", err)
	}
	s.b.log.Info("message relayed", s.attrs("size", n, "upstream_reply", w.Reply())...)
	return &smtp.Error{Code: 250, Enhanced: smtp.EnhancedCode{2, 0, 0}, Message: w.Reply()}
}

// bodyReader remembers the error of reading the client's body, to tell
// it from one writing upstream after io.Copy.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// attrs returns the log attributes of the transaction, then extra.
func (s *session) attrs(extra ...any) []any {
	return append([]any{"user", s.user, "from", s.from, "to", strings.Join(s.to, ","),
		"remote", s.conn.RemoteAddr().String(), "upstream", s.host}, extra...)
}

// dial opens the upstream connection, to the smarthost or to domain's MX.
func (s *session) dial(ctx context.Context, domain string) error {
	var err error
	if s.b.up.mx {
		s.up, s.host, err = s.b.up.dialMX(ctx, domain)
	} else {
		cl := client{addr: s.conn.RemoteAddr(), helo: s.conn.Hostname(), login: s.user}
		s.up, err = s.b.up.dialSmarthost(ctx, cl)
		s.host = s.b.up.smarthost
	}
	if err != nil {
		s.up = nil
		target := s.b.up.smarthost
		if s.b.up.mx {
			target = "MX of " + domain
		}
		s.b.log.Warn("upstream not reachable", "user", s.user, "upstream", target, "error", err)
		var se *smtp.Error
		if errors.As(err, &se) && !lost(err) && se.Code >= 500 && s.b.up.mx {
			return se // a null MX, a domain that does not exist
		}
		return errUpstreamDown
	}
	return nil
}

// fail turns an upstream error into the client's reply, and forgets a
// connection that broke.
func (s *session) fail(op string, err error) error {
	if lost(err) {
		s.b.log.Warn("upstream connection lost", "op", op, "user", s.user, "upstream", s.host, "error", err)
		s.drop()
	}
	return reply(err)
}

// drop closes the upstream connection without a word.
func (s *session) drop() {
	if s.up != nil {
		s.up.Close()
		s.up, s.open = nil, false
	}
}

// Reset ends the transaction here and upstream: RSET to a smarthost
// (closing the connection if that fails), QUIT to an MX, whose domain the
// next transaction may not share.
func (s *session) Reset() {
	if s.up != nil && (s.open || s.b.up.mx) {
		ctx, cancel := context.WithTimeout(context.Background(), quitTimeout)
		defer cancel()
		switch {
		case s.b.up.mx:
			s.up.Quit(ctx)
			s.up = nil
		case s.up.Reset(ctx) != nil:
			s.drop()
		}
	}
	s.from, s.domain, s.to, s.open = "", "", nil, false
}

// Logout says QUIT upstream when the client's connection ends.
func (s *session) Logout() error {
	if s.up != nil {
		ctx, cancel := context.WithTimeout(context.Background(), quitTimeout)
		defer cancel()
		s.up.Quit(ctx)
		s.up = nil
	}
	return nil
}

// AuthMechanisms lists what AUTH offers (RFC 4954 section 3).
func (s *session) AuthMechanisms() []string { return mechanisms }

// Auth returns the server side of mech for one exchange.
func (s *session) Auth(mech string) (sasl.Server, error) {
	return s.b.users.server(mech, s.conn.Server().Hostname)
}
