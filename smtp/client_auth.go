package smtp

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"

	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/internal/ascii"
	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/textproto"
)

// ErrInsecureAuth is returned by Auth instead of sending a password or a
// bearer token over a connection that is neither TLS nor to a loopback
// address (set DialOptions.AllowInsecureAuth to allow it).
var ErrInsecureAuth = errors.New("smtp: refusing to send credentials in clear over an unencrypted connection")

// clientMaxAuthRounds bounds the challenges of one AUTH exchange, so that a
// hostile server cannot keep the client answering forever.
const clientMaxAuthRounds = 16

// Auth authenticates with the SASL mechanism a (RFC 4954). The mechanism
// must be one the server advertised. Mechanisms that reveal a reusable
// secret (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER and any mechanism not known to
// be safe in clear) are only used over TLS or to a loopback address,
// unless DialOptions.AllowInsecureAuth; CRAM-MD5, SCRAM-*, EXTERNAL and
// ANONYMOUS go anywhere. The initial response goes with the AUTH command
// ("=" when empty, RFC 4954 section 4) unless that would make the line too
// long. A challenge that is not base64, or that the mechanism rejects (such
// as a 334 after PLAIN's initial response), is answered "*" to cancel the
// exchange and returned as an error.
func (c *Client) Auth(ctx context.Context, a sasl.Client) error {
	if err := c.hello(ctx); err != nil {
		return err
	}
	mech, ir, err := a.Start()
	if err != nil {
		return fmt.Errorf("smtp: AUTH: %w", err)
	}
	mech = ascii.ToUpper(mech)
	if err := c.checkMechanism(mech); err != nil {
		return err
	}

	pendingIR := c.buildAuthLine(mech, ir)

	if err := c.begin(ctx, c.opts.CommandTimeout, DefaultCommandTimeout); err != nil {
		return err
	}
	defer c.end()
	if err := c.checkNothingPending(); err != nil {
		return err
	}
	if err := c.writeSecret(ctx, c.line); err != nil {
		return err
	}
	return c.hookAuth(mech, c.answerChallenges(ctx, a, mech, pendingIR))
}

// checkMechanism checks that mech is a mechanism name the server
// advertised and, unless it is safe in clear, that the connection may
// carry it.
func (c *Client) checkMechanism(mech string) error {
	if !clientMechName(mech) {
		return fmt.Errorf("smtp: bad SASL mechanism name %q", mech)
	}
	if !c.ext.Has(extensions.Auth) {
		return clientNotAdvertised("AUTH")
	}
	offered := false
	for _, m := range c.ext.AuthMechanisms() {
		offered = offered || ascii.EqualFold(m, mech)
	}
	if !offered {
		return clientNotAdvertised("AUTH " + mech)
	}
	if !clientSafeInClear(mech) && !c.isTLS && !c.opts.AllowInsecureAuth && !c.loopback() {
		return ErrInsecureAuth
	}
	return nil
}

// buildAuthLine builds the AUTH command into c.line, with the initial
// response ir when there is one and it fits the line; it returns ir when
// it does not, to be sent as the answer to the first challenge.
func (c *Client) buildAuthLine(mech string, ir []byte) (pendingIR []byte) {
	line := append(c.line[:0], "AUTH "...)
	line = append(line, mech...)
	if ir != nil {
		n := len(line)
		line = append(line, ' ')
		line = clientAppendBase64(line, ir)
		if len(line)+2 > 512 { // RFC 4954 section 4: keep within the line limit
			line, pendingIR = line[:n], ir
		}
	}
	c.line = append(line, '\r', '\n')
	return pendingIR
}

// answerChallenges reads the server's replies after the AUTH line until
// one ends the exchange, answering each 334 challenge: with pendingIR
// first when the initial response did not fit the AUTH line, else with
// what the mechanism a makes of the challenge.
func (c *Client) answerChallenges(ctx context.Context, a sasl.Client, mech string, pendingIR []byte) error {
	for range clientMaxAuthRounds {
		c.setDeadline(ctx, c.opts.CommandTimeout, DefaultCommandTimeout)
		r, err := c.readReply(ctx)
		if err != nil {
			return err
		}
		switch r.Code {
		case 235:
			return nil
		case 334:
		default:
			return fmt.Errorf("smtp: AUTH %s: %w", mech, clientReplyError(r))
		}

		var resp []byte
		if pendingIR != nil {
			resp, pendingIR = pendingIR, nil
		} else {
			chal, derr := clientDecodeChallenge(r)
			if derr != nil {
				return c.cancelAuth(ctx, derr)
			}
			if resp, err = a.Next(chal); err != nil {
				return c.cancelAuth(ctx, fmt.Errorf("smtp: AUTH %s: %w", mech, err))
			}
		}

		// A zero-length response to a challenge is an empty line (RFC
		// 4954 section 4); "=" is only for the initial response.
		c.line = append(base64.StdEncoding.AppendEncode(c.line[:0], resp), '\r', '\n')
		if err := c.writeSecret(ctx, c.line); err != nil {
			return err
		}
	}
	return c.cancelAuth(ctx, errors.New("smtp: AUTH: too many challenges"))
}

// clientDecodeChallenge decodes the base64 text of a 334 reply (RFC 4954
// section 4); an empty text is an empty challenge.
func clientDecodeChallenge(r textproto.Reply) ([]byte, error) {
	if len(r.Lines) != 1 {
		return nil, errors.New("smtp: AUTH: malformed challenge (more than one line)")
	}
	text := r.Lines[0]
	if r.Enhanced != (EnhancedCode{}) {
		return nil, errors.New("smtp: AUTH: malformed challenge")
	}
	chal, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("smtp: AUTH: malformed challenge: %w", err)
	}
	return chal, nil
}

// cancelAuth answers "*" (RFC 4954 section 4), reads the server's reply to
// stay in step, and returns cause.
func (c *Client) cancelAuth(ctx context.Context, cause error) error {
	c.bw.WriteString("*\r\n")
	if err := c.flush(ctx); err != nil {
		return err
	}
	c.setDeadline(ctx, c.opts.CommandTimeout, DefaultCommandTimeout)
	r, err := c.readReply(ctx)
	if err != nil {
		return err
	}
	if r.Code >= 400 {
		return fmt.Errorf("%w (server: %w)", cause, clientReplyError(r))
	}
	return cause
}

// writeSecret writes and flushes a line the trace must not show.
func (c *Client) writeSecret(ctx context.Context, line []byte) error {
	if c.trace != nil {
		c.trace.setHide(true)
		defer c.trace.setHide(false)
	}
	c.bw.Write(line)
	return c.flush(ctx)
}

func clientAppendBase64(dst, src []byte) []byte {
	if len(src) == 0 {
		return append(dst, '=')
	}
	return base64.StdEncoding.AppendEncode(dst, src)
}

// clientMechName checks a SASL mechanism name (RFC 4422 section 3.1):
// 1 to 20 of upper-case letters, digits, "-" and "_".
func clientMechName(m string) bool {
	if len(m) == 0 || len(m) > 20 {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// clientSafeInClear reports whether a mechanism sends nothing an
// eavesdropper could replay or crack offline cheaply enough to matter:
// challenge-response and external mechanisms.
func clientSafeInClear(mech string) bool {
	switch mech {
	case sasl.CramMD5, sasl.ScramSHA1, sasl.ScramSHA256, "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS",
		sasl.External, sasl.Anonymous:
		return true
	}
	return false
}

// loopback reports whether the server is on this host.
func (c *Client) loopback() bool {
	switch a := c.netConn.RemoteAddr().(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	}
	return false
}
