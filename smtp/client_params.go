package smtp

import (
	"errors"
	"fmt"

	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/internal/ascii"
	"github.com/postwire/postwire/textproto"
)

// This file formats MAIL and RCPT command lines with their parameters and
// checks every parameter against the extensions the server advertised: a
// parameter the server did not advertise is an error returned before
// anything is written, never a parameter silently dropped. The values are
// checked and encoded by textproto's parameter codec, the one the server
// parses them with.

// ErrNotAdvertised is wrapped by the error returned when a call needs an
// extension (or a MAIL/RCPT parameter) the server did not advertise.
var ErrNotAdvertised = errors.New("smtp: not advertised by the server")

// ErrTLSNotAuthenticated is the error of MailOptions.RequireTLS over a
// connection without TLS or whose server certificate was not checked (an
// InsecureSkipVerify configuration without a callback of its own): RFC
// 8689 section 4.2 sends REQUIRETLS only to a server whose certificate was
// validated. See Client.TLSPeerAuthenticated.
var ErrTLSNotAuthenticated = errors.New("smtp: REQUIRETLS needs a TLS connection with a verified server certificate (RFC 8689 section 4.2)")

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
			return fmt.Errorf("%w %q: it contains a control byte", ErrBadAddress, addr)
		}
	}
	if rcpt && ascii.EqualFold(addr, "postmaster") {
		return nil
	}
	if _, err := textproto.ParseMailbox(addr, textproto.ParseOptions{SMTPUTF8: utf8}); err != nil {
		return fmt.Errorf("%w %q: %w", ErrBadAddress, addr, err)
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
		dst = textproto.AppendFlag(dst, "SMTPUTF8")
	}
	if o != nil {
		var err error
		if dst, err = c.appendMailParams(dst, o); err != nil {
			return dst[:start], err
		}
	}
	return clientEndLine(dst, start, c.mailLimit())
}

// appendMailParams appends the parameters of o through the textproto
// codec, each after checking that the server advertised it.
func (c *Client) appendMailParams(dst []byte, o *MailOptions) ([]byte, error) {
	ext := c.ext
	var err error
	if o.Size != 0 {
		if !ext.MailParamAllowed("SIZE") {
			return dst, clientNotAdvertised("SIZE")
		}
		if max, _ := ext.MaxSize(); max > 0 && o.Size > max {
			return dst, fmt.Errorf("smtp: message of %d octets exceeds the server's SIZE %d", o.Size, max)
		}
		if dst, err = textproto.AppendSize(dst, o.Size); err != nil {
			return dst, err
		}
	}
	switch o.Body {
	case Body7Bit, Body8BitMIME:
		if !ext.Has(extensions.EightBitMIME) || !ext.MailParamAllowed("BODY") {
			return dst, clientNotAdvertised("8BITMIME (BODY=" + string(o.Body) + ")")
		}
	case BodyBinaryMIME:
		if !ext.Has(extensions.BinaryMIME) || !ext.Has(extensions.Chunking) {
			return dst, clientNotAdvertised("BINARYMIME and CHUNKING (BODY=BINARYMIME)")
		}
	}
	if o.Body != "" {
		if dst, err = textproto.AppendBody(dst, o.Body); err != nil {
			return dst, err
		}
	}
	if o.UTF8 && !ext.Has(extensions.SMTPUTF8) {
		return dst, clientNotAdvertised("SMTPUTF8")
	}
	if o.Return != "" || o.EnvelopeID != "" {
		if !ext.MailParamAllowed("RET") || !ext.MailParamAllowed("ENVID") {
			return dst, clientNotAdvertised("DSN (RET, ENVID)")
		}
	}
	if o.Return != "" {
		if dst, err = textproto.AppendRet(dst, o.Return); err != nil {
			return dst, err
		}
	}
	if o.EnvelopeID != "" {
		if dst, err = textproto.AppendEnvID(dst, o.EnvelopeID); err != nil {
			return dst, err
		}
	}
	if o.Auth != nil {
		if !ext.MailParamAllowed("AUTH") {
			return dst, clientNotAdvertised("AUTH (MAIL AUTH=)")
		}
		if dst, err = textproto.AppendMailAuth(dst, *o.Auth); err != nil {
			return dst, err
		}
	}
	if o.RequireTLS {
		if !ext.MailParamAllowed("REQUIRETLS") {
			return dst, clientNotAdvertised("REQUIRETLS")
		}
		if !c.TLSPeerAuthenticated() {
			return dst, ErrTLSNotAuthenticated
		}
		dst = textproto.AppendFlag(dst, "REQUIRETLS")
	}
	if o.MTPriority != nil {
		if !ext.MailParamAllowed("MT-PRIORITY") {
			return dst, clientNotAdvertised("MT-PRIORITY")
		}
		if dst, err = textproto.AppendMTPriority(dst, *o.MTPriority); err != nil {
			return dst, err
		}
	}
	if o.DeliverBy != nil {
		if !ext.MailParamAllowed("BY") {
			return dst, clientNotAdvertised("DELIVERBY (BY=)")
		}
		if dst, err = textproto.AppendDeliverBy(dst, *o.DeliverBy); err != nil {
			return dst, err
		}
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

// appendRcptParams appends the DSN parameters of o through the textproto
// codec, after checking that the server advertised them. An ORCPT without
// a type is of type rfc822.
func (c *Client) appendRcptParams(dst []byte, o *RcptOptions) ([]byte, error) {
	var err error
	if len(o.Notify) > 0 {
		if !c.ext.RcptParamAllowed("NOTIFY") {
			return dst, clientNotAdvertised("DSN (NOTIFY)")
		}
		if dst, err = textproto.AppendNotify(dst, o.Notify); err != nil {
			return dst, err
		}
	}
	if o.OriginalRecipient != "" {
		if !c.ext.RcptParamAllowed("ORCPT") {
			return dst, clientNotAdvertised("DSN (ORCPT)")
		}
		typ := o.OriginalRecipientType
		if typ == "" {
			typ = DSNAddressTypeRFC822
		}
		if dst, err = textproto.AppendORCPT(dst, typ, o.OriginalRecipient); err != nil {
			return dst, err
		}
	}
	return dst, nil
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
