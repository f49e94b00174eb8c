package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSelfSignedCertificate(t *testing.T) {
	now := time.Now()
	cert, err := selfSigned("mx.test.example", now)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	require.NoError(t, err)
	key, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	require.True(t, ok, "an ECDSA key")
	assert.Equal(t, elliptic.P256(), key.Curve)
	assert.ElementsMatch(t, []string{"localhost", "mx.test.example"}, leaf.DNSNames)
	require.Len(t, leaf.IPAddresses, 2)
	assert.True(t, leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)))
	assert.True(t, leaf.IPAddresses[1].Equal(net.IPv6loopback))
	assert.True(t, leaf.NotBefore.Before(now) && leaf.NotAfter.After(now.Add(time.Hour)))
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, leaf.ExtKeyUsage)

	// A client that trusts the certificate can verify it for each name.
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "mx.test.example"} {
		assert.NoError(t, handshake(cert, &tls.Config{RootCAs: pool, ServerName: name}), name)
	}
	assert.Error(t, handshake(cert, &tls.Config{RootCAs: pool, ServerName: "example.org"}))
	assert.Error(t, handshake(cert, &tls.Config{ServerName: "localhost"}), "not trusted by the system")

	other, err := selfSigned("localhost", now)
	require.NoError(t, err)
	assert.NotEqual(t, leaf.SerialNumber, other.Leaf.SerialNumber)
	assert.Equal(t, []string{"localhost"}, other.Leaf.DNSNames)
}

// handshake runs a TLS handshake over an in-memory pipe between a server
// with cert and a client with client.
func handshake(cert tls.Certificate, client *tls.Config) error {
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	srv := tls.Server(s, &tls.Config{Certificates: []tls.Certificate{cert}})
	go func() {
		srv.Handshake()
		s.Close()
	}()
	return tls.Client(c, client).Handshake()
}

// writeKeyPair writes cert as PEM files and returns their paths.
func writeKeyPair(t *testing.T, cert tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600))
	return certFile, keyFile
}

func TestTLSConfigFromFlags(t *testing.T) {
	cert, err := selfSigned("localhost", time.Now())
	require.NoError(t, err)
	certFile, keyFile := writeKeyPair(t, cert)

	conf, fp, err := tlsConfig(&config{})
	require.NoError(t, err)
	assert.Nil(t, conf, "no TLS without a certificate")
	assert.Empty(t, fp)

	conf, fp, err = tlsConfig(&config{tlsCert: certFile, tlsKey: keyFile})
	require.NoError(t, err)
	require.Len(t, conf.Certificates, 1)
	assert.Equal(t, cert.Certificate[0], conf.Certificates[0].Certificate[0])
	assert.Empty(t, fp)

	conf, fp, err = tlsConfig(&config{tlsSelfSigned: true, implicitTLS: true, hostname: "localhost"})
	require.NoError(t, err)
	require.Len(t, conf.Certificates, 1)
	assert.Len(t, fp, 64, "a hex SHA-256 fingerprint to log")

	for name, bad := range map[string]config{
		"self-signed and files": {tlsSelfSigned: true, tlsCert: certFile, tlsKey: keyFile},
		"cert without key":      {tlsCert: certFile},
		"key without cert":      {tlsKey: keyFile},
		"implicit without cert": {implicitTLS: true},
		"missing files":         {tlsCert: certFile + ".none", tlsKey: keyFile},
	} {
		_, _, err := tlsConfig(&bad)
		assert.Error(t, err, name)
	}
}
