package smtp

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/postwire/postwire/internal/ascii"
	"github.com/postwire/postwire/textproto"
)

// handleMail answers MAIL FROM (RFC 5321 section 4.1.1.2): it parses the
// reverse-path and the parameters, checks each parameter against the
// extensions advertised (555 5.5.4 for one that was not, RFC 5321 section
// 4.1.1.11; 501 5.5.4 for a bad value) and hands them to Session.Mail.
func (c *Conn) handleMail(args []byte) outcome {
	utf8 := c.esmtp && !c.srv.DisableSMTPUTF8 && containsFold(args, " SMTPUTF8")
	path, params, err := textproto.ParseMail(args, textproto.ParseOptions{SMTPUTF8: utf8, Lenient: c.srv.LenientPaths})
	if err != nil {
		return failure(err)
	}
	opts := &c.mailOpts
	*opts = MailOptions{}
	for i := range params {
		if perr := c.mailParam(opts, &params[i]); perr != nil {
			return failure(paramError(perr, params[i].Keyword))
		}
	}
	if max := c.srv.maxMessageBytes(); max > 0 && opts.Size > max {
		return answer(552, EnhancedCode{5, 3, 4}, "Message size exceeds fixed maximum message size") // RFC 1870 section 6.1
	}

	if err := c.session.Mail(c.ctx, path.String(), opts); err != nil {
		return backendFailure("MAIL", err)
	}
	c.mailAccepted()
	return answer(250, EnhancedCode{2, 1, 0}, "Sender OK")
}

// mailParam checks one MAIL parameter and stores it in opts.
func (c *Conn) mailParam(opts *MailOptions, p *textproto.Param) error {
	if !c.exts.MailParamAllowed(p.Keyword) {
		return errUnknownParam
	}
	switch p.Keyword {
	case "SIZE": // RFC 1870 section 6
		n, ok := parseSize(p.Value)
		if !ok {
			return errBadValue
		}
		opts.Size = n
	case "BODY": // RFC 6152 section 2, RFC 3030 section 3
		switch ascii.ToUpper(p.Value) {
		case "7BIT":
			opts.Body = Body7Bit
		case "8BITMIME":
			opts.Body = Body8BitMIME
		case "BINARYMIME":
			if !c.srv.EnableBINARYMIME || c.srv.DisableChunking {
				return errBadValue
			}
			opts.Body = BodyBinaryMIME
		default:
			return errBadValue
		}
	case "SMTPUTF8": // RFC 6531 section 3.4
		if p.HasValue {
			return errBadValue
		}
		opts.UTF8 = true
	case "REQUIRETLS": // RFC 8689 section 4.1
		if p.HasValue || c.tlsState == nil {
			return errBadValue
		}
		opts.RequireTLS = true
	case "RET": // RFC 3461 section 4.3
		switch ascii.ToUpper(p.Value) {
		case "FULL":
			opts.Return = DSNReturnFull
		case "HDRS":
			opts.Return = DSNReturnHeaders
		default:
			return errBadValue
		}
	case "ENVID": // RFC 3461 section 4.4
		v, err := textproto.DecodeXtext(p.Value)
		if err != nil || !p.HasValue || len(v) > 100 {
			return errBadValue
		}
		opts.EnvelopeID = v
	case "AUTH": // RFC 4954 section 5
		if !p.HasValue {
			return errBadValue
		}
		v := ""
		if p.Value != "<>" {
			d, err := textproto.DecodeXtext(p.Value)
			if err != nil {
				return errBadValue
			}
			v = d
		}
		opts.Auth = &v
	case "MT-PRIORITY": // RFC 6710 section 3
		n, ok := parsePriority(p.Value)
		if !ok {
			return errBadValue
		}
		opts.MTPriority = &n
	case "BY": // RFC 2852 section 4
		by, ok := parseDeliverBy(p.Value)
		if !ok {
			return errBadValue
		}
		opts.DeliverBy = by
	default:
		return errUnknownParam
	}
	return nil
}

// Results of checking one parameter, turned into replies by paramError.
var (
	errUnknownParam = errors.New("unknown parameter")
	errBadValue     = errors.New("bad parameter value")
)

// paramError returns the reply for a parameter check that failed: 555
// 5.5.4 for a parameter not advertised, 501 5.5.4 for a bad value.
func paramError(err error, kw string) error {
	if err == errUnknownParam {
		return textproto.ErrUnknownParameter(kw)
	}
	return textproto.ErrBadParameterValue(kw)
}

// parseSize parses size-value = 1*20DIGIT (RFC 1870 section 6). A value
// too large for an int64 is still a valid size, larger than any limit: it
// becomes math.MaxInt64, so that the caller answers 552, not 501.
func parseSize(v string) (int64, bool) {
	if len(v) == 0 || len(v) > 20 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		d := v[i]
		if d < '0' || d > '9' {
			return 0, false
		}
		if n > (math.MaxInt64-int64(d-'0'))/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + int64(d-'0')
	}
	return n, true
}

// parsePriority parses priority-value = [ "-" / "+" ] DIGIT (RFC 6710
// section 3): one digit, so "09" and "10" are refused.
func parsePriority(v string) (int, bool) {
	neg := false
	if len(v) == 2 && (v[0] == '-' || v[0] == '+') {
		neg = v[0] == '-'
		v = v[1:]
	}
	if len(v) != 1 || v[0] < '0' || v[0] > '9' {
		return 0, false
	}
	n := int(v[0] - '0')
	if neg {
		n = -n
	}
	return n, true
}

// parseDeliverBy parses by-value = by-time ";" by-mode [by-trace], by-time
// = [ "-" / "+" ] 1*9DIGIT seconds, by-mode "N" or "R", by-trace "T" (RFC
// 2852 section 4). With "R" the time must be positive.
func parseDeliverBy(v string) (*DeliverByOptions, bool) {
	semi := strings.IndexByte(v, ';')
	if semi <= 0 {
		return nil, false
	}
	digits := v[:semi]
	if digits[0] == '-' || digits[0] == '+' {
		digits = digits[1:]
	}
	if len(digits) == 0 || len(digits) > 9 {
		return nil, false
	}
	secs, err := strconv.ParseInt(v[:semi], 10, 64) // refuses any non-digit
	if err != nil {
		return nil, false
	}
	mode := ascii.ToUpper(v[semi+1:])
	by := &DeliverByOptions{Time: time.Duration(secs) * time.Second}
	if strings.HasSuffix(mode, "T") {
		by.Trace = true
		mode = mode[:len(mode)-1]
	}
	switch mode {
	case "N":
		by.Mode = DeliverByNotify
	case "R":
		by.Mode = DeliverByReturn
		if secs <= 0 {
			return nil, false
		}
	default:
		return nil, false
	}
	return by, true
}

// containsFold reports whether b contains the upper-case ASCII word,
// in any case.
func containsFold(b []byte, word string) bool {
	for i := 0; i+len(word) <= len(b); i++ {
		j := 0
		for j < len(word) && (b[i+j] == word[j] || b[i+j]-('a'-'A') == word[j] && word[j] >= 'A' && word[j] <= 'Z') {
			j++
		}
		if j == len(word) {
			return true
		}
	}
	return false
}
