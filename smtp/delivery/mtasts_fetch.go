package delivery

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"
)

// STSMaxPolicySize is the largest policy file fetched, 64 KiB (RFC 8461
// section 3.3 lets senders bound it; 64 KiB is the limit it suggests).
const STSMaxPolicySize = 64 << 10

// DefaultSTSFetchTimeout bounds the fetch of one policy (RFC 8461 section
// 3.3 asks senders to bound it; it suggests a minute).
const DefaultSTSFetchTimeout = 60 * time.Second

// errRedirect refuses an HTTP redirect (RFC 8461 section 3.3).
var errRedirect = errors.New("mta-sts: the policy host answered with a redirect")

// STSFetcher fetches MTA-STS policies over HTTPS (RFC 8461 section 3.3).
// The zero value uses the system's roots.
type STSFetcher struct {
	// Client is the HTTP client; nil means one whose transport trusts
	// RootCAs. A given client is copied and its CheckRedirect replaced:
	// redirects are never followed.
	Client *http.Client
	// RootCAs verifies the policy host's certificate when Client is nil;
	// nil means the system's roots.
	RootCAs *x509.CertPool
	// Timeout bounds one fetch; 0 means DefaultSTSFetchTimeout.
	Timeout time.Duration
}

// Fetch gets https://mta-sts.<domain>/.well-known/mta-sts.txt and parses
// it. Only a 200 answer with media type text/plain, at most
// STSMaxPolicySize long, counts (RFC 8461 section 3.3). The error is a
// *TLSFailure: sts-webpki-invalid when the policy host's certificate did
// not verify, sts-policy-invalid when the file did not parse, and
// sts-policy-fetch-error otherwise (RFC 8460 section 4.3.2.2).
func (f *STSFetcher) Fetch(ctx context.Context, domain string) (*STSPolicy, error) {
	timeout := f.Timeout
	if timeout == 0 {
		timeout = DefaultSTSFetchTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	url := "https://mta-sts." + normalizeName(domain) + "/.well-known/mta-sts.txt"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &TLSFailure{Result: ResultSTSPolicyFetchError, Detail: err.Error()}
	}
	resp, err := f.client().Do(req)
	if err != nil {
		return nil, fetchFailure(err)
	}
	defer resp.Body.Close()

	if resp.StatusCode != http.StatusOK {
		return nil, &TLSFailure{Result: ResultSTSPolicyFetchError, Detail: fmt.Sprintf("%s answered %s", url, resp.Status)}
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return nil, &TLSFailure{Result: ResultSTSPolicyInvalid, Detail: fmt.Sprintf("%s has media type %q, want text/plain", url, resp.Header.Get("Content-Type"))}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, STSMaxPolicySize+1))
	if err != nil {
		return nil, &TLSFailure{Result: ResultSTSPolicyFetchError, Detail: err.Error()}
	}
	if len(body) > STSMaxPolicySize {
		return nil, &TLSFailure{Result: ResultSTSPolicyInvalid, Detail: fmt.Sprintf("%s is over %d octets", url, STSMaxPolicySize)}
	}

	p, err := ParseSTSPolicy(string(body))
	if err != nil {
		return nil, &TLSFailure{Result: ResultSTSPolicyInvalid, Detail: err.Error()}
	}
	return p, nil
}

// client returns the HTTP client to use, never following redirects.
func (f *STSFetcher) client() *http.Client {
	var c http.Client
	if f.Client != nil {
		c = *f.Client
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: f.RootCAs}
		tr.Proxy = nil
		c.Transport = tr
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return errRedirect }
	return &c
}

// fetchFailure classifies an error of http.Client.Do.
func fetchFailure(err error) error {
	var certErr *tls.CertificateVerificationError
	var hostErr x509.HostnameError
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &certErr) || errors.As(err, &hostErr) || errors.As(err, &unknown) || errors.As(err, &invalid) {
		return &TLSFailure{Result: ResultSTSWebPKIInvalid, Detail: err.Error()}
	}
	return &TLSFailure{Result: ResultSTSPolicyFetchError, Detail: err.Error()}
}
