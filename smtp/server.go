package smtp

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ErrServerClosed is returned by Serve, ListenAndServe and
// ListenAndServeTLS after Shutdown or Close.
var ErrServerClosed = errors.New("smtp: server closed")

// Defaults of the Server's settings, from RFC 5321 section 4.5.3 where it
// has one.
const (
	DefaultMaxMessageBytes  = 32 << 20        // 32 MiB, about what large providers accept
	DefaultMaxRecipients    = 100             // section 4.5.3.1.8
	DefaultReadTimeout      = 5 * time.Minute // section 4.5.3.2.7, waiting for a command
	DefaultDataTimeout      = 3 * time.Minute // section 4.5.3.2.5, per body block
	DefaultDataFinalTimeout = 10 * time.Minute
	DefaultWriteTimeout     = 5 * time.Minute
	DefaultMaxErrors        = 20  // Postfix's smtpd_hard_error_limit
	DefaultMaxJunkCommands  = 100 // Postfix's smtpd_junk_command_limit
	DefaultMaxAuthFailures  = 3
	commandLineBase         = 512 // section 4.5.3.1.4, CRLF included
	authLineMax             = 12288 + 2
)

// A Server receives mail: an MX, a submission server (RFC 6409) or an LMTP
// endpoint (RFC 2033). Set its fields, then call Serve or a ListenAndServe
// method; do not change the fields after that. The zero value of each
// field is a sensible default, documented on the field.
//
// Every timeout and limit follows one rule: 0 means the default, and a
// negative value means none. MaxLineLength is the exception, since a
// command line needs a bound: Serve refuses a negative one. Extensions
// that need nothing from the Backend are on unless switched off (the
// Disable fields); those whose parameters the Backend must honour are off
// unless switched on (the Enable fields), so that the zero Server never
// promises what its Backend may not do.
type Server struct {
	// Addr is the TCP address to listen on for ListenAndServe and
	// ListenAndServeTLS; "" means ":25" (":465" for ListenAndServeTLS,
	// RFC 8314 section 7.3).
	Addr string
	// Hostname is the server's name in the greeting and the EHLO reply
	// (RFC 5321 sections 4.1.1.1 and 4.2); "" means os.Hostname(). A name
	// with spaces or control characters is replaced by "localhost".
	Hostname string
	// GreetingBanner is the text after Hostname in the 220 greeting
	// (RFC 5321 section 4.2: "220 <domain> <text>"); "" means "ESMTP
	// Service ready" ("LMTP Service ready" with LMTP). A deployment that
	// wants to name its software, for scanners and for whoever reads a
	// transcript, sets e.g. "ESMTP Postwire". Text with control characters
	// or over 200 octets is replaced by the default: it goes into the reply
	// as it is.
	GreetingBanner string
	// Backend makes a Session per connection. Required.
	Backend Backend
	// TLSConfig enables STARTTLS (RFC 3207) when set: it is offered on
	// plaintext connections. ListenAndServeTLS uses it too.
	TLSConfig *tls.Config
	// LMTP serves LMTP (RFC 2033) instead of SMTP: LHLO replaces HELO and
	// EHLO, and DATA gets one reply per recipient.
	LMTP bool

	// MaxMessageBytes caps a message body, counted as RFC 1870 section 4
	// counts it (CRLF line endings, no dot-stuffing). 0 means
	// DefaultMaxMessageBytes, 32 MiB; negative means no limit. SIZE is
	// advertised with the limit, and a larger SIZE= or body is refused
	// with 552 5.3.4 (RFC 1870 section 6).
	MaxMessageBytes int64
	// MaxRecipients caps the recipients of one transaction; the ones
	// beyond get 452 4.5.3 (RFC 5321 section 4.5.3.1.10). 0 means
	// DefaultMaxRecipients, 100 (the minimum of section 4.5.3.1.8);
	// negative means no limit.
	MaxRecipients int
	// MaxLineLength caps a command line, CRLF included. 0 means 512
	// (RFC 5321 section 4.5.3.1.4) plus, for MAIL and RCPT, the
	// increments the advertised extensions grant (RFC 1870 section 3,
	// RFC 3461 section 5.4, RFC 4954 section 3, RFC 6531 section 3.1). A
	// longer line is answered 500 5.5.6 and discarded. A negative value is
	// refused by Serve: the read buffer is sized by it.
	MaxLineLength int
	// MaxBodyLineLength caps a line of a DATA body, CRLF excluded. 0 (the
	// default) and negative mean no limit, since RFC 5321 section
	// 4.5.3.1.6 only asks receivers to take at least 998 octets and mail
	// with longer lines is common; a longer line fails the message with
	// 500 5.5.6.
	MaxBodyLineLength int

	// ReadTimeout bounds the wait for each command. 0 means
	// DefaultReadTimeout, 5 minutes (RFC 5321 section 4.5.3.2.7);
	// negative means none.
	ReadTimeout time.Duration
	// DataTimeout bounds the wait for each block of a body. 0 means
	// DefaultDataTimeout, 3 minutes (RFC 5321 section 4.5.3.2.5);
	// negative means none.
	DataTimeout time.Duration
	// DataFinalTimeout bounds a whole body, to its final dot or last
	// chunk. 0 means DefaultDataFinalTimeout, 10 minutes (RFC 5321
	// section 4.5.3.2.6); negative means none.
	DataFinalTimeout time.Duration
	// WriteTimeout bounds each write of replies. 0 means
	// DefaultWriteTimeout, 5 minutes; negative means none. The last reply
	// of a closing connection gets at most 10 seconds.
	WriteTimeout time.Duration
	// Any timeout is answered 421 4.4.2 and closes the connection.

	// MaxConnections caps concurrent connections; the ones beyond get 421
	// 4.7.0 and are closed (RFC 5321 section 3.8). 0 (the default) and
	// negative mean no limit: how many a host can serve depends on its
	// file limit and memory, which the library cannot know.
	MaxConnections int
	// MaxConnectionsPerIP caps the concurrent connections from one client
	// address (the one a PROXY header tells, behind a proxy); the ones
	// beyond get 421 4.7.0 and are closed. 0 (the default) and negative
	// mean no limit.
	MaxConnectionsPerIP int
	// MaxErrors is the number of error replies a client may cause before
	// it gets 421 4.7.0 and is disconnected, like Postfix's
	// smtpd_hard_error_limit. The count restarts after each accepted
	// message. 0 means DefaultMaxErrors, 20; negative means no limit.
	MaxErrors int

	// MaxJunkCommands is the number of commands that cost the server work
	// but move no mail (NOOP, RSET, VRFY, EXPN, HELP, ETRN) a client may
	// send before it gets 421 4.7.0 and is disconnected, like Postfix's
	// smtpd_junk_command_limit. The count restarts after each accepted
	// message. 0 means DefaultMaxJunkCommands, 100; negative means no
	// limit.
	MaxJunkCommands int

	// AllowInsecureAuth offers and accepts AUTH on connections without
	// TLS. By default AUTH is offered only over TLS and answered 538
	// 5.7.11 otherwise (RFC 4954 section 4).
	AllowInsecureAuth bool
	// RequireAuth refuses MAIL with 530 5.7.0 until the client has
	// authenticated (RFC 4954 section 6), for submission servers.
	RequireAuth bool
	// MaxAuthFailures is the number of failed AUTH exchanges after which
	// the client gets 421 4.7.0 and is disconnected. 0 means
	// DefaultMaxAuthFailures, 3; negative means no limit.
	MaxAuthFailures int

	// Extensions that need nothing from the backend are advertised unless
	// switched off: PIPELINING (RFC 2920), 8BITMIME (RFC 6152),
	// ENHANCEDSTATUSCODES (RFC 2034; when off, replies carry no enhanced
	// code), SIZE (RFC 1870; only when MaxMessageBytes > 0), CHUNKING
	// (RFC 3030) and SMTPUTF8 (RFC 6531).
	DisablePipelining          bool
	Disable8BitMIME            bool
	DisableEnhancedStatusCodes bool
	DisableSize                bool
	DisableChunking            bool
	DisableSMTPUTF8            bool

	// Extensions whose parameters the backend must honour are advertised
	// only when enabled; their MAIL and RCPT parameters reach the Session
	// in MailOptions and RcptOptions.
	EnableDSN        bool // RFC 3461: RET, ENVID, NOTIFY, ORCPT
	EnableREQUIRETLS bool // RFC 8689: offered and accepted only over TLS
	EnableBINARYMIME bool // RFC 3030: BODY=BINARYMIME, with CHUNKING only
	EnableMTPriority bool // RFC 6710: MT-PRIORITY
	EnableDeliverBy  bool // RFC 2852: BY
	EnableLimits     bool // RFC 9422: advertises RCPTMAX=MaxRecipients

	// LenientPaths accepts a space after "FROM:"/"TO:" and paths without
	// angle brackets, as Postfix does by default.
	LenientPaths bool
	// AllowEarlyCommands accepts commands a client sends before the
	// greeting, as Postfix's smtpd does. By default such a client, which
	// RFC 5321 section 3.1 has wait for the greeting (a spam bot's habit,
	// or a script piping into nc), is answered 421 4.7.0 and disconnected,
	// as Postfix's postscreen does with its pregreet test; behind a PROXY
	// header, octets that follow it before the greeting count too.
	AllowEarlyCommands bool
	// AllowNUL passes NUL octets in a message body through to the Session.
	// By default a body that is not BODY=BINARYMIME (RFC 3030 section 3)
	// and holds one is drained and refused with 550 5.6.0: RFC 2045
	// section 2.8 and RFC 6152 allow no NUL in 7bit and 8bit data, and
	// RFC 5322 none in a message.
	AllowNUL bool
	// AllowBareLineEndings accepts a bare LF ending a command line, and
	// passes a bare CR or LF in a DATA body through as ordinary octets.
	// By default the command is answered 500 5.5.2 and a body with one
	// is drained to its end and refused with 550 5.5.2 (SMTP smuggling,
	// CVE-2023-51764).
	AllowBareLineEndings bool

	// ProxyProtocol expects a PROXY protocol header (HAProxy's
	// proxy-protocol.txt, version 1 text or version 2 binary, told apart
	// by the first octet) before the greeting on every connection, for a
	// server behind a load balancer such as HAProxy ("send-proxy",
	// "send-proxy-v2"), nginx or a cloud TCP balancer. Conn.RemoteAddr and
	// Conn.LocalAddr then tell the client's address and the address it
	// connected to, as the proxy saw them; a version 2 LOCAL header (a
	// health check), a version 1 UNKNOWN one, and the UNSPEC family keep
	// the connection's own addresses. Version 2 TLVs are skipped, but a
	// CRC32c TLV is verified (section 2.2.3).
	//
	// As section 2 of the specification requires, the header is then
	// mandatory: a connection whose header is missing, malformed, later
	// than ProxyHeaderTimeout, or that comes from a source outside
	// ProxyTrusted, is closed without a greeting and logged (at Warn).
	// Octets the client sent right after the header are kept (see
	// AllowEarlyCommands). With implicit TLS (ListenAndServeTLS) the
	// header precedes the handshake.
	ProxyProtocol bool
	// ProxyTrusted lists the proxies allowed to connect when
	// ProxyProtocol is set, by their own (TCP peer) address. Empty means
	// every source is trusted: leave it empty only when a firewall lets
	// nothing but the proxies reach the server, since whoever can connect
	// can claim any address.
	ProxyTrusted []netip.Prefix
	// ProxyHeaderTimeout bounds the wait for the PROXY header. 0 means
	// DefaultProxyHeaderTimeout, 5 seconds; negative means none.
	ProxyHeaderTimeout time.Duration

	// XCLIENTTrusted lists the clients allowed to use Postfix's XCLIENT
	// command (https://www.postfix.org/XCLIENT_README.html), with which a
	// proxy or content filter in front of the server tells the original
	// client's address, host name, HELO name and login. XCLIENT is
	// advertised in EHLO only to them; others get 550 5.7.0. A client is
	// matched by its address when it connected (after any PROXY header),
	// so the clients it announces do not change what it may do. Empty
	// means XCLIENT is off: not offered, and answered 502 5.5.1.
	XCLIENTTrusted []netip.Prefix

	// MaxETRN caps the ETRN commands (RFC 1985) one connection may send,
	// for a Session that implements ETRNSession; the ones beyond, and a
	// second request for the same node, get 458 4.7.0 without reaching
	// the Session. 0 means DefaultMaxETRN, 5; negative means no limit.
	MaxETRN int

	// Logger receives the server's log; nil means slog.Default().
	Logger *slog.Logger
	// Hooks observe connections, TLS, AUTH, commands and messages, for
	// metrics and tracing; see ServerHooks.
	Hooks ServerHooks

	// BaseContext, when set, returns the context that the connections
	// accepted on l start from, as net/http.Server's does; it must not be
	// nil. By default it is context.Background(). Each connection's
	// context, which every Session method receives, is cancelled when the
	// connection ends or Close is called, whatever BaseContext returns.
	BaseContext func(l net.Listener) context.Context
	// ConnContext, when set, returns the context for a new connection nc,
	// derived from ctx (the base context), as net/http.Server's does: a
	// place to attach values such as a request id. It runs before the
	// PROXY header and the TLS handshake, so nc is the accepted
	// connection.
	ConnContext func(ctx context.Context, nc net.Conn) context.Context

	initOnce   sync.Once
	hostname   string
	banner     string // GreetingBanner once checked; "" for the default
	readerPool sync.Pool
	writerPool sync.Pool
	readerSize int
	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*Conn]struct{}
	perIP      map[netip.Addr]int // connections per client address, with MaxConnectionsPerIP
	active     atomic.Int64
	idPrefix   string        // random, so that ids differ across restarts
	lastID     atomic.Uint64 // counts connections, for their ids
	closing    atomic.Bool
	connWG     sync.WaitGroup
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.hostname = s.Hostname
		if s.hostname == "" {
			s.hostname, _ = os.Hostname()
		}
		if !printableToken(s.hostname) {
			// It goes into replies as it is: nothing may break a line.
			s.hostname = "localhost"
		}
		s.banner = s.GreetingBanner
		if !printableText(s.banner) {
			s.banner = ""
		}
		s.readerSize = max(4096, s.MaxLineLength, s.maxCommandLine())
		var prefix [4]byte
		rand.Read(prefix[:])
		s.idPrefix = hex.EncodeToString(prefix[:])
		s.readerPool.New = func() any { return bufio.NewReaderSize(nil, s.readerSize) }
		s.writerPool.New = func() any { return bufio.NewWriterSize(nil, 4096) }
		s.listeners = make(map[*net.Listener]struct{})
		s.conns = make(map[*Conn]struct{})
		s.perIP = make(map[netip.Addr]int)
	})
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// setting is what a timeout or limit field stands for: def for 0, none
// (returned as 0) for a negative value, the value itself otherwise.
func setting[T int | int64 | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// ListenAndServe listens on s.Addr (":25" if empty) and calls Serve.
func (s *Server) ListenAndServe() error {
	if s.closing.Load() {
		return ErrServerClosed
	}
	addr := s.Addr
	if addr == "" {
		addr = ":25"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// ListenAndServeTLS listens on s.Addr (":465" if empty) for implicit TLS
// (RFC 8314 section 3.3): every connection starts with a TLS handshake,
// using the certificate in certFile and keyFile (PEM), added to a copy of
// s.TLSConfig. Both files may be "" when s.TLSConfig already holds a
// certificate.
func (s *Server) ListenAndServeTLS(certFile, keyFile string) error {
	if s.closing.Load() {
		return ErrServerClosed
	}
	cfg := &tls.Config{}
	if s.TLSConfig != nil {
		cfg = s.TLSConfig.Clone()
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return err
		}
		cfg.Certificates = append(cfg.Certificates, cert)
	}
	addr := s.Addr
	if addr == "" {
		addr = ":465"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(tls.NewListener(l, cfg))
}

// Serve accepts connections on l and serves each in its own goroutine. It
// returns ErrServerClosed after Shutdown or Close, or the listener's
// error. A listener made by tls.NewListener gives implicit TLS.
func (s *Server) Serve(l net.Listener) error {
	if s.Backend == nil {
		return errors.New("smtp: Server.Backend is nil")
	}
	if s.MaxLineLength < 0 {
		return errors.New("smtp: Server.MaxLineLength is negative; a command line needs a bound")
	}
	s.init()
	base := context.Background()
	if s.BaseContext != nil {
		if base = s.BaseContext(l); base == nil {
			return errors.New("smtp: Server.BaseContext returned a nil context")
		}
	}
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[&l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, &l)
		s.mu.Unlock()
		l.Close()
	}()

	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logger().Warn("smtp: accept failed; retrying", "err", err, "delay", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.startConn(base, nc)
	}
}

// startConn registers nc and starts its goroutine, or turns it away when
// the server is full. base is the context the connection's own derives
// from.
func (s *Server) startConn(base context.Context, nc net.Conn) {
	n := s.active.Add(1)
	if s.MaxConnections > 0 && n > int64(s.MaxConnections) {
		go func() {
			defer s.active.Add(-1)
			nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(nc, "421 4.7.0 "+s.hostname+" Too many connections, try again later\r\n")
			nc.Close()
		}()
		return
	}
	if s.ConnContext != nil {
		base = s.ConnContext(base, nc)
	}
	c := newConn(s, nc, base)
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		s.active.Add(-1)
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	go c.serve()
}

// forget unregisters c when its goroutine ends.
func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if c.perIP.IsValid() {
		if s.perIP[c.perIP]--; s.perIP[c.perIP] == 0 {
			delete(s.perIP, c.perIP)
		}
	}
	s.mu.Unlock()
	s.active.Add(-1)
}

// addrIP returns the IP of a TCP address, IPv4-mapped ones unmapped.
func addrIP(a net.Addr) (netip.Addr, bool) {
	if tcp, ok := a.(*net.TCPAddr); ok {
		ip, ok := netip.AddrFromSlice(tcp.IP)
		return ip.Unmap(), ok
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap.Addr().Unmap(), err == nil
}

// admitFrom counts c towards Server.MaxConnectionsPerIP by its client's
// address (after any PROXY header) and reports whether it is within the
// limit.
func (s *Server) admitFrom(c *Conn) bool {
	limit := setting(s.MaxConnectionsPerIP, 0)
	if limit <= 0 {
		return true
	}
	ip, ok := addrIP(c.remote)
	if !ok {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP[ip] >= limit {
		return false
	}
	s.perIP[ip]++
	c.perIP = ip
	return true
}

// Shutdown stops the server gracefully: it closes the listeners, tells
// idle connections 421 4.3.2 and closes them, lets every transaction in
// flight finish and then does the same to its connection. If ctx ends
// first, the remaining connections are closed (their sessions' contexts
// cancelled) and ctx.Err() is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.closing.Store(true)
	s.closeListeners()
	timer := time.NewTimer(time.Millisecond)
	defer timer.Stop()
	poll := time.Millisecond
	for {
		s.mu.Lock()
		n := len(s.conns)
		for c := range s.conns {
			c.interruptIfIdle()
		}
		s.mu.Unlock()
		if n == 0 && s.active.Load() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		case <-timer.C:
			poll = min(2*poll, 100*time.Millisecond)
			timer.Reset(poll)
		}
	}
}

// Close stops the server at once: it closes the listeners and every
// connection, and cancels the sessions' contexts. It does not wait for
// the connections' goroutines; Shutdown does.
func (s *Server) Close() error {
	s.init()
	s.closing.Store(true)
	err := s.closeListeners()
	s.mu.Lock()
	for c := range s.conns {
		c.cancel()
		c.closeNow()
	}
	s.mu.Unlock()
	return err
}

func (s *Server) closeListeners() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for l := range s.listeners {
		if e := (*l).Close(); e != nil && err == nil {
			err = e
		}
	}
	return err
}

// newConnID returns the id of a new connection: the Server's prefix and
// the connection's number, "3fa2c91e-1b".
func (s *Server) newConnID() string {
	var b [32]byte
	id := append(b[:0], s.idPrefix...)
	id = append(id, '-')
	return string(strconv.AppendUint(id, s.lastID.Add(1), 36))
}

// maxMessageBytes is the message size limit in force, 0 for none.
func (s *Server) maxMessageBytes() int64 {
	return setting(s.MaxMessageBytes, DefaultMaxMessageBytes)
}

// maxRecipients is the recipient limit in force, 0 for none.
func (s *Server) maxRecipients() int { return setting(s.MaxRecipients, DefaultMaxRecipients) }

// maxCommandLine is the longest command line the server takes, for sizing
// its read buffers.
func (s *Server) maxCommandLine() int {
	if s.MaxLineLength > 0 {
		return s.MaxLineLength
	}
	set := s.extensionSet(true, nil)
	m, r := set.CommandLineLimits()
	return max(commandLineBase, m, r)
}

// printableText reports whether s is 1 to 200 printable ASCII octets,
// spaces allowed.
func printableText(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// printableToken reports whether s is 1 to 255 printable ASCII octets
// without spaces.
func printableToken(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
