package smtp

import (
	"github.com/postwire/postwire/textproto"
)

// handleMail answers MAIL FROM (RFC 5321 section 4.1.1.2): it parses the
// reverse-path and the parameters, checks each parameter against the
// extensions advertised (555 5.5.4 for one that was not, RFC 5321 section
// 4.1.1.11; 501 5.5.4 for a bad value) and hands them to Session.Mail.
// A non-ASCII reverse-path needs the SMTPUTF8 parameter (RFC 6531 section
// 3.4), which textproto.ParseMail checks against the parameters it parsed.
func (c *Conn) handleMail(args []byte) outcome {
	utf8 := c.esmtp && !c.srv.DisableSMTPUTF8
	path, params, err := textproto.ParseMail(args, textproto.ParseOptions{SMTPUTF8: utf8, Lenient: c.srv.LenientPaths})
	if err != nil {
		return failure(err)
	}
	opts := &c.mailOpts
	*opts = MailOptions{}
	for i := range params {
		if err := c.mailParam(opts, &params[i]); err != nil {
			return failure(err)
		}
	}
	if max := c.srv.maxMessageBytes(); max > 0 && opts.Size > max {
		return answer(552, EnhancedCode{5, 3, 4}, "Message size exceeds fixed maximum message size") // RFC 1870 section 6.1
	}

	from, aLabels := sentAndALabels(path)
	opts.FromALabels = aLabels
	if err := c.session.Mail(c.ctx, from, opts); err != nil {
		return backendFailure("MAIL", err)
	}
	c.mailAccepted()
	return answer(250, EnhancedCode{2, 1, 0}, "Sender OK")
}

// sentAndALabels returns a path as the client sent it and in its A-label
// form, formatting it once when the domain was ASCII already (the common
// case: both are the same string).
func sentAndALabels(path textproto.Path) (sent, aLabels string) {
	aLabels = path.String()
	if path.UDomain == "" {
		return aLabels, aLabels
	}
	return path.Sent(), aLabels
}

// mailParam checks one MAIL parameter against what was advertised and,
// through textproto's codec of its value, stores it in opts. The error is
// a *textproto.ParseError: 555 5.5.4 for a parameter not advertised, 501
// 5.5.4 for a bad value.
func (c *Conn) mailParam(opts *MailOptions, p *textproto.Param) error {
	if !c.exts.MailParamAllowed(p.Keyword) {
		return textproto.ErrUnknownParameter(p.Keyword)
	}
	var err error
	switch p.Keyword {
	case "SIZE": // RFC 1870 section 6
		opts.Size, err = textproto.ParseSize(p.Value)
	case "BODY": // RFC 6152 section 2, RFC 3030 section 3
		opts.Body, err = textproto.ParseBody(p.Value)
		if err == nil && opts.Body == BodyBinaryMIME && (!c.srv.EnableBINARYMIME || c.srv.DisableChunking) {
			err = textproto.ErrBadParameterValue(p.Keyword)
		}
	case "SMTPUTF8": // RFC 6531 section 3.4
		err = textproto.ParseFlag(p.Keyword, p.Value)
		opts.UTF8 = err == nil
	case "REQUIRETLS": // RFC 8689 section 4.1: over TLS only
		if err = textproto.ParseFlag(p.Keyword, p.Value); err == nil && c.tlsState == nil {
			err = textproto.ErrBadParameterValue(p.Keyword)
		}
		opts.RequireTLS = err == nil
	case "RET": // RFC 3461 section 4.3
		opts.Return, err = textproto.ParseRet(p.Value)
	case "ENVID": // RFC 3461 section 4.4
		opts.EnvelopeID, err = textproto.ParseEnvID(p.Value)
	case "AUTH": // RFC 4954 section 5
		var mailbox string
		if mailbox, err = textproto.ParseMailAuth(p.Value); err == nil {
			opts.Auth = &mailbox
		}
	case "MT-PRIORITY": // RFC 6710 section 3
		var priority int
		if priority, err = textproto.ParseMTPriority(p.Value); err == nil {
			opts.MTPriority = &priority
		}
	case "BY": // RFC 2852 section 4
		var by DeliverByOptions
		if by, err = textproto.ParseDeliverBy(p.Value); err == nil {
			opts.DeliverBy = &by
		}
	default:
		err = textproto.ErrUnknownParameter(p.Keyword)
	}
	return err
}
