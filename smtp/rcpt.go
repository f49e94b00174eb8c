package smtp

import (
	"strings"

	"github.com/postwire/postwire/internal/ascii"
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
		if perr := c.rcptParam(opts, &params[i]); perr != nil {
			return failure(paramError(perr, params[i].Keyword))
		}
	}

	to := path.String()
	if err := c.session.Rcpt(c.ctx, to, opts); err != nil {
		return backendFailure("RCPT", err)
	}
	c.rcptAccepted(to)
	return answer(250, EnhancedCode{2, 1, 5}, "Recipient OK")
}

// rcptParam checks one RCPT parameter and stores it in opts.
func (c *Conn) rcptParam(opts *RcptOptions, p *textproto.Param) error {
	if !c.exts.RcptParamAllowed(p.Keyword) {
		return errUnknownParam
	}
	switch p.Keyword {
	case "NOTIFY": // RFC 3461 section 4.1
		if !p.HasValue || opts.Notify != nil {
			return errBadValue
		}
		notify := c.notifyBuf[:0]
		for v := range strings.SplitSeq(p.Value, ",") {
			var n DSNNotify
			switch ascii.ToUpper(v) {
			case "NEVER":
				n = DSNNotifyNever
			case "SUCCESS":
				n = DSNNotifySuccess
			case "FAILURE":
				n = DSNNotifyFailure
			case "DELAY":
				n = DSNNotifyDelayed
			default:
				return errBadValue
			}
			for _, seen := range notify {
				if seen == n {
					return errBadValue
				}
			}
			if len(notify) == len(c.notifyBuf) {
				return errBadValue
			}
			notify = append(notify, n)
		}
		// NEVER stands alone (RFC 3461 section 4.1).
		if len(notify) > 1 {
			for _, n := range notify {
				if n == DSNNotifyNever {
					return errBadValue
				}
			}
		}
		opts.Notify = notify
	case "ORCPT": // RFC 3461 section 4.2: addr-type ";" xtext
		semi := strings.IndexByte(p.Value, ';')
		if semi <= 0 {
			return errBadValue
		}
		typ := ascii.ToUpper(p.Value[:semi])
		var addr string
		var err error
		switch typ {
		case "RFC822":
			opts.OriginalRecipientType = DSNAddressTypeRFC822
			addr, err = textproto.DecodeXtext(p.Value[semi+1:])
		case "UTF-8":
			opts.OriginalRecipientType = DSNAddressTypeUTF8
			addr, err = textproto.DecodeUTF8AddrXtext(p.Value[semi+1:])
		default:
			return errBadValue
		}
		if err != nil {
			return errBadValue
		}
		opts.OriginalRecipient = addr
	default:
		return errUnknownParam
	}
	return nil
}
