package smtp

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/postwire/postwire/internal/ascii"
	"github.com/postwire/postwire/sasl"
)

// errAuthLineTooLong is a response line over RFC 4954's 12288 octets.
var errAuthLineTooLong = errors.New("smtp: AUTH response line too long")

// handleAuth runs an AUTH exchange (RFC 4954 section 4). The state table
// allows AUTH only outside a transaction; here it also needs EHLO (AUTH is
// an extension), no earlier success (once per session, 503), and TLS
// unless Server.AllowInsecureAuth (538 5.7.11, answered before any
// credentials are read: an initial response on the line is ignored).
func (c *Conn) handleAuth(args []byte) {
	if !c.esmtp {
		c.reply(503, EnhancedCode{5, 5, 1}, "Send EHLO first")
		return
	}
	if c.identity != nil {
		c.reply(503, EnhancedCode{5, 5, 1}, "Already authenticated")
		return
	}
	mech, ir, hasIR := strings.Cut(string(args), " ")
	if mech == "" {
		c.reply(501, EnhancedCode{5, 5, 4}, "Syntax: AUTH mechanism [initial-response]")
		return
	}
	as, ok := c.session.(AuthSession)
	var offered []string
	if ok {
		offered = as.AuthMechanisms()
	}
	if len(offered) == 0 {
		c.reply(502, EnhancedCode{5, 5, 1}, "AUTH not available")
		return
	}
	if c.tlsState == nil && !c.srv.AllowInsecureAuth {
		c.reply(538, EnhancedCode{5, 7, 11}, "Encryption required for requested authentication mechanism")
		return
	}
	mech = ascii.ToUpper(mech)
	found := false
	for _, m := range offered {
		found = found || ascii.EqualFold(m, mech)
	}
	if !found {
		c.reply(504, EnhancedCode{5, 5, 4}, "Unrecognized authentication type")
		return
	}
	var resp []byte
	if hasIR {
		if ir == "=" {
			resp = []byte{}
		} else {
			var err error
			if resp, err = base64.StdEncoding.DecodeString(ir); err != nil {
				c.authFailed(sasl.ErrMalformed)
				return
			}
		}
	}
	server, err := as.Auth(mech)
	if err != nil {
		c.authFailed(err)
		return
	}
	for {
		challenge, done, err := server.Next(resp)
		if err != nil {
			c.authFailed(err)
			return
		}
		if done && len(challenge) == 0 {
			break
		}
		// Data with success goes in a 334 answered by an empty line: SMTP
		// AUTH has no additional data on 235 (RFC 4954 section 4).
		if resp, err = c.challenge(challenge); err != nil {
			c.authFailed(err)
			return
		}
		if done {
			if len(resp) != 0 {
				c.authFailed(sasl.ErrMalformed)
				return
			}
			break
		}
	}
	id := sasl.Identity{}
	if is, ok := server.(sasl.IdentityServer); ok {
		id = is.Identity()
	}
	c.mu.Lock()
	c.identity, c.authMech = &id, mech
	c.mu.Unlock()
	c.reply(235, EnhancedCode{2, 7, 0}, "Authentication successful")
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

// authFailed answers a failed exchange (RFC 4954 section 6) and counts it;
// Server.MaxAuthFailures failures end the connection with 421 4.7.0. A
// network failure ends it at once.
func (c *Conn) authFailed(err error) {
	var se *Error
	switch {
	case errors.Is(err, sasl.ErrCancelled):
		c.reply(501, EnhancedCode{5, 0, 0}, "Authentication cancelled")
	case errors.Is(err, errAuthLineTooLong):
		c.reply(500, EnhancedCode{5, 5, 6}, "Authentication Exchange line is too long")
	case errors.Is(err, sasl.ErrInvalidCredentials):
		c.reply(535, EnhancedCode{5, 7, 8}, "Authentication credentials invalid")
	case errors.Is(err, sasl.ErrMalformed):
		c.reply(501, EnhancedCode{5, 5, 2}, "Malformed authentication data")
	case errors.As(err, &se):
		c.replyError(err)
	case isNetError(err):
		c.readFailed(err)
		c.closing = true
		return
	default:
		c.srv.logger().Warn("smtp: AUTH failed", "remote", c.remote, "err", err)
		c.reply(454, EnhancedCode{4, 7, 0}, "Temporary authentication failure")
	}
	c.authFailures++
	if c.authFailures >= orDefault(c.srv.MaxAuthFailures, DefaultMaxAuthFailures) && !c.closing {
		c.reply(421, EnhancedCode{4, 7, 0}, c.srv.hostname+" Too many authentication failures, closing connection")
		c.closing = true
	}
}
