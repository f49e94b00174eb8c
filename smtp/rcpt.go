package smtp

import (
	"github.com/postwire/postwire/textproto"
)

// handleRcpt answers RCPT TO (RFC 5321 section 4.1.1.3). Recipients
// beyond Server.MaxRecipients get 452 4.5.3 (section 4.5.3.1.10) while
// those accepted before stay accepted; "RCPT TO:<>" is 553 5.1.3 (the
// null path is no recipient).
func (c *Conn) handleRcpt(args []byte) outcome {
	if max := c.srv.maxRecipients(); max > 0 && len(c.rcpts) >= max {
		o := answer(452, EnhancedCode{4, 5, 3}, "Too many recipients")
		o.uncounted = true // the server's limit, no fault of the client's
		return o
	}
	path, params, err := textproto.ParseRcpt(args, textproto.ParseOptions{SMTPUTF8: c.mailOpts.UTF8, Lenient: c.srv.LenientPaths})
	if err != nil {
		return failure(err)
	}
	opts := &c.rcptOpts
	*opts = RcptOptions{}
	for i := range params {
		if err := c.rcptParam(opts, &params[i]); err != nil {
			return failure(err)
		}
	}

	to, aLabels := sentAndALabels(path)
	opts.ToALabels = aLabels
	if err := c.session.Rcpt(c.ctx, to, opts); err != nil {
		return backendFailure("RCPT", err)
	}
	c.rcptAccepted(to)
	return answer(250, EnhancedCode{2, 1, 5}, "Recipient OK")
}

// rcptParam checks one RCPT parameter against what was advertised and,
// through textproto's codec of its value, stores it in opts; the errors
// are mailParam's.
func (c *Conn) rcptParam(opts *RcptOptions, p *textproto.Param) error {
	if !c.exts.RcptParamAllowed(p.Keyword) {
		return textproto.ErrUnknownParameter(p.Keyword)
	}
	var err error
	switch p.Keyword {
	case "NOTIFY": // RFC 3461 section 4.1
		opts.Notify, err = textproto.ParseNotify(c.notifyBuf[:0], p.Value)
	case "ORCPT": // RFC 3461 section 4.2, RFC 6533 section 3
		opts.OriginalRecipientType, opts.OriginalRecipient, err = textproto.ParseORCPT(p.Value)
	default:
		err = textproto.ErrUnknownParameter(p.Keyword)
	}
	return err
}
