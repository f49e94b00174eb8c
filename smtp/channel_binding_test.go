package smtp

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/sasl"
)

// scramPlusBackend is the client harness's backend with SCRAM only, the
// -PLUS variants first, each server bound to the connection's channel
// binding (Conn.ChannelBinding) as an AuthSession should build them.
type scramPlusBackend struct{ clientBackend }

func (b *scramPlusBackend) NewSession(c *Conn) (Session, error) {
	return &scramPlusSession{&clientSession{b: &b.clientBackend, conn: c}}, nil
}

type scramPlusSession struct{ *clientSession }

func (s *scramPlusSession) AuthMechanisms() []string {
	return []string{sasl.ScramSHA256Plus, sasl.ScramSHA1Plus, sasl.ScramSHA256, sasl.ScramSHA1}
}

func (s *scramPlusSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewScramServer(mech, harnessScramLookup(mech), s.conn.ChannelBindings()...), nil
}

// harnessScramLookup is the harness's SCRAM user "user", password "pass".
func harnessScramLookup(mech string) func(string) (sasl.ScramCredentials, error) {
	h := sha256.New
	if strings.HasPrefix(mech, sasl.ScramSHA1) && !strings.HasPrefix(mech, sasl.ScramSHA256) {
		h = sha1.New
	}
	return func(user string) (sasl.ScramCredentials, error) {
		if user != "user" {
			return sasl.ScramCredentials{}, sasl.ErrInvalidCredentials
		}
		return sasl.NewScramCredentials(h, "pass", []byte("salt-of-the-earth"), 4096)
	}
}

// authRecorder records the mechanism and outcome of each AUTH the server
// saw, through Server.Hooks.Auth.
type authRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *authRecorder) hook(c *Conn, mech, user string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	outcome := "ok"
	if err != nil {
		outcome = "refused"
	}
	r.seen = append(r.seen, mech+" "+user+" "+outcome)
}

func (r *authRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// scramPlusServe starts the harness over STARTTLS capped at TLS version v.
func scramPlusServe(t *testing.T, v uint16) (addr string, cli *tls.Config, rec *authRecorder) {
	srvTLS, cliTLS := clientCert(t)
	srvTLS.MaxVersion = v
	rec = &authRecorder{}
	addr = clientServe(t, nil, func(s *Server) {
		s.Backend = &scramPlusBackend{}
		s.TLSConfig = srvTLS
		s.Hooks.Auth = rec.hook
		s.MaxAuthFailures = -1 // the refusals share a connection
	}, nil)
	return addr, cliTLS, rec
}

var tlsVersions = []struct {
	name    string
	version uint16
	cbType  string
}{
	{"TLS1.2", tls.VersionTLS12, sasl.ChannelBindingTLSServerEndPoint},
	{"TLS1.3", tls.VersionTLS13, sasl.ChannelBindingTLSExporter},
}

// Over TLS 1.2 and 1.3 the server offers -PLUS, ScramClient picks
// SCRAM-SHA-256-PLUS with the binding of the version (RFC 5929 section
// 4.1, RFC 9266 section 2), and the server, computing its own, accepts.
func TestClientServerScramPlus(t *testing.T) {
	for _, tv := range tlsVersions {
		t.Run(tv.name, func(t *testing.T) {
			addr, cliTLS, rec := scramPlusServe(t, tv.version)
			ctx := clientCtx(t)
			c, err := DialStartTLS(ctx, addr, &DialOptions{TLSConfig: cliTLS})
			require.NoError(t, err)
			defer c.Close()

			cb, ok := c.ChannelBinding()
			require.True(t, ok)
			assert.Equal(t, tv.cbType, cb.Type)
			if tv.version == tls.VersionTLS12 {
				cs, _ := c.TLSConnectionState()
				sum := sha256.Sum256(cs.PeerCertificates[0].Raw) // ECDSA-SHA256 certificate
				assert.Equal(t, sum[:], cb.Data)
			} else {
				assert.Len(t, cb.Data, 32)
			}

			a, err := c.ScramClient(ctx, "user", "pass", "")
			require.NoError(t, err)
			mech, _, err := a.Start()
			require.NoError(t, err)
			assert.Equal(t, sasl.ScramSHA256Plus, mech)
			a, err = c.ScramClient(ctx, "user", "pass", "")
			require.NoError(t, err)
			require.NoError(t, c.Auth(ctx, a))
			require.NoError(t, c.Quit(ctx))
			assert.Equal(t, []string{"SCRAM-SHA-256-PLUS user ok"}, rec.all())
		})
	}
}

// Without TLS (AUTH allowed in clear) the -PLUS variants are not offered
// nor accepted, and ScramClient falls back to SCRAM-SHA-256 with the flag
// "n": the client has no binding either.
func TestClientServerScramPlusNotInClear(t *testing.T) {
	rec := &authRecorder{}
	addr := clientServe(t, nil, func(s *Server) {
		s.Backend = &scramPlusBackend{}
		s.AllowInsecureAuth = true
		s.Hooks.Auth = rec.hook
	}, nil)
	ctx := clientCtx(t)
	c, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello(ctx, ""))
	assert.Equal(t, []string{sasl.ScramSHA256, sasl.ScramSHA1}, c.Extensions().AuthMechanisms())

	_, ok := c.ChannelBinding()
	assert.False(t, ok)
	a, err := c.ScramClient(ctx, "user", "pass", "")
	require.NoError(t, err)
	require.NoError(t, c.Auth(ctx, a))
	require.NoError(t, c.Quit(ctx))
	assert.Equal(t, []string{"SCRAM-SHA-256 user ok"}, rec.all())

	c, err = Dial(ctx, addr, nil)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Hello(ctx, ""))
	r, err := c.cmd(ctx, 0, DefaultCommandTimeout, "AUTH ", "SCRAM-SHA-256-PLUS")
	require.NoError(t, err)
	assert.Equal(t, 504, r.Code, "a -PLUS mechanism is not accepted where it is not offered")
}

