package sasl

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strings"
)

type scramServer struct {
	outcome
	h      func() hash.Hash
	lookup func(username string) (ScramCredentials, error)
	cbs    []ChannelBinding // the layer's bindings: -PLUS is on offer when any
	cb     ChannelBinding   // the one the client chose with "p="

	nonce           string // the server's part of the nonce; fixed by tests, else random
	step            int    // 0 client-first awaited, 1 client-final awaited, 2 final empty response awaited
	asked           bool
	flag            string // the client's gs2-cbind-flag
	gs2Header       string
	clientFirstBare string
	serverFirst     string
	combinedNonce   string
	creds           ScramCredentials
	unknownUser     error // the lookup's error for a user that does not exist
	id              Identity
}

// madeUpSaltKey keys the salts made up for unknown users: random per
// process, so a made-up salt is stable for a name, like a real one, and
// cannot be told from one.
var madeUpSaltKey = func() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}()

// madeUpCredentials are credentials no proof matches, for an unknown user.
func (s *scramServer) madeUpCredentials(username string) ScramCredentials {
	size := s.h().Size()
	keys := make([]byte, 2*size)
	rand.Read(keys)
	return ScramCredentials{
		Salt:       scramHMAC(sha256.New, madeUpSaltKey, s.mech+"\x00"+username)[:16],
		Iterations: 4096,
		StoredKey:  keys[:size],
		ServerKey:  keys[size:],
	}
}

// NewScramSHA1Server returns a SCRAM-SHA-1 server (RFC 5802) that verifies
// the client against stored keys. lookup returns the ScramCredentials of a
// user name (prepared with PrepareUsername: see there), or an error
// wrapping ErrInvalidCredentials for an unknown user, in which case the
// server goes on with made-up credentials and fails with that error at the
// proof, as for a wrong password, so as not to tell which users exist;
// other errors are returned as they are. The proof is verified in constant time. After the
// proof it sends "v=ServerSignature" as a challenge and is done on the
// client's empty response. Identity reports the user name and the
// authzid.
func NewScramSHA1Server(lookup func(username string) (ScramCredentials, error)) Server {
	return newScramServer(ScramSHA1, lookup)
}

// NewScramSHA256Server returns a SCRAM-SHA-256 server (RFC 7677), as
// NewScramSHA1Server does for SHA-1.
func NewScramSHA256Server(lookup func(username string) (ScramCredentials, error)) Server {
	return newScramServer(ScramSHA256, lookup)
}

// NewScramSHA1PlusServer returns a SCRAM-SHA-1-PLUS server (RFC 5802
// section 6), a SCRAM-SHA-1 server that also checks that the client is
// bound to the TLS connection the exchange runs over. cbs are the channel
// bindings of that connection the server accepts (over TLS 1.2 both
// tls-server-end-point and tls-unique, RFC 5802's default, as clients
// differ): the client must send "p=" and one of their types (another
// fails with ErrInvalidCredentials, as RFC 5802 section 7's
// unsupported-channel-binding-type) and that binding's data in its final
// message (other data fails with ErrInvalidCredentials,
// channel-bindings-dont-match). Without a binding it refuses every
// exchange.
func NewScramSHA1PlusServer(lookup func(username string) (ScramCredentials, error), cbs ...ChannelBinding) Server {
	return NewScramServer(ScramSHA1Plus, lookup, cbs...)
}

// NewScramSHA256PlusServer returns a SCRAM-SHA-256-PLUS server (RFC 7677
// section 3), as NewScramSHA1PlusServer does for SHA-1.
func NewScramSHA256PlusServer(lookup func(username string) (ScramCredentials, error), cbs ...ChannelBinding) Server {
	return NewScramServer(ScramSHA256Plus, lookup, cbs...)
}

// NewScramServer returns a server of mech, one of ScramSHA1, ScramSHA256,
// ScramSHA1Plus and ScramSHA256Plus, for an exchange over a layer whose
// channel bindings are cbs (none, or only zero ones, when there is no
// binding), looking users up as NewScramSHA1Server does. A binding says
// that -PLUS is on offer, so that a server of the plain mechanism refuses
// the gs2 flag "y" with ErrInvalidCredentials: the client could bind and
// believes the server cannot, the mark of a downgrade by someone who
// removed -PLUS from the offer (RFC 5802 section 6,
// server-does-support-channel-binding). A server given bindings should
// therefore be one whose -PLUS variants are advertised. Any other
// mechanism name fails the exchange with ErrMalformed.
func NewScramServer(mech string, lookup func(username string) (ScramCredentials, error), cbs ...ChannelBinding) Server {
	s := newScramServer(mech, lookup)
	for _, cb := range cbs {
		if !cb.IsZero() {
			s.cbs = append(s.cbs, cb)
		}
	}
	return s
}

