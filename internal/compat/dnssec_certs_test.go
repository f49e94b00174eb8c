package compat

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// daneCerts is the PKI of the DNSSEC chain: a test CA and one leaf
// certificate it issued, valid for every MX host name of the chain (and the
// MTA-STS policy host), that the MX hosts present with the CA after it.
type daneCerts struct {
	CAFile    string          // the CA certificate, PEM
	ChainFile string          // the leaf certificate then the CA's, PEM
	KeyFile   string          // the leaf's private key, PEM (PKCS #8)
	Cert      tls.Certificate // the leaf with its chain, for a Go server
	CAPool    *x509.CertPool  // the CA alone, for a client that uses PKIX

	leaf *x509.Certificate
	ca   *x509.Certificate
	// otherSPKI is the SubjectPublicKeyInfo of a key no certificate
	// carries: the TLSA record that must not match is made from it.
	otherSPKI []byte
}

// spkiSHA256 is the TLSA association data of selector 1 (SPKI), matching
// type 1 (SHA-256) for the leaf: RFC 6698 section 2.1, RFC 7672 section
// 3.1.1 ("3 1 1").
func (c *daneCerts) spkiSHA256() string { return sha256Hex(c.leaf.RawSubjectPublicKeyInfo) }

// caCertSHA256 is the association data of selector 0 (the whole
// certificate), matching type 1, for the CA: a "2 0 1" record, RFC 7672
// section 3.1.2.
func (c *daneCerts) caCertSHA256() string { return sha256Hex(c.ca.Raw) }

// otherSPKISHA256 is "3 1 1" data that matches no certificate of the chain.
func (c *daneCerts) otherSPKISHA256() string { return sha256Hex(c.otherSPKI) }

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// newDANECerts makes the CA and a leaf for names in dir (which must exist),
// all with ECDSA P-256 keys, valid from an hour ago for a week.
func newDANECerts(dir string, names []string) (*daneCerts, error) {
	caKey, caCert, err := newCA()
	if err != nil {
		return nil, err
	}

	leafKey, leafCert, err := newLeaf(caKey, caCert, names)
	if err != nil {
		return nil, err
	}

	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	otherSPKI, err := x509.MarshalPKIXPublicKey(&other.PublicKey)
	if err != nil {
		return nil, err
	}

	return writeDANECerts(dir, caCert, leafCert, leafKey, otherSPKI)
}

// newCA makes the self-signed test CA.
func newCA() (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Postwire DANE test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}

// newLeaf makes a server certificate for names (the first is its subject)
// issued by the CA.
func newLeaf(caKey *ecdsa.PrivateKey, ca *x509.Certificate, names []string) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}

// writeDANECerts writes the PEM files and loads them back as a
// tls.Certificate, as a server would.
func writeDANECerts(dir string, ca, leaf *x509.Certificate, key *ecdsa.PrivateKey, otherSPKI []byte) (*daneCerts, error) {
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	chainPEM := append(leafPEM, caPEM...)

	c := &daneCerts{
		CAFile:    filepath.Join(dir, "ca.pem"),
		ChainFile: filepath.Join(dir, "chain.pem"),
		KeyFile:   filepath.Join(dir, "key.pem"),
		CAPool:    x509.NewCertPool(),
		leaf:      leaf,
		ca:        ca,
		otherSPKI: otherSPKI,
	}
	for file, data := range map[string][]byte{c.CAFile: caPEM, c.ChainFile: chainPEM} {
		if err := os.WriteFile(file, data, 0o644); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(c.KeyFile, keyPEM, 0o600); err != nil {
		return nil, err
	}
	c.CAPool.AddCert(ca)
	c.Cert, err = tls.X509KeyPair(chainPEM, keyPEM)
	return c, err
}
