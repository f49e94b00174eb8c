package smtp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/internal/ascii"
	"github.com/postwire/postwire/textproto"
)

// clientOwnVerbs are the commands whose state the Client keeps itself, or
// that take more than one reply: Command refuses them and names the
// method to use.
var clientOwnVerbs = map[string]string{
	"EHLO": "Hello", "HELO": "Hello", "LHLO": "Hello",
	"MAIL": "Mail or Send", "RCPT": "Rcpt or Send", "DATA": "Data or Send", "BDAT": "Bdat or Send",
	"RSET": "Reset", "QUIT": "Quit", "STARTTLS": "StartTLS", "AUTH": "Auth",
	"ATRN": "ATRN", "TURN": "ATRN",
}

// Command sends one command line of the caller's, such as an XCLIENT
// (Postfix's extension), an ETRN with options Client.ETRN does not know,
// or a private X-verb (RFC 5321 section 4.1.5), and returns the server's
// reply parsed (RFC 5321 section 4.2). line is the command without CRLF:
// printable ASCII, at most 510 octets (section 4.5.3.1.4), checked before
// it is written.
//
// The connection stays in step: exactly one reply is read, and commands
// whose state the Client keeps (EHLO, MAIL, RCPT, DATA, BDAT, RSET, QUIT,
// STARTTLS, AUTH, ATRN) are refused with the method to use instead. A 220
// reply (XCLIENT's and XFORWARD's restart of the session) makes the next
// call say EHLO again, and Extensions is empty until then.
//
// The reply is returned whatever its code; a 4xx or 5xx reply is also
// returned as an *Error, so that err alone tells success.
func (c *Client) Command(ctx context.Context, line string) (textproto.Reply, error) {
	if err := clientCheckCommand(line); err != nil {
		return textproto.Reply{}, err
	}
	if err := c.hello(ctx); err != nil {
		return textproto.Reply{}, err
	}
	verb, _, _ := strings.Cut(line, " ")
	if m, ok := clientOwnVerbs[ascii.ToUpper(verb)]; ok {
		return textproto.Reply{}, fmt.Errorf("smtp: Command does not send %s: use Client.%s, which keeps the connection in step", ascii.ToUpper(verb), m)
	}

	r, err := c.cmd(ctx, c.opts.CommandTimeout, DefaultCommandTimeout, line, "")
	if err != nil {
		return textproto.Reply{}, err
	}
	if r.Code == 220 {
		// The session starts over, as after STARTTLS (RFC 3207 section
		// 4.2): the old extensions no longer hold.
		c.didHello, c.ehlo, c.ext = false, false, extensions.Set{}
		c.needReset, c.mailOpened = false, false
	}
	if r.Code >= 400 {
		return r, clientReplyError(r)
	}
	return r, nil
}

// clientCheckCommand checks a caller's command line: a verb, printable
// ASCII, within the line limit.
func clientCheckCommand(line string) error {
	if line == "" || line[0] == ' ' {
		return errors.New("smtp: Command needs a verb")
	}
	if len(line)+2 > 512 {
		return fmt.Errorf("smtp: command line of %d octets exceeds 512 (RFC 5321 section 4.5.3.1.4)", len(line)+2)
	}
	for i := 0; i < len(line); i++ {
		if b := line[i]; b < ' ' || b >= 0x7f {
			return fmt.Errorf("smtp: command line %q holds a byte that is not printable ASCII", line)
		}
	}
	return nil
}
