package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"net"
	"time"
)

// tlsConfig returns the TLS settings the flags ask for: the certificate of
// -tls-cert/-tls-key, or an ephemeral self-signed one. There is no
// submission without TLS: AUTH sends passwords (RFC 8314 section 3).
// The second result is the self-signed certificate's SHA-256 fingerprint,
// to log so that a client can pin it.
func tlsConfig(cfg *config) (*tls.Config, string, error) {
	var cert tls.Certificate
	var fingerprint string
	var err error
	switch {
	case cfg.tlsSelfSigned && (cfg.tlsCert != "" || cfg.tlsKey != ""):
		return nil, "", errors.New("-tls-self-signed and -tls-cert/-tls-key exclude each other")
	case cfg.tlsSelfSigned:
		cert, err = selfSigned(cfg.hostname, time.Now())
		if err == nil {
			sum := sha256.Sum256(cert.Certificate[0])
			fingerprint = hex.EncodeToString(sum[:])
		}
	case cfg.tlsCert != "" || cfg.tlsKey != "":
		if cfg.tlsCert == "" || cfg.tlsKey == "" {
			return nil, "", errors.New("-tls-cert and -tls-key go together")
		}
		cert, err = tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey)
	default:
		return nil, "", errors.New("submission needs TLS: give -tls-cert/-tls-key or -tls-self-signed")
	}
	if err != nil {
		return nil, "", err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, fingerprint, nil
}

// selfSigned makes an ECDSA P-256 certificate, valid for a day from now,
// for localhost, 127.0.0.1, ::1 and hostname: enough to try STARTTLS and
// implicit TLS with a client told to trust it (or not to verify).
func selfSigned(hostname string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, err
	}
	names := []string{"localhost"}
	if hostname != "" && hostname != "localhost" && net.ParseIP(hostname) == nil {
		names = append(names, hostname)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Postwire example relay (self-signed)"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		// Its own issuer, so marked as one: OpenSSL (swaks, Python) only
		// takes a self-signed certificate as a trust anchor when its key
		// usage allows signing certificates.
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
