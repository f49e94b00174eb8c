package smtp

import "time"

// BodyType is the BODY parameter of MAIL (RFC 6152, RFC 3030 section 3).
type BodyType string

// Body types.
const (
	Body7Bit       BodyType = "7BIT"
	Body8BitMIME   BodyType = "8BITMIME"
	BodyBinaryMIME BodyType = "BINARYMIME"
)

// DSNReturn is the RET parameter of MAIL (RFC 3461 section 4.3).
type DSNReturn string

// RET values.
const (
	DSNReturnFull    DSNReturn = "FULL"
	DSNReturnHeaders DSNReturn = "HDRS"
)

// DSNNotify is one value of the NOTIFY parameter of RCPT (RFC 3461 section
// 4.1).
type DSNNotify string

// NOTIFY values.
const (
	DSNNotifyNever   DSNNotify = "NEVER"
	DSNNotifySuccess DSNNotify = "SUCCESS"
	DSNNotifyFailure DSNNotify = "FAILURE"
	DSNNotifyDelayed DSNNotify = "DELAY"
)

// DSNAddressType is the address type of the ORCPT parameter (RFC 3461
// section 4.2, RFC 6533 section 3).
type DSNAddressType string

// ORCPT address types.
const (
	DSNAddressTypeRFC822 DSNAddressType = "RFC822"
	DSNAddressTypeUTF8   DSNAddressType = "UTF-8"
)

// DeliverByMode is the by-mode of the BY parameter (RFC 2852 section 4).
type DeliverByMode string

// BY modes: notify the sender, or return the message, when the time passes.
const (
	DeliverByNotify DeliverByMode = "N"
	DeliverByReturn DeliverByMode = "R"
)

// DeliverByOptions is the BY parameter of MAIL (RFC 2852 section 4).
type DeliverByOptions struct {
	Time  time.Duration // by-time; may be negative with DeliverByNotify
	Mode  DeliverByMode
	Trace bool // the "T" by-trace modifier
}

// MailOptions are the parameters of MAIL FROM. The server fills them from
// the wire, after checking each against the extensions it advertised; the
// client writes them, after checking each against the extensions the server
// advertised. Field names follow go-smtp's, for an easy move.
type MailOptions struct {
	Body       BodyType // BODY=, RFC 6152 and RFC 3030; "" when absent
	Size       int64    // SIZE=, RFC 1870; 0 when absent
	RequireTLS bool     // REQUIRETLS, RFC 8689
	UTF8       bool     // SMTPUTF8, RFC 6531
	Return     DSNReturn
	EnvelopeID string  // ENVID=, RFC 3461 section 4.4, xtext-decoded
	Auth       *string // AUTH=, RFC 4954 section 5; "" for AUTH=<>; nil when absent
	// MTPriority is MT-PRIORITY=, RFC 6710, from -9 to 9; nil when absent.
	MTPriority *int
	// DeliverBy is BY=, RFC 2852; nil when absent.
	DeliverBy *DeliverByOptions
}

// RcptOptions are the parameters of RCPT TO (RFC 3461 section 4).
type RcptOptions struct {
	Notify                []DSNNotify // NOTIFY=; nil when absent
	OriginalRecipientType DSNAddressType
	OriginalRecipient     string // ORCPT= address, xtext-decoded
}
