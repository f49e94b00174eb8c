package smtp

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/postwire/postwire/extensions"
)

// ETRNReply is a server's success reply to ETRN (RFC 1985 section 5).
type ETRNReply struct {
	// Code is 250 (queuing started), 251 (no messages waiting), 252
	// (pending messages started) or 253 (Messages pending messages
	// started); a server may answer 250 to every request (RFC 1985's
	// "minimal" server always does).
	Code int
	// Messages is the count a 253 reply gives, 0 otherwise.
	Messages int
	// Text is the reply's text without its enhanced status code.
	Text string
}

// ErrETRNNotOffered is returned by Client.ETRN when the server did not
// advertise ETRN in its EHLO reply (RFC 1985 section 3).
var ErrETRNNotOffered = errors.New("smtp: server does not offer ETRN")

// ETRN asks the server to start delivering the mail it holds for node
// (RFC 1985 section 5): a domain, "@domain" for every host in it, or
// "#name" for a named queue, checked as ParseETRNNode does before anything
// is sent. The delivery itself happens later, on connections the server
// opens to the node's MX.
//
// A success (250 to 253) comes back as an ETRNReply; a refusal (458, 459,
// 500, 501, ...) as an *Error. A server that did not advertise ETRN gets
// nothing: the error is ErrETRNNotOffered.
func (c *Client) ETRN(ctx context.Context, node string) (ETRNReply, error) {
	if _, err := ParseETRNNode(node); err != nil {
		return ETRNReply{}, errors.New("smtp: ETRN node " + strconv.Quote(node) + " is not a domain, @domain or #queue")
	}
	if err := c.hello(ctx); err != nil {
		return ETRNReply{}, err
	}
	if !c.ext.Has(extensions.ETRN) {
		return ETRNReply{}, ErrETRNNotOffered
	}

	r, err := c.cmd(ctx, c.opts.CommandTimeout, DefaultCommandTimeout, "ETRN ", node)
	if err != nil {
		return ETRNReply{}, err
	}
	if r.Code < 250 || r.Code > 253 {
		return ETRNReply{}, clientReplyError(r)
	}
	rep := ETRNReply{Code: r.Code, Text: clientJoin(r.Lines)}
	if r.Code == 253 {
		rep.Messages = etrnCount(rep.Text)
	}
	return rep, nil
}

// etrnCount reads n from a 253 reply's text, "OK, <n> pending messages
// for node <x> started" (RFC 1985 section 5); 0 when it is not there.
func etrnCount(text string) int {
	text = strings.TrimPrefix(text, "OK,")
	text = strings.TrimLeft(text, " ")
	end := 0
	for end < len(text) && end < 9 && text[end] >= '0' && text[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(text[:end])
	return n
}