func newScramServer(mech string, lookup func(string) (ScramCredentials, error)) *scramServer {
	return &scramServer{outcome: outcome{mech: mech}, h: scramHash(mech), lookup: lookup}
}

func (s *scramServer) Next(response []byte) ([]byte, bool, error) {
	if err := s.finished(); err != nil {
		return nil, false, err
	}
	switch s.step {
	case 0:
		if response == nil && !s.asked {
			s.asked = true
			return []byte{}, false, nil
		}
		challenge, err := s.serverFirstMessage(string(response))
		if err != nil {
			return s.fail(err)
		}
		s.step = 1
		return challenge, false, nil
	case 1:
		challenge, err := s.serverFinalMessage(string(response))
		if err != nil {
			return s.fail(err)
		}
		s.step = 2
		return challenge, false, nil
	}
	if len(response) != 0 {
		return s.fail(malformed(s.mech, "non-empty response after the server signature"))
	}
	return s.succeed(s.id)
}

// serverFirstMessage parses client-first-message = gs2-header
// client-first-message-bare (RFC 5802 section 7), looks the user up and
// answers with the salt, the iteration count and the combined nonce.
func (s *scramServer) serverFirstMessage(msg string) ([]byte, error) {
	bare, err := s.readGS2Header(msg)
	if err != nil {
		return nil, err
	}

	username, cnonce, err := s.readClientFirstBare(bare)
	if err != nil {
		return nil, err
	}
	s.attempt(username)
	username, err = PrepareUsername(username)
	if err != nil {
		return nil, err
	}
	s.attempt(username)
	s.id.Authentication = username

	if err := s.checkGS2Flag(); err != nil {
		return nil, err
	}

	if err := s.lookupCredentials(username); err != nil {
		return nil, err
	}

	if s.nonce == "" {
		s.nonce = newScramNonce()
	}
	s.combinedNonce = cnonce + s.nonce
	s.serverFirst = "r=" + s.combinedNonce + ",s=" + base64.StdEncoding.EncodeToString(s.creds.Salt) +
		",i=" + itoa(s.creds.Iterations)
	return []byte(s.serverFirst), nil
}

// readGS2Header parses gs2-header = gs2-cbind-flag "," [ authzid ] ","
// (RFC 5802 section 7), keeps the header for
// the client's final message and the authzid, and returns
// client-first-message-bare.
func (s *scramServer) readGS2Header(msg string) (string, error) {
	rest, err := s.readGS2Flag(msg)
	if err != nil {
		return "", err
	}

	if strings.HasPrefix(rest, "a=") {
		end := strings.IndexByte(rest, ',')
		if end < 0 {
			return "", malformed(s.mech, "bad gs2 header")
		}
		authzid, ok := decodeSaslname(rest[2:end])
		if !ok {
			return "", malformed(s.mech, "bad authorization identity")
		}
		s.id.Authorization = authzid
		rest = rest[end:]
	}

	if !strings.HasPrefix(rest, ",") {
		return "", malformed(s.mech, "bad gs2 header")
	}
	bare := rest[1:]
	s.gs2Header = msg[:len(msg)-len(bare)]
	s.clientFirstBare = bare
	return bare, nil
}

// readGS2Flag checks the syntax of gs2-cbind-flag = ("p=" cb-name) / "n"
// / "y" and its comma (RFC 5802 section 7), keeps the flag for
// checkGS2Flag and returns what follows.
func (s *scramServer) readGS2Flag(msg string) (string, error) {
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok || flag != "n" && flag != "y" && (!strings.HasPrefix(flag, "p=") || !validChannelBindingType(flag[2:])) {
		return "", malformed(s.mech, "bad gs2 header")
	}
	s.flag = flag
	return rest, nil
}

// checkGS2Flag checks the flag against the mechanism and the binding on
// offer (RFC 5802 section 6), once the user name is known for
// Attempted.
func (s *scramServer) checkGS2Flag() error {
	switch flag := s.flag; {
	case !isScram(s.mech):
		return malformed(s.mech, "not a SCRAM mechanism")
	case flag == "n" || flag == "y":
		if isScramPlus(s.mech) {
			return malformed(s.mech, "a -PLUS mechanism needs the channel binding flag p")
		}
		if flag == "y" && len(s.cbs) > 0 {
			return invalid(s.mech, "client believes channel binding is not offered: downgrade refused")
		}
		return nil
	case !isScramPlus(s.mech):
		return malformed(s.mech, "channel binding requires the -PLUS mechanism")
	}
	for _, cb := range s.cbs {
		if cb.Type == s.flag[2:] {
			s.cb = cb
			return nil
		}
	}
	return invalid(s.mech, "unsupported channel binding type")
}

