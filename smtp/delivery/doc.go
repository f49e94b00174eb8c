// Package delivery delivers mail directly to the MX hosts of the
// recipients' domains, as an MTA does, over package smtp's Client. It
// decides, for every host, which TLS policy applies (DANE, MTA-STS or
// none) and reports, for every recipient, whether the message was
// delivered, failed for good or should be tried again, so that a caller's
// queue knows what to do. It keeps no queue itself and sends no reports.
//
//	d := &delivery.Deliverer{Hostname: "mail.example.org"}
//	rep, err := d.Deliver(ctx, &delivery.Message{
//		Envelope: smtp.Envelope{From: "a@example.org", To: to},
//		Body:     msg,
//	})
//	for _, r := range rep.Results { ... r.Status, r.Err, r.MX, r.TLS ... }
//
// # Hosts (RFC 5321 section 5.1, RFC 7505)
//
// Recipients are grouped by domain; the domains are delivered to
// concurrently (Deliverer.Concurrency), and one connection to an MX host
// carries all of a domain's recipients.
//
//   - MX records are tried by preference, in random order among equal
//     preferences. A domain without MX records is its own host (the
//     implicit MX), with its A and AAAA records.
//   - A null MX ("0 .", RFC 7505 section 3) fails every recipient at once
//     with 556 5.1.10, without connecting (section 4.1). A domain with
//     neither MX nor address fails with 550 5.1.2.
//   - Each host's addresses are tried in turn, IPv6 first unless
//     Deliverer.AddressFamily says otherwise. Every connection is bounded
//     by AttemptTimeout, the whole domain by Timeout, the count by
//     MaxAttempts.
//   - A 5xx reply ends delivery for the recipients it refused (all of
//     them for MAIL or the body). A 4xx reply or a broken connection
//     leaves the recipients for the next address or host; those still
//     left at the end are temporary failures with the last error.
//   - A DNS failure that may pass (SERVFAIL, timeout) is a temporary
//     failure, 451 4.4.3.
//
// # TLS policy of a host
//
// A host's policy is decided in this order; the first that applies wins
// (DANE before MTA-STS, RFC 8461 section 2):
//
//  1. DANE (RFC 7672) applies when the Resolver is a TLSAResolver, the
//     domain's MX answer (or its absence, for the implicit MX) and the
//     host's address answers were DNSSEC-authenticated, and the TLSA
//     RRset at "_<Port>._tcp.<host>" (at the CNAME target first when the
//     host is an alias, section 2.2.2) is authenticated and has a usable
//     record: usage DANE-TA(2) or DANE-EE(3), selector 0 or 1, matching
//     type 0, 1 or 2 (PKIX-TA(0) and PKIX-EE(1) are unusable for SMTP,
//     section 3.1.3). STARTTLS is then mandatory and the certificate must
//     match: DANE-EE on the leaf, with no name or date check (section
//     3.1.1); DANE-TA on a certificate of the chain, which must then
//     validate the leaf for the MX host name or the TLSA base domain
//     (section 3.2.2). A failure is temporary (try the next host).
//  2. A TLSA lookup that fails for a secure host (SERVFAIL, which is what
//     a validating resolver answers for bogus data) makes the host
//     unusable for now: the attempt is a temporary failure with TLS-RPT
//     result dnssec-invalid (RFC 7672 section 2.2). An authenticated TLSA
//     RRset with no usable record makes STARTTLS mandatory without
//     authentication (as Postfix's "dane" level does) and the next rules
//     still apply. An insecure MX RRset, host or TLSA RRset means no DANE;
//     with Deliverer.RequireDANE, a host without DANE is refused instead
//     (a temporary failure, TLS-RPT result dane-required).
//  3. MTA-STS (RFC 8461) applies when the domain has a policy in mode
//     enforce or testing: the TXT record "_mta-sts.<domain>" (v=STSv1;
//     id=...) and the policy at https://mta-sts.<domain>/.well-known/
//     mta-sts.txt, cached by max_age and refetched when the id changes
//     (section 5.1). An MX host the policy does not list, a missing
//     STARTTLS, or a certificate that is not PKIX-valid for the MX host
//     name refuses the host in enforce mode (a temporary failure) and is
//     only reported in testing mode. When the TXT record is missing or the
//     fetch fails, an unexpired cached policy still applies; without one
//     the host has no policy (and the fetch error is reported). Mode none
//     is no policy.
//  4. Otherwise TLS is opportunistic (RFC 7435): STARTTLS when offered,
//     the certificate unchecked, plaintext when not offered, and once more
//     in plaintext after a failed handshake.
//
// # REQUIRETLS and TLS-Required: No (RFC 8689)
//
// A message whose MailOptions.RequireTLS is set goes only to hosts whose
// certificate was verified by DANE or MTA-STS (a testing policy counts as
// enforce for it, section 4.2.1) and that offer REQUIRETLS after STARTTLS;
// the REQUIRETLS parameter is sent with MAIL. A host that falls short is
// skipped, before the body leaves; when no host could take the message
// for that reason alone, every recipient fails permanently with 550
// 5.7.30. Message.TLSRequiredNo (the "TLS-Required: No" header field,
// section 5; see HasTLSRequiredNo) keeps trying TLS but turns every DANE
// and MTA-STS failure into a report instead of a refusal; REQUIRETLS wins
// over it.
//
// # TLS outcomes (RFC 8460)
//
// Every Result and Attempt carries a TLSOutcome: the policy type (sts,
// tlsa, no-policy-found), whether it was enforced, whether the session was
// encrypted and verified, and the TLS-RPT result type of a failure
// (starttls-not-supported, certificate-host-mismatch, certificate-expired,
// certificate-not-trusted, validation-failure, tlsa-invalid,
// dnssec-invalid, sts-policy-fetch-error, sts-policy-invalid,
// sts-webpki-invalid), from which a caller can build its own reports.
//
// # DNS and DNSSEC
//
// The default Resolver is NetResolver over net.Resolver, which cannot see
// the AD bit: no answer is authentic, so DANE never applies. For DANE, set
// Deliverer.DNSSECResolver to the address of a validating resolver (such
// as unbound on "127.0.0.1:53"), or Resolver to a DNSClient; every query
// then goes there, and an answer is authentic when it has the AD bit. The
// AD bit is not protected on the wire: trust it only from a resolver on
// loopback or reached over a channel you trust, as Postfix's
// smtp_dns_support_level=dnssec documentation warns.
package delivery
