package sasl

// Channel binding types (RFC 5056) the SCRAM -PLUS mechanisms carry: SMTP
// runs over TLS, whose bindings are tls-exporter (RFC 9266, for TLS 1.3),
// tls-server-end-point (RFC 5929 section 4) and tls-unique (RFC 5929
// section 3, RFC 5802's default, defined up to TLS 1.2 only).
const (
	ChannelBindingTLSExporter       = "tls-exporter"
	ChannelBindingTLSServerEndPoint = "tls-server-end-point"
	ChannelBindingTLSUnique         = "tls-unique"
)

// ChannelBinding is the channel binding of the secure layer under an
// exchange (RFC 5056 section 2.1): its Type, such as
// ChannelBindingTLSExporter, and its Data, the octets both ends compute
// from the layer. The sasl package does not know TLS: the caller computes
// Data (smtp.TLSChannelBinding does it from a tls.ConnectionState). The
// zero ChannelBinding means that there is none.
//
// In SCRAM (RFC 5802 section 6) it decides the gs2 channel binding flag: a
// -PLUS client sends "p=Type" and Data in its final message; a client of
// the plain mechanism that has a binding sends "y" (it could bind but
// believes the server cannot); a client without one sends "n". A server
// given a binding advertises -PLUS, so it refuses "y" as a downgrade.
type ChannelBinding struct {
	Type string
	Data []byte
}

// IsZero tells whether b carries no binding: there is no secure layer to
// bind to (RFC 5802 section 6: the client then sends the gs2 flag "n").
func (b ChannelBinding) IsZero() bool { return b.Type == "" }

// validChannelBindingType checks cb-name = 1*(ALPHA / DIGIT / "." / "-")
// (RFC 5802 section 7).
func validChannelBindingType(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !('0' <= c && c <= '9') && c != '.' && c != '-' {
			return false
		}
	}
	return true
}