// readClientFirstBare parses client-first-message-bare = [reserved-mext ","]
// username "," nonce ["," extensions] (RFC 5802 section 7), mandatory
// extensions not supported, and returns the decoded user name, not yet
// prepared, and the client's nonce.
func (s *scramServer) readClientFirstBare(bare string) (username, cnonce string, err error) {
	if strings.HasPrefix(bare, "m=") {
		return "", "", malformed(s.mech, "mandatory extension not supported")
	}
	name, rest, ok := nextAttr(bare, 'n')
	if !ok {
		return "", "", malformed(s.mech, "user name missing")
	}
	username, ok = decodeSaslname(name)
	if !ok {
		return "", "", malformed(s.mech, "bad user name")
	}
	cnonce, rest, ok = nextAttr(rest, 'r')
	if !ok || !validScramNonce(cnonce) {
		return "", "", malformed(s.mech, "client nonce missing or not printable")
	}
	if rest != "" && !validExtensions(rest) || rest == "" && strings.HasSuffix(bare, ",") {
		return "", "", malformed(s.mech, "bad extension in client-first-message")
	}
	return username, cnonce, nil
}

// lookupCredentials sets s.creds to the stored credentials of username, or
// to made-up ones for an unknown user, and checks that they suit the
// mechanism's hash.
func (s *scramServer) lookupCredentials(username string) error {
	creds, err := s.lookup(username)
	if err != nil && !isCredentialsError(err) {
		return err
	}
	if err != nil {
		// An unknown user: go on with made-up credentials, so that the
		// exchange fails at the proof as a wrong password does and does
		// not tell which users exist.
		s.unknownUser = err
		creds = s.madeUpCredentials(username)
	}

	size := s.h().Size()
	if creds.Iterations < 1 || len(creds.Salt) == 0 || len(creds.StoredKey) != size || len(creds.ServerKey) != size {
		return &mechError{mech: s.mech, reason: "stored credentials are not usable for this mechanism"}
	}
	s.creds = creds
	return nil
}

// channelBindingInput is the cbind-input the client must send (RFC 5802
// section 7): the gs2 header, then the binding data with -PLUS.
func (s *scramServer) channelBindingInput() []byte {
	input := []byte(s.gs2Header)
	if isScramPlus(s.mech) {
		input = append(input, s.cb.Data...)
	}
	return input
}

// serverFinalMessage parses client-final-message = channel-binding ","
// nonce ["," extensions] "," proof (RFC 5802 section 7), verifies the proof
// and answers with the server signature.
func (s *scramServer) serverFinalMessage(msg string) ([]byte, error) {
	cb, rest, ok := nextAttr(msg, 'c')
	if !ok || cb != base64.StdEncoding.EncodeToString(s.channelBindingInput()) {
		if isScramPlus(s.mech) {
			return nil, invalid(s.mech, "channel binding does not match")
		}
		return nil, malformed(s.mech, "channel binding data does not match the gs2 header")
	}
	nonce, rest, ok := nextAttr(rest, 'r')
	if !ok || nonce != s.combinedNonce {
		return nil, malformed(s.mech, "nonce does not match")
	}
	// rest is [extensions ","] proof; the proof is the last attribute.
	start := len(msg) - len(rest) // where rest begins in msg
	cut := strings.LastIndex(msg, ",p=")
	if cut < start-1 {
		return nil, malformed(s.mech, "proof missing")
	}
	if cut >= start && !validExtensions(msg[start:cut]) {
		return nil, malformed(s.mech, "bad extension in client-final-message")
	}
	proof, err := base64.StdEncoding.Strict().DecodeString(msg[cut+3:])
	if err != nil || len(proof) != len(s.creds.StoredKey) {
		return nil, malformed(s.mech, "proof is not base64 of the hash size")
	}
	withoutProof := msg[:cut]
	authMessage := s.clientFirstBare + "," + s.serverFirst + "," + withoutProof
	clientSignature := scramHMAC(s.h, s.creds.StoredKey, authMessage)
	clientKey := xorBytes(proof, clientSignature)
	if !hmac.Equal(hashOf(s.h, clientKey), s.creds.StoredKey) || s.unknownUser != nil {
		if s.unknownUser != nil {
			return nil, s.unknownUser
		}
		return nil, invalid(s.mech, "client proof does not match")
	}
	signature := scramHMAC(s.h, s.creds.ServerKey, authMessage)
	return []byte("v=" + base64.StdEncoding.EncodeToString(signature)), nil
}
