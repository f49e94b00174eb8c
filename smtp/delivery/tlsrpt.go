package delivery

// PolicyType is the kind of TLS policy that applied to a delivery
// attempt, named as TLS-RPT names it (RFC 8460 section 4.4, "policy-type").
type PolicyType string

// Policy types.
const (
	PolicySTS      PolicyType = "sts"             // MTA-STS, RFC 8461
	PolicyTLSA     PolicyType = "tlsa"            // DANE, RFC 7672
	PolicyNotFound PolicyType = "no-policy-found" // opportunistic TLS
)

// ResultType is a TLS-RPT failure result type (RFC 8460 section 4.3).
type ResultType string

// Result types of RFC 8460 sections 4.3.1 (negotiation), 4.3.2 (policy),
// 4.3.2.1 (DANE) and 4.3.2.2 (MTA-STS).
const (
	ResultSTARTTLSNotSupported    ResultType = "starttls-not-supported"
	ResultCertificateHostMismatch ResultType = "certificate-host-mismatch"
	ResultCertificateExpired      ResultType = "certificate-expired"
	ResultCertificateNotTrusted   ResultType = "certificate-not-trusted"
	ResultValidationFailure       ResultType = "validation-failure"
	ResultTLSAInvalid             ResultType = "tlsa-invalid"
	ResultDNSSECInvalid           ResultType = "dnssec-invalid"
	ResultDANERequired            ResultType = "dane-required"
	ResultSTSPolicyFetchError     ResultType = "sts-policy-fetch-error"
	ResultSTSPolicyInvalid        ResultType = "sts-policy-invalid"
	ResultSTSWebPKIInvalid        ResultType = "sts-webpki-invalid"
)

// TLSFailure is a TLS failure with its TLS-RPT result type (RFC 8460
// section 4.3) and a human-readable detail.
type TLSFailure struct {
	Result ResultType
	Detail string
}

// Error returns the result type (RFC 8460 section 4.3) and the detail.
func (f *TLSFailure) Error() string {
	if f.Detail == "" {
		return string(f.Result)
	}
	return string(f.Result) + ": " + f.Detail
}

// TLSOutcome is what happened to TLS on one delivery attempt, in the terms
// of a TLS-RPT report (RFC 8460 section 4.4), so that a caller can count
// successes and failures per policy and build its own reports.
type TLSOutcome struct {
	// Policy is the policy that applied to the attempt.
	Policy PolicyType
	// STSMode is the MTA-STS policy's mode ("enforce" or "testing") when
	// Policy is PolicySTS.
	STSMode STSMode
	// Enforced reports that a failure of the policy refused delivery
	// (DANE; MTA-STS in enforce mode; REQUIRETLS) rather than only being
	// reported (MTA-STS in testing mode, TLS-Required: No).
	Enforced bool
	// TLS reports that the session was encrypted with STARTTLS; Version
	// and CipherSuite then tell how (crypto/tls constants).
	TLS         bool
	Version     uint16
	CipherSuite uint16
	// Verified reports that the server's certificate was authenticated
	// by the policy: matched the TLSA records, or was PKIX-valid for the
	// MX host name under MTA-STS.
	Verified bool
	// Failure is the TLS-RPT result type of the failure, "" when none.
	Failure ResultType
	// Detail says more about Failure.
	Detail string
}

// Succeeded reports whether the attempt counts as a success for TLS-RPT:
// no failure was recorded (RFC 8460 section 4.4, "total-successful-
// session-count").
func (o TLSOutcome) Succeeded() bool { return o.Failure == "" }

// fail records a failure on o, keeping the first one.
func (o *TLSOutcome) fail(r ResultType, detail string) {
	if o.Failure == "" {
		o.Failure, o.Detail = r, detail
	}
}
