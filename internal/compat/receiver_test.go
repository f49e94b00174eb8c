package compat

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	gosasl "github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// received is one message a receiving server under test accepted, as its
// backend saw it.
type received struct {
	From     string
	To       []string
	Data     []byte
	UTF8     bool   // MAIL carried SMTPUTF8
	BodyType string // BODY= of MAIL
	Size     int64  // SIZE= of MAIL
	EnvID    string // ENVID= of MAIL
	Ret      string // RET= of MAIL
	Notify   []string
	ORCPT    []string
	TLS      bool   // the transaction ran over TLS
	AuthUser string // who authenticated, "" if nobody
	Remote   string // the client's address as the server saw it
}

// recorder keeps what a receiving server accepted, in order.
type recorder struct {
	mu     sync.Mutex
	msgs   []received
	notify chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) add(m received) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.msgs...)
}

// wait returns the messages once there are at least n, failing the test
// after timeout.
func (r *recorder) wait(t testing.TB, n int, timeout time.Duration) []received {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if msgs := r.all(); len(msgs) >= n {
			return msgs
		}
		select {
		case <-r.notify:
		case <-deadline:
			t.Fatalf("%d message(s) stored after %v, want %d", len(r.all()), timeout, n)
		}
	}
}

// recvConfig says what a receiving server under test offers.
type recvConfig struct {
	startTLS     bool              // offer STARTTLS
	implicitTLS  bool              // TLS from the first byte (RFC 8314)
	users        map[string]string // offer AUTH PLAIN, LOGIN, CRAM-MD5 with these
	insecureAuth bool              // allow AUTH without TLS
	lmtp         bool
	dsn          bool
	maxBytes     int64
	proxy        bool // expect a PROXY protocol header (ours only)
	// addr is the address to listen on; "" picks a free port of 127.0.0.1.
	addr string
	// tls is the servers' TLS configuration; nil means serverTLS().
	tls *tls.Config
}

// tlsConfig is the TLS configuration the receiver serves with.
func (cfg recvConfig) tlsConfig() *tls.Config {
	if cfg.tls != nil {
		return cfg.tls
	}
	return serverTLS()
}

// testUsers is the account every peer authenticates with.
var testUsers = map[string]string{"alice": "secret"}

// receiver is a running server under test.
type receiver struct {
	addr string
	rec  *recorder
}

// listen opens the listener of a receiver, with TLS when implicit.
func listen(t testing.TB, cfg recvConfig) net.Listener {
	t.Helper()
	addr := cfg.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	if cfg.implicitTLS {
		l = tls.NewListener(l, cfg.tlsConfig())
	}
	return l
}

// startGoSMTP starts go-smtp's server with a recording backend, the peer
// our client is tested and measured against.
func startGoSMTP(t testing.TB, cfg recvConfig) *receiver {
	t.Helper()
	rec := newRecorder()
	s := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		return &goSession{rec: rec, conn: c, users: cfg.users}, nil
	}))
	s.Domain = "mx.test.example"
	s.LMTP = cfg.lmtp
	s.AllowInsecureAuth = cfg.insecureAuth
	s.EnableDSN = cfg.dsn
	s.EnableSMTPUTF8 = true
	s.MaxMessageBytes = cfg.maxBytes
	if s.MaxMessageBytes == 0 {
		s.MaxMessageBytes = 1 << 30
	}
	s.MaxRecipients = 100
	s.ReadTimeout = 30 * time.Second
	s.WriteTimeout = 30 * time.Second
	if cfg.startTLS || cfg.implicitTLS {
		s.TLSConfig = cfg.tlsConfig()
	}
	l := listen(t, cfg)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return &receiver{addr: l.Addr().String(), rec: rec}
}

// goSession is go-smtp's recording session.
type goSession struct {
	rec   *recorder
	conn  *gosmtp.Conn
	users map[string]string
	user  string // who authenticated
	cur   received
}

func (s *goSession) Mail(from string, o *gosmtp.MailOptions) error {
	s.cur = received{From: from, UTF8: o.UTF8, BodyType: string(o.Body), Size: o.Size,
		EnvID: o.EnvelopeID, Ret: string(o.Return)}
	return nil
}

func (s *goSession) Rcpt(to string, o *gosmtp.RcptOptions) error {
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

func (s *goSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := s.cur
	m.Data = data
	_, m.TLS = s.conn.TLSConnectionState()
	m.AuthUser = s.user
	s.rec.add(m)
	return nil
}

func (s *goSession) Reset()        { s.cur = received{} }
func (s *goSession) Logout() error { return nil }

func (s *goSession) AuthMechanisms() []string {
	if s.users == nil {
		return nil
	}
	return []string{gosasl.Plain}
}

func (s *goSession) Auth(mech string) (gosasl.Server, error) {
	return gosasl.NewPlainServer(func(_, user, pass string) error {
		if want, ok := s.users[user]; ok && want == pass {
			s.user = user
			return nil
		}
		return errors.New("invalid credentials")
	}), nil
}
