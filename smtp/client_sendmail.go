package smtp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/sasl"
)

// SendMail connects to the server at addr, upgrades to TLS with STARTTLS
// when the server offers it, authenticates with auth when it is not nil,
// sends msg from from to every address of to, and says QUIT: the one call
// net/smtp users know, with a context. msg should be a whole RFC 5322
// message with CRLF line endings; bare LF is turned into CRLF. SMTPUTF8 is
// used when an address needs it, and is an error when the server lacks it.
//
// As with net/smtp, a refused recipient makes SendMail fail; the message
// may still have been accepted for the other recipients (they went out
// pipelined): a *RecipientsError then lists the refused ones and counts
// the others. Send's rules apply: LIMITS, 8BITMIME and SIZE are honoured.
func SendMail(ctx context.Context, addr string, auth sasl.Client, from string, to []string, msg []byte) error {
	return SendMailWith(ctx, addr, nil, auth, from, to, bytes.NewReader(msg))
}

// SendMailOptions tune SendMailWith.
type SendMailOptions struct {
	DialOptions
	// MustUseTLS refuses to send anything beyond EHLO unless the
	// connection is secured: by ImplicitTLS or by STARTTLS (RFC 3207).
	// It is about this hop's connection; MailOptions.RequireTLS is RFC
	// 8689's REQUIRETLS, which asks every hop of the message for TLS.
	MustUseTLS bool
	// ImplicitTLS dials with TLS from the start (RFC 8314, port 465).
	ImplicitTLS bool
	// MailOptions are the MAIL FROM parameters; nil means none.
	MailOptions *MailOptions
}

// SendMailWith is SendMail with options and a streamed message.
func SendMailWith(ctx context.Context, addr string, opts *SendMailOptions, auth sasl.Client, from string, to []string, msg io.Reader) error {
	if opts == nil {
		opts = &SendMailOptions{}
	}
	c, err := sendMailDial(ctx, addr, opts)
	if err != nil {
		return err
	}
	defer c.Close()

	if err := c.Hello(ctx, ""); err != nil {
		return err
	}
	if err := c.startTLSIfOffered(ctx, opts.MustUseTLS); err != nil {
		return err
	}
	if auth != nil {
		if err := c.Auth(ctx, auth); err != nil {
			return err
		}
	}

	_, err = c.Send(ctx, &Envelope{From: from, To: to, MailOptions: opts.MailOptions}, msg)
	var re *RecipientsError
	if errors.As(err, &re) && re.Accepted > 0 {
		c.Quit(ctx)
		return err
	}
	if err != nil {
		return err
	}
	// The message is the server's now (RFC 5321 section 4.1.1.4): a QUIT
	// that fails changes nothing, and reporting it would have the caller
	// send the message again.
	c.Quit(ctx)
	return nil
}

// sendMailDial dials addr for SendMailWith, with TLS from the start when
// opts.ImplicitTLS.
func sendMailDial(ctx context.Context, addr string, opts *SendMailOptions) (*Client, error) {
	if opts.ImplicitTLS {
		return DialTLS(ctx, addr, &opts.DialOptions)
	}
	return Dial(ctx, addr, &opts.DialOptions)
}

// startTLSIfOffered upgrades a plaintext connection with STARTTLS when the
// server offers it (RFC 3207); when it does not, requireTLS makes that an
// error.
func (c *Client) startTLSIfOffered(ctx context.Context, requireTLS bool) error {
	if c.isTLS {
		return nil
	}
	if c.ext.Has(extensions.StartTLS) {
		return c.StartTLS(ctx, nil)
	}
	if requireTLS {
		return clientNotAdvertised("STARTTLS (TLS is required)")
	}
	return nil
}

// RecipientsError is the error of Send, SendMail and DataWriter.Close when
// the message did not reach every recipient: Refused lists the others,
// each with its reply or the client's reason; Accepted counts the
// recipients that have the message (RFC 5321 section 3.3: the server is
// responsible for them; in LMTP mode, RFC 2033 section 4.2: delivered to
// them), so that a caller never sends it to them again. errors.As finds
// each refusal's *Error through it.
type RecipientsError struct {
	Refused  []RecipientResult
	Accepted int
}

// Error lists the refused recipients with their replies.
func (e *RecipientsError) Error() string {
	var b strings.Builder
	b.WriteString("smtp: recipients refused:")
	for _, r := range e.Refused {
		fmt.Fprintf(&b, " <%s>: %v;", r.Address, r.Err)
	}
	return strings.TrimSuffix(b.String(), ";")
}

// Unwrap returns each refusal, for errors.As.
func (e *RecipientsError) Unwrap() []error {
	errs := make([]error, len(e.Refused))
	for i, r := range e.Refused {
		errs[i] = r.Err
	}
	return errs
}

func clientRefusedError(res *SendResult) error {
	var refused []RecipientResult
	for _, r := range res.Recipients {
		if r.Err != nil {
			refused = append(refused, r)
		}
	}
	if refused == nil {
		return nil
	}
	return &RecipientsError{Refused: refused, Accepted: len(res.Recipients) - len(refused)}
}
