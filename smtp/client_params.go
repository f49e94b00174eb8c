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
	var err error
	if dst, err = c.appendSizeParam(dst, o.Size); err != nil {
		return dst, err
	}
	if dst, err = c.appendBodyParam(dst, o.Body); err != nil {
		return dst, err
	}
	if o.UTF8 && !c.ext.Has(extensions.SMTPUTF8) {
		return dst, clientNotAdvertised("SMTPUTF8") // the parameter itself is written by appendMail
	}
	if dst, err = c.appendDSNParams(dst, o.Return, o.EnvelopeID); err != nil {
		return dst, err
	}
	if dst, err = c.appendAuthParam(dst, o.Auth); err != nil {
		return dst, err
	}
	if dst, err = c.appendRequireTLSParam(dst, o.RequireTLS); err != nil {
		return dst, err
	}
	if dst, err = c.appendPriorityParam(dst, o.MTPriority); err != nil {
		return dst, err
	}
	return c.appendByParam(dst, o.DeliverBy)
}

// appendSizeParam appends SIZE= (RFC 1870 section 6) when size is set,
// refusing a size over the server's advertised limit.
func (c *Client) appendSizeParam(dst []byte, size int64) ([]byte, error) {
	switch {
	case size == 0:
		return dst, nil
	case !c.ext.MailParamAllowed("SIZE"):
		return dst, clientNotAdvertised("SIZE")
	}
	if max, _ := c.ext.MaxSize(); max > 0 && size > max {
		return dst, fmt.Errorf("smtp: message of %d octets exceeds the server's SIZE %d", size, max)
	}
	return textproto.AppendSize(dst, size)
}

// appendBodyParam appends BODY= (RFC 6152, RFC 3030 section 3) when body
// is set, when the server offers what it needs.
func (c *Client) appendBodyParam(dst []byte, body BodyType) ([]byte, error) {
	switch body {
	case "":
		return dst, nil
	case Body7Bit, Body8BitMIME:
		if !c.ext.Has(extensions.EightBitMIME) || !c.ext.MailParamAllowed("BODY") {
			return dst, clientNotAdvertised("8BITMIME (BODY=" + string(body) + ")")
		}
	case BodyBinaryMIME:
		if !c.ext.Has(extensions.BinaryMIME) || !c.ext.Has(extensions.Chunking) {
			return dst, clientNotAdvertised("BINARYMIME and CHUNKING (BODY=BINARYMIME)")
		}
	}
	return textproto.AppendBody(dst, body)
}

// appendDSNParams appends RET= and ENVID= (RFC 3461 sections 4.3 and 4.4)
// when set, where DSN is offered.
func (c *Client) appendDSNParams(dst []byte, ret DSNReturn, envID string) ([]byte, error) {
	if ret == "" && envID == "" {
		return dst, nil
	}
	if !c.ext.MailParamAllowed("RET") || !c.ext.MailParamAllowed("ENVID") {
		return dst, clientNotAdvertised("DSN (RET, ENVID)")
	}
	var err error
	if ret != "" {
		if dst, err = textproto.AppendRet(dst, ret); err != nil {
			return dst, err
		}
	}
	if envID != "" {
		return textproto.AppendEnvID(dst, envID)
	}
	return dst, nil
}

// appendAuthParam appends AUTH= (RFC 4954 section 5) when auth is set.
func (c *Client) appendAuthParam(dst []byte, auth *string) ([]byte, error) {
	switch {
	case auth == nil:
		return dst, nil
	case !c.ext.MailParamAllowed("AUTH"):
		return dst, clientNotAdvertised("AUTH (MAIL AUTH=)")
	}
	return textproto.AppendMailAuth(dst, *auth)
}

// appendRequireTLSParam appends REQUIRETLS (RFC 8689 section 4.1) when
// asked for: only where offered, over a TLS connection whose peer was
// authenticated (section 4.2).
func (c *Client) appendRequireTLSParam(dst []byte, require bool) ([]byte, error) {
	switch {
	case !require:
		return dst, nil
	case !c.ext.MailParamAllowed("REQUIRETLS"):
		return dst, clientNotAdvertised("REQUIRETLS")
	case !c.TLSPeerAuthenticated():
		return dst, ErrTLSNotAuthenticated
	}
	return textproto.AppendFlag(dst, "REQUIRETLS"), nil
}

// appendPriorityParam appends MT-PRIORITY= (RFC 6710 section 3) when set.
func (c *Client) appendPriorityParam(dst []byte, priority *int) ([]byte, error) {
	switch {
	case priority == nil:
		return dst, nil
	case !c.ext.MailParamAllowed("MT-PRIORITY"):
		return dst, clientNotAdvertised("MT-PRIORITY")
	}
	return textproto.AppendMTPriority(dst, *priority)
}

// appendByParam appends BY= (RFC 2852 section 4) when set.
func (c *Client) appendByParam(dst []byte, by *DeliverByOptions) ([]byte, error) {
	switch {
	case by == nil:
		return dst, nil
	case !c.ext.MailParamAllowed("BY"):
		return dst, clientNotAdvertised("DELIVERBY (BY=)")
	}
	return textproto.AppendDeliverBy(dst, *by)
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
