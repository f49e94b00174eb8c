package compat

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/require"
)

// startPostwire starts our server in-process with a recording backend and
// shuts it down when the test ends.
func startPostwire(t testing.TB, cfg recvConfig) *receiver {
	t.Helper()
	rec := newRecorder()
	s := &smtp.Server{
		Hostname:          "mx.test.example",
		LMTP:              cfg.lmtp,
		AllowInsecureAuth: cfg.insecureAuth,
		EnableDSN:         cfg.dsn,
		MaxMessageBytes:   cfg.maxBytes,
		ProxyProtocol:     cfg.proxy,
		ReadTimeout:       30 * time.Second,
		DataTimeout:       30 * time.Second,
		DataFinalTimeout:  time.Minute,
		WriteTimeout:      30 * time.Second,
		Logger:            slog.New(slog.DiscardHandler),
		Backend: smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
			return &pwSession{rec: rec, conn: c, users: cfg.users}, nil
		}),
	}
	if cfg.startTLS {
		s.TLSConfig = cfg.tlsConfig()
	}
	l := listen(t, cfg)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, s.Shutdown(ctx))
		require.ErrorIs(t, <-done, smtp.ErrServerClosed)
	})
	return &receiver{addr: l.Addr().String(), rec: rec}
}

// pwSession is our server's recording session.
type pwSession struct {
	rec   *recorder
	conn  *smtp.Conn
	users map[string]string
	cur   received
}

func (s *pwSession) Mail(_ context.Context, from string, o *smtp.MailOptions) error {
	s.cur = received{From: from, UTF8: o.UTF8, BodyType: string(o.Body), Size: o.Size,
		EnvID: o.EnvelopeID, Ret: string(o.Return)}
	return nil
}

func (s *pwSession) Rcpt(_ context.Context, to string, o *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	notify := ""
	for i, n := range o.Notify {
		if i > 0 {
			notify += ","
		}
		notify += string(n)
	}
	s.cur.Notify = append(s.cur.Notify, notify)
	orcpt := ""
	if o.OriginalRecipient != "" {
		orcpt = string(o.OriginalRecipientType) + ";" + o.OriginalRecipient
	}
	s.cur.ORCPT = append(s.cur.ORCPT, orcpt)
	return nil
}

func (s *pwSession) Data(_ context.Context, r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := s.cur
	m.Data = data
	_, m.TLS = s.conn.TLSConnectionState()
	m.Remote = s.conn.RemoteAddr().String()
	if id, _, ok := s.conn.AuthIdentity(); ok {
		m.AuthUser = id.Authentication
	}
	s.rec.add(m)
	return nil
}

func (s *pwSession) Reset()        { s.cur = received{} }
func (s *pwSession) Logout() error { return nil }

func (s *pwSession) AuthMechanisms() []string {
	if s.users == nil {
		return nil
	}
	return []string{sasl.Plain, sasl.Login, sasl.CramMD5}
}

func (s *pwSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if want, ok := s.users[user]; ok && want == pass {
			return nil
		}
		return sasl.ErrInvalidCredentials
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return sasl.NewLoginServer(check), nil
	case sasl.CramMD5:
		return sasl.NewCramMD5Server("mx.test.example", func(user string) (string, error) {
			if pass, ok := s.users[user]; ok {
				return pass, nil
			}
			return "", sasl.ErrInvalidCredentials
		}), nil
	}
	return nil, errors.New("unknown mechanism")
}

// startOurs starts the receiving server the peer tests deliver into: ours.
func startOurs(t testing.TB, cfg recvConfig) *receiver { return startPostwire(t, cfg) }
