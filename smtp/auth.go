package smtp

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"log/slog"
	"slices"
	"strings"

	"github.com/postwire/postwire/internal/ascii"
	"github.com/postwire/postwire/sasl"
)

// errAuthLineTooLong is a response line over RFC 4954's 12288 octets.
var errAuthLineTooLong = errors.New("smtp: AUTH response line too long")

// handleAuth runs an AUTH exchange (RFC 4954 section 4). The command
// table has already checked what AUTH needs: no transaction, EHLO, no
// earlier success (503), mechanisms on offer (502), and TLS unless
// Server.AllowInsecureAuth (538 5.7.11, answered before any credentials
// are read: an initial response on the line is ignored).
func (c *Conn) handleAuth(args []byte) outcome {
	mech, ir, hasIR := strings.Cut(string(args), " ")
	if mech == "" {
		return answer(501, EnhancedCode{5, 5, 4}, "Syntax: AUTH mechanism [initial-response]")
	}
	mech = ascii.ToUpper(mech)
	as := c.session.(AuthSession)
	if !slices.ContainsFunc(c.offerable(as.AuthMechanisms()), func(m string) bool { return ascii.EqualFold(m, mech) }) {
		return answer(504, EnhancedCode{5, 5, 4}, "Unrecognized authentication type")
	}
	resp, err := initialResponse(ir, hasIR)
	if err != nil {
		return c.authFailed(mech, nil, err)
	}

	server, err := as.Auth(mech)
	if err != nil {
		return c.authFailed(mech, nil, err)
	}
	if err := c.exchange(server, resp); err != nil {
		return c.authFailed(mech, server, err)
	}

	id := sasl.Identity{}
	if is, ok := server.(sasl.IdentityServer); ok {
		id = is.Identity()
	}
	c.authenticated(&id, mech)
	if hook := c.srv.Hooks.Auth; hook != nil {
		hook(c, mech, id.Authentication, nil)
	}
	return answer(235, EnhancedCode{2, 7, 0}, "Authentication successful")
}

// initialResponse decodes the initial response of AUTH (RFC 4954 section
// 4): nil when there is none, empty for "=".
func initialResponse(ir string, hasIR bool) ([]byte, error) {
	switch {
	case !hasIR:
		return nil, nil
	case ir == "=":
		return []byte{}, nil
	}
	resp, err := base64.StdEncoding.DecodeString(ir)
	if err != nil {
		return nil, sasl.ErrMalformed
	}
	return resp, nil
}

// exchange runs the mechanism from the client's first response (nil when
// it sent none) to its end: each challenge goes out in a 334 and the
// client's answer comes back. Data that comes with success goes in a last
// 334 answered by an empty line, since SMTP AUTH has no additional data
// on 235 (RFC 4954 section 4).
func (c *Conn) exchange(server sasl.Server, resp []byte) error {
	for {
		challenge, done, err := server.Next(resp)
		switch {
		case err != nil:
			return err
		case done && len(challenge) == 0:
			return nil
		}
		if resp, err = c.challenge(challenge); err != nil {
			return err
		}
		if done {
			if len(resp) != 0 {
				return sasl.ErrMalformed
			}
			return nil
		}
	}
}

// challenge sends a 334 challenge and returns the decoded response.
func (c *Conn) challenge(data []byte) ([]byte, error) {
	w := c.writer()
	b := append(w.AvailableBuffer(), "334 "...)
	b = base64.StdEncoding.AppendEncode(b, data)
	w.Write(append(b, '\r', '\n'))
	if err := c.flush(); err != nil {
		return nil, err
	}
	line, err := c.readAuthLine()
	if err != nil {
		return nil, err
	}
	if len(line) == 1 && line[0] == '*' {
		return nil, sasl.ErrCancelled
	}
	resp, err := base64.StdEncoding.AppendDecode(nil, line)
	if err != nil {
		return nil, sasl.ErrMalformed
	}
	if resp == nil {
		resp = []byte{}
	}
	return resp, nil
}

// readAuthLine reads one response line of up to 12288 octets, the least
// RFC 4954 section 4 has a server accept, CRLF removed.
func (c *Conn) readAuthLine() ([]byte, error) {
	c.beginCommand()
	if c.r == nil || c.r.Buffered() == 0 {
		if err := c.waitForInput(); err != nil {
			return nil, err
		}
	}
	var long []byte
	for {
		frag, err := c.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull || long != nil {
			long = append(long, frag...)
			if len(long) > authLineMax {
				for err == bufio.ErrBufferFull {
					_, err = c.r.ReadSlice('\n')
				}
				if err != nil {
					return nil, err
				}
				return nil, errAuthLineTooLong
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			frag = long
		}
		if err != nil {
			return nil, err
		}
		frag = bytes.TrimSuffix(bytes.TrimSuffix(frag, []byte("\n")), []byte("\r"))
		return frag, nil
	}
}

// authFailed is the outcome of a failed exchange of mech with server (nil
// when none was made), counted towards Server.MaxAuthFailures (RFC 4954
// section 6). A network failure ends the connection at once. Each failure
// is logged at Info with the user name the client tried, when the
// mechanism tells it (sasl.AttemptServer), never a password.
func (c *Conn) authFailed(mech string, server sasl.Server, err error) outcome {
	o := c.authRefusal(err)
	if o.close && o.code == 0 || o.code == 421 {
		return o // the connection broke, or timed out
	}
	user := ""
	if as, ok := server.(sasl.AttemptServer); ok {
		user = as.Attempted()
	}
	level := slog.LevelInfo
	if o.code == 454 {
		level = slog.LevelWarn // the server's trouble, its text not sent
	}
	c.log(level, "smtp: AUTH failed", "mechanism", mech, "user", user, "reply", o.code, "err", err)
	if hook := c.srv.Hooks.Auth; hook != nil {
		hook(c, mech, user, err)
	}
	o.authFailed = true
	return o
}

// authRefusal is the reply to a failed exchange.
func (c *Conn) authRefusal(err error) outcome {
	var se *Error
	switch {
	case errors.Is(err, sasl.ErrCancelled):
		return answer(501, EnhancedCode{5, 0, 0}, "Authentication cancelled")
	case errors.Is(err, errAuthLineTooLong):
		return answer(500, EnhancedCode{5, 5, 6}, "Authentication Exchange line is too long")
	case errors.Is(err, sasl.ErrInvalidCredentials):
		return answer(535, EnhancedCode{5, 7, 8}, "Authentication credentials invalid")
	case errors.Is(err, sasl.ErrMalformed):
		return answer(501, EnhancedCode{5, 5, 2}, "Malformed authentication data")
	case errors.As(err, &se):
		o := failure(err)
		o.code = se.Code // for the log
		return o
	case isNetError(err):
		return c.readFailure(err)
	}
	// Not the client's fault, and its text may hold internals: logged
	// (with the failure, by authFailed), not sent.
	return answer(454, EnhancedCode{4, 7, 0}, "Temporary authentication failure")
}
