package smtp

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"github.com/postwire/postwire/internal/ascii"
	"github.com/postwire/postwire/sasl"
)

// tlsExporterLabel and tlsExporterLength are what RFC 9266 section 2
// exports for the tls-exporter channel binding.
const (
	tlsExporterLabel  = "EXPORTER-Channel-Binding"
	tlsExporterLength = 32
)

// errNoChannelBinding is returned when a TLS connection gives no binding.
var errNoChannelBinding = errors.New("smtp: no channel binding for this TLS connection")

// TLSChannelBinding returns the channel binding of a TLS connection for the
// SCRAM -PLUS mechanisms (RFC 5802 section 6): tls-exporter (RFC 9266
// section 2, 32 octets exported with the label "EXPORTER-Channel-Binding"
// and no context) over TLS 1.3, and tls-server-end-point (RFC 5929 section
// 4.1, the hash of the server's certificate) over TLS 1.2, where
// tls-exporter is only safe with the extended master secret (as RFC 9266
// warns) and tls-server-end-point needs no such care. serverLeaf is the server's
// certificate: a client passes nil, the leaf being cs.PeerCertificates[0];
// a server passes its own, which its ConnectionState does not hold. Older
// TLS versions have no binding.
func TLSChannelBinding(cs tls.ConnectionState, serverLeaf *x509.Certificate) (sasl.ChannelBinding, error) {
	switch {
	case !cs.HandshakeComplete:
		return sasl.ChannelBinding{}, errNoChannelBinding
	case cs.Version >= tls.VersionTLS13:
		data, err := cs.ExportKeyingMaterial(tlsExporterLabel, nil, tlsExporterLength)
		if err != nil {
			return sasl.ChannelBinding{}, fmt.Errorf("smtp: tls-exporter channel binding: %w", err)
		}
		return sasl.ChannelBinding{Type: sasl.ChannelBindingTLSExporter, Data: data}, nil
	case cs.Version != tls.VersionTLS12:
		return sasl.ChannelBinding{}, errNoChannelBinding
	}

	if serverLeaf == nil && len(cs.PeerCertificates) > 0 {
		serverLeaf = cs.PeerCertificates[0]
	}
	if serverLeaf == nil {
		return sasl.ChannelBinding{}, errNoChannelBinding
	}
	return sasl.ChannelBinding{Type: sasl.ChannelBindingTLSServerEndPoint, Data: serverEndPoint(serverLeaf)}, nil
}

// serverEndPoint hashes the certificate as RFC 5929 section 4.1 says: with
// the hash of its signature algorithm, SHA-256 when that is MD5 or SHA-1.
// Algorithms without a hash of their own (Ed25519) use SHA-256 too, as
// RFC 5929 leaves them undefined and common practice does.
func serverEndPoint(cert *x509.Certificate) []byte {
	h := crypto.SHA256
	switch cert.SignatureAlgorithm {
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		h = crypto.SHA384
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		h = crypto.SHA512
	}
	d := h.New()
	d.Write(cert.Raw)
	return d.Sum(nil)
}

// ChannelBindings returns the channel bindings of the connection's TLS
// layer that a SCRAM -PLUS client may use, for an AuthSession to hand to
// sasl.NewScramServer; none without TLS. Over TLS 1.3 it is tls-exporter
// (RFC 9266). Over TLS 1.2 it is tls-unique (RFC 5929 section 3, the
// binding RFC 5802 section 6 makes the default, which clients such as GNU
// SASL send; Go gives none for a resumed session without the extended
// master secret) and tls-server-end-point (RFC 5929 section 4.1, which
// this package's client sends), whose certificate is Server.TLSConfig's
// only one (with several, or GetCertificate, which cannot be asked outside
// a handshake, it is left out). The -PLUS mechanisms are advertised only
// where it returns a binding.
func (c *Conn) ChannelBindings() []sasl.ChannelBinding {
	cs, ok := c.TLSConnectionState()
	if !ok {
		return nil
	}
	if cs.Version != tls.VersionTLS12 {
		if cb, err := TLSChannelBinding(cs, nil); err == nil {
			return []sasl.ChannelBinding{cb}
		}
		return nil
	}

	var cbs []sasl.ChannelBinding
	if leaf := c.srv.servedLeaf(); leaf != nil {
		if cb, err := TLSChannelBinding(cs, leaf); err == nil {
			cbs = append(cbs, cb)
		}
	}
	if len(cs.TLSUnique) > 0 {
		cbs = append(cbs, sasl.ChannelBinding{Type: sasl.ChannelBindingTLSUnique, Data: cs.TLSUnique})
	}
	return cbs
}

// servedLeaf returns the certificate the server presents, when it has one
// only.
func (s *Server) servedLeaf() *x509.Certificate {
	cfg := s.TLSConfig
	if cfg == nil || cfg.GetCertificate != nil || len(cfg.Certificates) != 1 || len(cfg.Certificates[0].Certificate) == 0 {
		return nil
	}
	cert := &cfg.Certificates[0]
	if cert.Leaf != nil {
		return cert.Leaf
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}

// offerable removes the SCRAM -PLUS mechanisms from mechs when the
// connection has no channel binding to offer them with (RFC 5802 section
// 6): over plaintext, or TLS without a binding.
func (c *Conn) offerable(mechs []string) []string {
	isPlus := func(m string) bool {
		return ascii.EqualFold(m, sasl.ScramSHA1Plus) || ascii.EqualFold(m, sasl.ScramSHA256Plus)
	}
	if !slices.ContainsFunc(mechs, isPlus) {
		return mechs
	}
	if len(c.ChannelBindings()) > 0 {
		return mechs
	}
	return slices.DeleteFunc(slices.Clone(mechs), isPlus)
}

// ChannelBinding returns the channel binding of the client's TLS
// connection (TLSChannelBinding); false before TLS.
func (c *Client) ChannelBinding() (sasl.ChannelBinding, bool) {
	cs, ok := c.TLSConnectionState()
	if !ok {
		return sasl.ChannelBinding{}, false
	}
	cb, err := TLSChannelBinding(cs, nil)
	return cb, err == nil
}

// scramPreference is the order ScramClient chooses SCRAM mechanisms in.
var scramPreference = []string{sasl.ScramSHA256Plus, sasl.ScramSHA1Plus, sasl.ScramSHA256, sasl.ScramSHA1}

// ScramClient returns a SCRAM client for Auth, of the strongest mechanism
// the server advertises (RFC 4954 section 3) that the connection allows:
// SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS (bound to the TLS connection, RFC
// 5802 section 6), SCRAM-SHA-256, SCRAM-SHA-1. Over TLS, a plain SCRAM
// client sends the gs2 flag "y", so that a server that did offer -PLUS
// (the offer having been stripped on the way) refuses it. It says EHLO
// first if it was not said; call it after StartTLS. It fails with
// ErrNotAdvertised when the server offers no SCRAM mechanism.
func (c *Client) ScramClient(ctx context.Context, username, password, authzid string) (sasl.Client, error) {
	if err := c.hello(ctx); err != nil {
		return nil, err
	}
	cb, bound := c.ChannelBinding()
	offered := c.Extensions().AuthMechanisms()
	for _, mech := range scramPreference {
		if isPlus := mech == sasl.ScramSHA256Plus || mech == sasl.ScramSHA1Plus; isPlus && !bound {
			continue
		}
		if slices.ContainsFunc(offered, func(m string) bool { return ascii.EqualFold(m, mech) }) {
			return sasl.NewScramClient(mech, username, password, authzid, cb), nil
		}
	}
	return nil, clientNotAdvertised("AUTH SCRAM")
}