// RFC 5802 section 6: over TLS, where the server offers -PLUS, a client
// that sends the plain mechanism with the flag "y" (it could bind, and was
// led to believe the server cannot) is refused 535; so is a -PLUS client
// whose binding differs from the server's (a man in the middle
// terminating TLS), for both bindings.
func TestClientServerScramPlusRefusals(t *testing.T) {
	for _, tv := range tlsVersions {
		t.Run(tv.name, func(t *testing.T) {
			addr, cliTLS, rec := scramPlusServe(t, tv.version)
			ctx := clientCtx(t)
			c, err := DialStartTLS(ctx, addr, &DialOptions{TLSConfig: cliTLS})
			require.NoError(t, err)
			defer c.Close()
			cb, ok := c.ChannelBinding()
			require.True(t, ok)

			err = c.Auth(ctx, sasl.NewScramClient(sasl.ScramSHA256, "user", "pass", "", cb))
			var se *Error
			require.True(t, errors.As(err, &se), "%v", err)
			assert.Equal(t, 535, se.Code, "downgrade refused")

			wrong := sasl.ChannelBinding{Type: cb.Type, Data: append([]byte{cb.Data[0] ^ 1}, cb.Data[1:]...)}
			err = c.Auth(ctx, sasl.NewScramSHA256PlusClient("user", "pass", "", wrong))
			require.True(t, errors.As(err, &se), "%v", err)
			assert.Equal(t, 535, se.Code, "wrong binding refused")

			other := sasl.ChannelBinding{Type: "tls-made-up", Data: cb.Data}
			err = c.Auth(ctx, sasl.NewScramSHA1PlusClient("user", "pass", "", other))
			require.True(t, errors.As(err, &se), "%v", err)
			assert.Equal(t, 535, se.Code, "binding type the server lacks refused")

			require.NoError(t, c.Auth(ctx, sasl.NewScramSHA1PlusClient("user", "pass", "", cb)), "the right binding still works")
			assert.Equal(t, []string{
				"SCRAM-SHA-256 user refused", "SCRAM-SHA-256-PLUS user refused",
				"SCRAM-SHA-1-PLUS user refused", "SCRAM-SHA-1-PLUS user ok",
			}, rec.all())
		})
	}
}

// Over TLS 1.2 the server also accepts tls-unique (RFC 5929 section 3),
// the binding RFC 5802 makes the default and GNU SASL's client sends; the
// wrong tls-unique data is refused. Over TLS 1.3 tls-unique does not exist
// and is refused as a type the server lacks.
func TestClientServerScramPlusTLSUnique(t *testing.T) {
	for _, tv := range tlsVersions {
		t.Run(tv.name, func(t *testing.T) {
			addr, cliTLS, rec := scramPlusServe(t, tv.version)
			ctx := clientCtx(t)
			c, err := DialStartTLS(ctx, addr, &DialOptions{TLSConfig: cliTLS})
			require.NoError(t, err)
			defer c.Close()
			cs, _ := c.TLSConnectionState()
			unique := sasl.ChannelBinding{Type: sasl.ChannelBindingTLSUnique, Data: cs.TLSUnique}
			if tv.version == tls.VersionTLS13 {
				unique.Data = []byte("no such thing in TLS 1.3")
				require.Error(t, c.Auth(ctx, sasl.NewScramSHA256PlusClient("user", "pass", "", unique)))
				assert.Equal(t, []string{"SCRAM-SHA-256-PLUS user refused"}, rec.all())
				return
			}
			require.NotEmpty(t, cs.TLSUnique)
			wrong := sasl.ChannelBinding{Type: unique.Type, Data: append([]byte{unique.Data[0] ^ 1}, unique.Data[1:]...)}
			require.Error(t, c.Auth(ctx, sasl.NewScramSHA256PlusClient("user", "pass", "", wrong)))
			require.NoError(t, c.Auth(ctx, sasl.NewScramSHA256PlusClient("user", "pass", "", unique)))
			assert.Equal(t, []string{"SCRAM-SHA-256-PLUS user refused", "SCRAM-SHA-256-PLUS user ok"}, rec.all())
		})
	}
}
