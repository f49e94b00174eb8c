package smtp

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/internal/ascii"
	"github.com/postwire/postwire/textproto"
)

// This file formats MAIL and RCPT command lines with their parameters and
// checks every parameter against the extensions the server advertised: a
// parameter the server did not advertise is an error returned before
// anything is written, never a parameter silently dropped.

// ErrNotAdvertised is wrapped by the error returned when a call needs an
// extension (or a MAIL/RCPT parameter) the server did not advertise.
var ErrNotAdvertised = errors.New("smtp: not advertised by the server")

func clientNotAdvertised(what string) error {
	return fmt.Errorf("%w: %s", ErrNotAdvertised, what)
}

// clientNeedsUTF8 reports whether s has an octet above 127.
func clientNeedsUTF8(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// clientCheckAddress refuses an address with a control byte and checks it
// against RFC 5321 section 4.1.2 (RFC 6531 when utf8). The bare
// "postmaster" recipient of section 4.1.1.3 is accepted when rcpt is true.
func clientCheckAddress(addr string, utf8, rcpt bool) error {
	for i := 0; i < len(addr); i++ {
		if c := addr[i]; c < ' ' || c == 0x7f {
			return fmt.Errorf("smtp: address %q contains a control byte", addr)
		}
	}
	if rcpt && ascii.EqualFold(addr, "postmaster") {
		return nil
	}
	if _, err := textproto.ParseMailbox(addr, textproto.ParseOptions{SMTPUTF8: utf8}); err != nil {
		return fmt.Errorf("smtp: bad address %q: %w", addr, err)
	}
	return nil
}

// envelopeUTF8 decides whether a transaction needs SMTPUTF8 (RFC 6531
// section 3.4): asked for, or an address is not ASCII. It is an error when
// the server lacks it.
func (c *Client) envelopeUTF8(asked bool, from string, to []string) (bool, error) {
	need := asked || clientNeedsUTF8(from)
	for _, rcpt := range to {
		need = need || clientNeedsUTF8(rcpt)
	}
	if need && !c.ext.Has(extensions.SMTPUTF8) {
		return false, clientNotAdvertised("SMTPUTF8 (needed for a non-ASCII address)")
	}
	return need, nil
}

// appendMail appends "MAIL FROM:<from> params CRLF" to dst.
func (c *Client) appendMail(dst []byte, from string, o *MailOptions, utf8 bool) ([]byte, error) {
	if from != "" {
		if err := clientCheckAddress(from, utf8, false); err != nil {
			return dst, err
		}
	}
	start := len(dst)
	dst = append(dst, "MAIL FROM:<"...)
	dst = append(dst, from...)
	dst = append(dst, '>')
	if utf8 {
		dst = append(dst, " SMTPUTF8"...)
	}
	if o != nil {
		var err error
		if dst, err = c.appendMailParams(dst, o); err != nil {
			return dst[:start], err
		}
	}
	return clientEndLine(dst, start, c.mailLimit())
}

func (c *Client) appendMailParams(dst []byte, o *MailOptions) ([]byte, error) {
	ext := c.ext
	if o.Size != 0 {
		if !ext.MailParamAllowed("SIZE") {
			return dst, clientNotAdvertised("SIZE")
		}
		if o.Size < 0 {
			return dst, errors.New("smtp: negative SIZE")
		}
		if max, _ := ext.MaxSize(); max > 0 && o.Size > max {
			return dst, fmt.Errorf("smtp: message of %d octets exceeds the server's SIZE %d", o.Size, max)
		}
		dst = append(dst, " SIZE="...)
		dst = strconv.AppendInt(dst, o.Size, 10)
	}
	switch o.Body {
	case "":
	case Body7Bit, Body8BitMIME:
		if !ext.Has(extensions.EightBitMIME) || !ext.MailParamAllowed("BODY") {
			return dst, clientNotAdvertised("8BITMIME (BODY=" + string(o.Body) + ")")
		}
	case BodyBinaryMIME:
		if !ext.Has(extensions.BinaryMIME) || !ext.Has(extensions.Chunking) {
			return dst, clientNotAdvertised("BINARYMIME and CHUNKING (BODY=BINARYMIME)")
		}
	default:
		return dst, fmt.Errorf("smtp: unknown BODY %q", o.Body)
	}
	if o.Body != "" {
		dst = append(dst, " BODY="...)
		dst = append(dst, o.Body...)
	}
	if o.UTF8 && !ext.Has(extensions.SMTPUTF8) {
		return dst, clientNotAdvertised("SMTPUTF8")
	}
	if o.Return != "" || o.EnvelopeID != "" {
		if !ext.MailParamAllowed("RET") || !ext.MailParamAllowed("ENVID") {
			return dst, clientNotAdvertised("DSN (RET, ENVID)")
		}
	}
	switch o.Return {
	case "":
	case DSNReturnFull, DSNReturnHeaders:
		dst = append(dst, " RET="...)
		dst = append(dst, o.Return...)
	default:
		return dst, fmt.Errorf("smtp: unknown RET %q", o.Return)
	}
	if o.EnvelopeID != "" {
		// RFC 3461 section 4.4: printable ASCII, at most 100 characters.
		if len(o.EnvelopeID) > 100 || !clientPrintableASCII(o.EnvelopeID) {
			return dst, errors.New("smtp: ENVID must be at most 100 printable ASCII characters")
		}
		dst = append(dst, " ENVID="...)
		dst = append(dst, textproto.EncodeXtext(o.EnvelopeID)...)
	}
	if o.Auth != nil {
		if !ext.MailParamAllowed("AUTH") {
			return dst, clientNotAdvertised("AUTH (MAIL AUTH=)")
		}
		dst = append(dst, " AUTH="...)
		if *o.Auth == "" {
			dst = append(dst, "<>"...)
		} else {
			if err := clientCheckAddress(*o.Auth, false, false); err != nil {
				return dst, err
			}
			dst = append(dst, textproto.EncodeXtext(*o.Auth)...)
		}
	}
	if o.RequireTLS {
		if !ext.MailParamAllowed("REQUIRETLS") {
			return dst, clientNotAdvertised("REQUIRETLS")
		}
		if !c.isTLS {
			return dst, errors.New("smtp: REQUIRETLS needs a TLS connection (RFC 8689 section 4.1)")
		}
		dst = append(dst, " REQUIRETLS"...)
	}
	if o.MTPriority != nil {
		if !ext.MailParamAllowed("MT-PRIORITY") {
			return dst, clientNotAdvertised("MT-PRIORITY")
		}
		if p := *o.MTPriority; p < -9 || p > 9 {
			return dst, errors.New("smtp: MT-PRIORITY must be from -9 to 9 (RFC 6710 section 3)")
		}
		dst = append(dst, " MT-PRIORITY="...)
		dst = strconv.AppendInt(dst, int64(*o.MTPriority), 10)
	}
	if o.DeliverBy != nil {
		if !ext.MailParamAllowed("BY") {
			return dst, clientNotAdvertised("DELIVERBY (BY=)")
		}
		var err error
		if dst, err = clientAppendBy(dst, o.DeliverBy); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// clientAppendBy appends " BY=time;mode[T]" (RFC 2852 section 4):
// by-time is whole seconds, at most 9 digits; with by-mode R it must be
// positive.
func clientAppendBy(dst []byte, by *DeliverByOptions) ([]byte, error) {
	secs := int64(by.Time.Seconds())
	if secs > 999999999 || secs < -999999999 {
		return dst, errors.New("smtp: BY time out of range (RFC 2852 section 4)")
	}
	switch by.Mode {
	case DeliverByNotify:
	case DeliverByReturn:
		if secs <= 0 {
			return dst, errors.New("smtp: BY time must be positive with mode R (RFC 2852 section 4)")
		}
	default:
		return dst, fmt.Errorf("smtp: unknown BY mode %q", by.Mode)
	}
	dst = append(dst, " BY="...)
	dst = strconv.AppendInt(dst, secs, 10)
	dst = append(dst, ';')
	dst = append(dst, by.Mode...)
	if by.Trace {
		dst = append(dst, 'T')
	}
	return dst, nil
}

// appendRcpt appends "RCPT TO:<to> params CRLF" to dst.
func (c *Client) appendRcpt(dst []byte, to string, o *RcptOptions, utf8 bool) ([]byte, error) {
	if err := clientCheckAddress(to, utf8, true); err != nil {
		return dst, err
	}
	start := len(dst)
	dst = append(dst, "RCPT TO:<"...)
	dst = append(dst, to...)
	dst = append(dst, '>')
	if o != nil {
		var err error
		if dst, err = c.appendRcptParams(dst, o); err != nil {
			return dst[:start], err
		}
	}
	return clientEndLine(dst, start, c.rcptLimit())
}

func (c *Client) appendRcptParams(dst []byte, o *RcptOptions) ([]byte, error) {
	if len(o.Notify) > 0 {
		if !c.ext.RcptParamAllowed("NOTIFY") {
			return dst, clientNotAdvertised("DSN (NOTIFY)")
		}
		// RFC 3461 section 4.1: NEVER alone, or a list of the others.
		seen := 0
		dst = append(dst, " NOTIFY="...)
		for i, n := range o.Notify {
			var bit int
			switch n {
			case DSNNotifyNever:
				bit = 1
			case DSNNotifySuccess:
				bit = 2
			case DSNNotifyFailure:
				bit = 4
			case DSNNotifyDelayed:
				bit = 8
			default:
				return dst, fmt.Errorf("smtp: unknown NOTIFY %q", n)
			}
			if seen&bit != 0 || (bit == 1 || seen&1 != 0) && len(o.Notify) > 1 {
				return dst, errors.New("smtp: NOTIFY must be NEVER alone or distinct SUCCESS, FAILURE, DELAY")
			}
			seen |= bit
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, n...)
		}
	}
	if o.OriginalRecipient != "" {
		if !c.ext.RcptParamAllowed("ORCPT") {
			return dst, clientNotAdvertised("DSN (ORCPT)")
		}
		for i := 0; i < len(o.OriginalRecipient); i++ {
			if b := o.OriginalRecipient[i]; b < ' ' || b == 0x7f {
				return dst, errors.New("smtp: ORCPT contains a control byte")
			}
		}
		dst = append(dst, " ORCPT="...)
		switch t := o.OriginalRecipientType; {
		case t == "" || ascii.EqualFold(string(t), string(DSNAddressTypeRFC822)):
			if !clientPrintableASCII(o.OriginalRecipient) {
				return dst, errors.New("smtp: ORCPT of type rfc822 must be ASCII; use type UTF-8 (RFC 6533)")
			}
			dst = append(dst, "rfc822;"...)
			dst = append(dst, textproto.EncodeXtext(o.OriginalRecipient)...)
		case ascii.EqualFold(string(t), string(DSNAddressTypeUTF8)):
			dst = append(dst, "utf-8;"...)
			dst = append(dst, textproto.EncodeUTF8AddrXtext(o.OriginalRecipient)...)
		default:
			return dst, fmt.Errorf("smtp: unknown ORCPT address type %q", t)
		}
	}
	return dst, nil
}

func clientPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// clientEndLine checks the line dst[start:] (no control byte, within limit
// octets with CRLF) and appends CRLF; on error dst is cut back to start.
func clientEndLine(dst []byte, start, limit int) ([]byte, error) {
	line := dst[start:]
	for _, b := range line {
		if b < ' ' || b == 0x7f {
			return dst[:start], errors.New("smtp: command line would contain a control byte")
		}
	}
	if len(line)+2 > limit {
		return dst[:start], fmt.Errorf("smtp: command line of %d octets exceeds the limit of %d", len(line)+2, limit)
	}
	return append(dst, '\r', '\n'), nil
}

// mailLimit and rcptLimit are the longest MAIL and RCPT lines the server
// must accept (RFC 5321 section 4.5.3.1.4 plus each extension's share).
func (c *Client) mailLimit() int {
	m, _ := c.ext.CommandLineLimits()
	return max(m, 512)
}

func (c *Client) rcptLimit() int {
	_, r := c.ext.CommandLineLimits()
	return max(r, 512)
}
