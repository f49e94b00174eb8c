package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677), with their -PLUS
// variants that bind the exchange to the TLS layer under it (RFC 5802
// section 6; see ChannelBinding for the gs2 flag each side uses). The
// exchange is
//
//	C: gs2-flag,[a=authzid],n=user,r=cnonce[,ext]         (initial response)
//	S: r=cnonce+snonce,s=salt,i=iterations[,ext]
//	C: c=base64(gs2 header [+ binding data]),r=cnonce+snonce[,ext],p=proof
//	S: v=server signature
//	C: (empty)
//
// The server's final "v=" is sent as a challenge answered by an empty
// response, since SMTP AUTH (RFC 4954 section 4) cannot carry data with
// its success reply.

// ScramCredentials is what a SCRAM server stores for a user instead of the
// password (RFC 5802 section 3): the salt, the iteration count,
// StoredKey = H(HMAC(SaltedPassword, "Client Key")) and
// ServerKey = HMAC(SaltedPassword, "Server Key").
type ScramCredentials struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// scramMaxIterations bounds the iteration count a client accepts, so that
// a hostile server cannot make it spin for minutes.
const scramMaxIterations = 10_000_000

// scramNonceBytes is the entropy of a nonce (RFC 5802 section 5.1 asks for
// a random, unique value; 18 bytes encode as 24 base64 characters).
const scramNonceBytes = 18

// NewScramCredentials derives the stored keys of a password for the hash
// h (sha1.New for SCRAM-SHA-1, sha256.New for SCRAM-SHA-256): the password
// is prepared with PreparePassword (PRECIS OpaqueString, RFC 8265 section
// 4.2) and salted with PBKDF2 (RFC 8018) as RFC 5802 section 3 defines
// Hi(). A nil salt is replaced by 16 random bytes; iterations must be at
// least 1 (RFC 7677 section 4 recommends 4096 or more).
func NewScramCredentials(h func() hash.Hash, password string, salt []byte, iterations int) (ScramCredentials, error) {
	if iterations < 1 || iterations > scramMaxIterations {
		return ScramCredentials{}, malformed("SCRAM", "iteration count out of range")
	}
	if salt == nil {
		salt = make([]byte, 16)
		rand.Read(salt)
	}
	prepared, err := PreparePassword(password)
	if err != nil {
		return ScramCredentials{}, err
	}
	salted, err := pbkdf2.Key(h, prepared, salt, iterations, h().Size())
	if err != nil {
		return ScramCredentials{}, malformed("SCRAM", "cannot derive the salted password")
	}
	return ScramCredentials{
		Salt:       salt,
		Iterations: iterations,
		StoredKey:  hashOf(h, scramHMAC(h, salted, "Client Key")),
		ServerKey:  scramHMAC(h, salted, "Server Key"),
	}, nil
}

func scramHMAC(h func() hash.Hash, key []byte, msg string) []byte {
	mac := hmac.New(h, key)
	mac.Write([]byte(msg))
	return mac.Sum(nil)
}

func hashOf(h func() hash.Hash, b []byte) []byte {
	d := h()
	d.Write(b)
	return d.Sum(nil)
}

func xorBytes(a, b []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] ^ b[i]
	}
	return out
}

func newScramNonce() string {
	var b [scramNonceBytes]byte
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// encodeSaslname escapes "=" and "," as "=3D" and "=2C" (RFC 5802 section
// 5.1).
func encodeSaslname(s string) string {
	if !strings.ContainsAny(s, "=,") {
		return s
	}
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// decodeSaslname reverses encodeSaslname; any other "=" sequence, a NUL,
// bad UTF-8 or an empty name is refused.
func decodeSaslname(s string) (string, bool) {
	if s == "" || !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return "", false
	}
	if strings.IndexByte(s, '=') < 0 {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}

// validScramNonce checks printable = %x21-2B / %x2D-7E (RFC 5802 section 7).
func validScramNonce(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return true
}

// nextAttr cuts the attribute "k=value" with the letter k off the front of
// msg, returning its value and the rest after the separating comma.
func nextAttr(msg string, k byte) (value, rest string, ok bool) {
	if len(msg) < 2 || msg[0] != k || msg[1] != '=' {
		return "", "", false
	}
	msg = msg[2:]
	if i := strings.IndexByte(msg, ','); i >= 0 {
		return msg[:i], msg[i+1:], true
	}
	return msg, "", true
}

// validExtensions checks that msg is a list of attr-val pairs (ALPHA "="
// value), the optional extensions RFC 5802 section 7 lets a message end
// with, which are ignored once well-formed; "m=" is never among them.
func validExtensions(msg string) bool {
	for _, attr := range strings.Split(msg, ",") {
		if len(attr) < 2 || attr[1] != '=' || !isAlpha(attr[0]) || attr[0] == 'm' {
			return false
		}
	}
	return true
}

func isAlpha(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }

func scramHash(mech string) func() hash.Hash {
	if mech == ScramSHA1 || mech == ScramSHA1Plus {
		return sha1.New
	}
	return sha256.New
}

// isScramPlus tells whether mech is a -PLUS variant.
func isScramPlus(mech string) bool { return mech == ScramSHA1Plus || mech == ScramSHA256Plus }

// isScram tells whether mech is one of the four SCRAM mechanisms.
func isScram(mech string) bool {
	return mech == ScramSHA1 || mech == ScramSHA256 || isScramPlus(mech)
}

func itoa(n int) string { return strconv.Itoa(n) }
