package smtp

import "github.com/postwire/postwire/textproto"

// The value types of the MAIL and RCPT parameters are textproto's, whose
// codec both the server and the client use; these are their names here.

// BodyType is the BODY parameter of MAIL (RFC 6152, RFC 3030 section 3).
type BodyType = textproto.BodyType

// Body types.
const (
	Body7Bit       = textproto.Body7Bit
	Body8BitMIME   = textproto.Body8BitMIME
	BodyBinaryMIME = textproto.BodyBinaryMIME
)

// DSNReturn is the RET parameter of MAIL (RFC 3461 section 4.3).
type DSNReturn = textproto.DSNReturn

// RET values.
const (
	DSNReturnFull    = textproto.DSNReturnFull
	DSNReturnHeaders = textproto.DSNReturnHeaders
)

// DSNNotify is one value of the NOTIFY parameter of RCPT (RFC 3461 section
// 4.1).
type DSNNotify = textproto.DSNNotify

// NOTIFY values.
const (
	DSNNotifyNever   = textproto.DSNNotifyNever
	DSNNotifySuccess = textproto.DSNNotifySuccess
	DSNNotifyFailure = textproto.DSNNotifyFailure
	DSNNotifyDelayed = textproto.DSNNotifyDelayed
)

// DSNAddressType is the address type of the ORCPT parameter (RFC 3461
// section 4.2, RFC 6533 section 3).
type DSNAddressType = textproto.DSNAddressType

// ORCPT address types.
const (
	DSNAddressTypeRFC822 = textproto.DSNAddressTypeRFC822
	DSNAddressTypeUTF8   = textproto.DSNAddressTypeUTF8
)

// DeliverByMode is the by-mode of the BY parameter (RFC 2852 section 4).
type DeliverByMode = textproto.DeliverByMode

// BY modes: notify the sender, or return the message, when the time passes.
const (
	DeliverByNotify = textproto.DeliverByNotify
	DeliverByReturn = textproto.DeliverByReturn
)

// DeliverByOptions is the BY parameter of MAIL (RFC 2852 section 4): Time
// (by-time, whole seconds on the wire; may be negative with
// DeliverByNotify), Mode, and Trace (the "T" by-trace modifier).
type DeliverByOptions = textproto.DeliverBy

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

	// FromALabels is set by the Server: the reverse-path with its domain
	// in A-labels (RFC 5890 section 2.3.2.1), the form to match a list
	// keyed in ASCII against; it equals the from given to Session.Mail
	// unless the client wrote the domain with U-labels (RFC 6531 section
	// 3.3). The client ignores it.
	FromALabels string
}

// RcptOptions are the parameters of RCPT TO (RFC 3461 section 4).
type RcptOptions struct {
	Notify                []DSNNotify // NOTIFY=; nil when absent
	OriginalRecipientType DSNAddressType
	OriginalRecipient     string // ORCPT= address, xtext-decoded

	// ToALabels is set by the Server: the recipient with its domain in
	// A-labels (RFC 5890 section 2.3.2.1), the form to match a list keyed
	// in ASCII against; it equals the to given to Session.Rcpt unless the
	// client wrote the domain with U-labels (RFC 6531 section 3.3). The
	// client ignores it.
	ToALabels string
}
