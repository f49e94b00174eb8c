package delivery

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// TLSAUsage is the certificate usage field of a TLSA record (RFC 6698
// section 2.1.1, RFC 7218 acronyms).
type TLSAUsage uint8

// Certificate usages. RFC 7672 section 3.1.3: PKIX-TA and PKIX-EE are not
// usable for SMTP, so a TLSA RRset with only those has no usable record.
const (
	UsagePKIXTA TLSAUsage = 0
	UsagePKIXEE TLSAUsage = 1
	UsageDANETA TLSAUsage = 2
	UsageDANEEE TLSAUsage = 3
)

// TLSASelector is the selector field of a TLSA record (RFC 6698 section
// 2.1.2): which part of the certificate is matched.
type TLSASelector uint8

// Selectors.
const (
	SelectorCert TLSASelector = 0 // the whole certificate, DER
	SelectorSPKI TLSASelector = 1 // the SubjectPublicKeyInfo, DER
)

// TLSAMatchingType is the matching type field of a TLSA record (RFC 6698
// section 2.1.3): how the selected data is compared.
type TLSAMatchingType uint8

// Matching types.
const (
	MatchFull   TLSAMatchingType = 0 // the selected data itself
	MatchSHA256 TLSAMatchingType = 1
	MatchSHA512 TLSAMatchingType = 2
)

// TLSA is one TLSA record (RFC 6698 section 2.1).
type TLSA struct {
	Usage        TLSAUsage
	Selector     TLSASelector
	MatchingType TLSAMatchingType
	Data         []byte // the certificate association data
}

// String formats t as in a zone file (RFC 6698 section 2.2): "3 1 1 <hex>".
func (t TLSA) String() string {
	return fmt.Sprintf("%d %d %d %x", t.Usage, t.Selector, t.MatchingType, t.Data)
}

// Usable reports whether t can authenticate an SMTP server: usage DANE-TA
// or DANE-EE (RFC 7672 section 3.1.3), a known selector and matching type,
// and data of the digest's length (RFC 7671 section 4: records with
// unknown parameters or malformed data are unusable).
func (t TLSA) Usable() bool {
	if t.Usage != UsageDANETA && t.Usage != UsageDANEEE {
		return false
	}
	if t.Selector != SelectorCert && t.Selector != SelectorSPKI {
		return false
	}
	switch t.MatchingType {
	case MatchFull:
		return len(t.Data) > 0
	case MatchSHA256:
		return len(t.Data) == sha256.Size
	case MatchSHA512:
		return len(t.Data) == sha512.Size
	}
	return false
}

// Matches reports whether t's association data matches cert under t's
// selector and matching type (RFC 6698 section 2.1).
func (t TLSA) Matches(cert *x509.Certificate) bool {
	var selected []byte
	switch t.Selector {
	case SelectorCert:
		selected = cert.Raw
	case SelectorSPKI:
		selected = cert.RawSubjectPublicKeyInfo
	default:
		return false
	}
	switch t.MatchingType {
	case MatchFull:
		return bytes.Equal(selected, t.Data)
	case MatchSHA256:
		sum := sha256.Sum256(selected)
		return bytes.Equal(sum[:], t.Data)
	case MatchSHA512:
		sum := sha512.Sum512(selected)
		return bytes.Equal(sum[:], t.Data)
	}
	return false
}

// usableTLSA returns the usable records of rrset.
func usableTLSA(rrset []TLSA) []TLSA {
	var usable []TLSA
	for _, t := range rrset {
		if t.Usable() {
			usable = append(usable, t)
		}
	}
	return usable
}

// VerifyDANE checks the certificate chain a server presented against the
// usable TLSA records of its host (RFC 7672 section 3.1). It succeeds when
// one record matches:
//
//   - DANE-EE(3): the leaf certificate matches; neither its names nor its
//     validity dates are checked (RFC 7672 section 3.1.1).
//   - DANE-TA(2): a certificate of the chain the server sent matches and,
//     taken as the trust anchor, validates the leaf for one of names (the
//     MX host name and, after CNAME expansion, the TLSA base domain; RFC
//     7672 section 3.2.2), with validity dates checked at now.
//
// The error is a *TLSFailure with the TLS-RPT result type: tlsa-invalid
// when no record matches, certificate-host-mismatch or certificate-expired
// when a trust anchor matched but the leaf failed for that reason.
func VerifyDANE(chain []*x509.Certificate, records []TLSA, names []string, now time.Time) error {
	if len(chain) == 0 {
		return &TLSFailure{Result: ResultValidationFailure, Detail: "no server certificate"}
	}
	leaf := chain[0]
	var taErr error
	for _, t := range records {
		switch {
		case !t.Usable():
			continue
		case t.Usage == UsageDANEEE:
			if t.Matches(leaf) {
				return nil
			}
		case t.Usage == UsageDANETA:
			for _, ta := range chain[1:] {
				if !t.Matches(ta) {
					continue
				}
				err := verifyFromAnchor(leaf, ta, chain[1:], names, now)
				if err == nil {
					return nil
				}
				taErr = err
			}
		}
	}
	if taErr != nil {
		return taErr
	}
	return &TLSFailure{Result: ResultTLSAInvalid, Detail: "no TLSA record matches the server's certificate chain"}
}

// verifyFromAnchor verifies leaf up to anchor through the intermediates,
// for any of names.
func verifyFromAnchor(leaf, anchor *x509.Certificate, intermediates []*x509.Certificate, names []string, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(anchor)
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		if c != anchor {
			inter.AddCert(c)
		}
	}
	var firstErr error
	for _, name := range names {
		_, err := leaf.Verify(x509.VerifyOptions{
			DNSName:       name,
			Roots:         roots,
			Intermediates: inter,
			CurrentTime:   now,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err == nil {
			return nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return pkixFailure(firstErr)
}

// VerifyPKIX checks the chain a server presented with the Web PKI: roots
// (nil means the system's), the host name name, validity at now (RFC 8461
// section 4.2 for MTA-STS). The error is a *TLSFailure with the TLS-RPT
// result type (RFC 8460 section 4.3.2).
func VerifyPKIX(chain []*x509.Certificate, roots *x509.CertPool, name string, now time.Time) error {
	if len(chain) == 0 {
		return &TLSFailure{Result: ResultValidationFailure, Detail: "no server certificate"}
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		DNSName:       name,
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
	})
	if err != nil {
		return pkixFailure(err)
	}
	return nil
}

// pkixFailure turns an x509 verification error into a TLSFailure.
func pkixFailure(err error) error {
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &hostErr):
		return &TLSFailure{Result: ResultCertificateHostMismatch, Detail: err.Error()}
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return &TLSFailure{Result: ResultCertificateExpired, Detail: err.Error()}
	case errors.As(err, &unknown):
		return &TLSFailure{Result: ResultCertificateNotTrusted, Detail: err.Error()}
	}
	return &TLSFailure{Result: ResultValidationFailure, Detail: err.Error()}
}

// tlsaName is the owner name of the TLSA records of host for TCP port
// port (RFC 6698 section 3, RFC 7672 section 2.2.3).
func tlsaName(port int, host string) string {
	return "_" + strconv.Itoa(port) + "._tcp." + host
}
