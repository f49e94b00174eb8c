package smtp

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/internal/ascii"
	"github.com/postwire/postwire/textproto"
)

// This file is ETRN, remote message queue starting (RFC 1985): the node
// argument, the Session ability that starts the application's queue, and
// the server's handler with its per-connection limit.

// DefaultMaxETRN is how many ETRN commands (RFC 1985) one connection may
// send when Server.MaxETRN is 0.
const DefaultMaxETRN = 5

// ETRNNodeKind is what an ETRN argument names (RFC 1985 section 5: an
// optional option character, then the node name).
type ETRNNodeKind uint8

const (
	// ETRNHost is a plain node name: the queue of mail for that host
	// (RFC 1985 section 5).
	ETRNHost ETRNNodeKind = iota
	// ETRNSubdomains is "@domain": the queues of every host within the
	// domain (RFC 1985 section 5, the "@" option character).
	ETRNSubdomains
	// ETRNQueue is "#name": a queue the server keeps under a name of its
	// own rather than a host name (RFC 1985 section 5, the "#" option
	// character).
	ETRNQueue
)

// ETRNNode is the argument of one ETRN command (RFC 1985 section 5).
type ETRNNode struct {
	Kind ETRNNodeKind
	// Name is the node name without its option character: a domain for
	// ETRNHost and ETRNSubdomains, as the client wrote it (compare it
	// without regard to case), or the queue's name for ETRNQueue.
	Name string
}

// String returns the node as it is written on the wire: "example.org",
// "@example.org" or "#queue" (RFC 1985 section 5).
func (n ETRNNode) String() string {
	switch n.Kind {
	case ETRNSubdomains:
		return "@" + n.Name
	case ETRNQueue:
		return "#" + n.Name
	}
	return n.Name
}

// errETRNSyntax is a node argument RFC 1985 section 5 does not allow.
var errETRNSyntax = errors.New("smtp: bad ETRN node")

// ParseETRNNode parses the argument of ETRN: "[option character] node
// name" (RFC 1985 section 5), where the option character is "@" (every
// host of the domain) or "#" (a named queue). A host or domain name must
// be a fully qualified domain name in ASCII (the RFC's example answers
// "ETRN localname" with 501); a queue name is one or more printable ASCII
// characters other than space.
func ParseETRNNode(arg string) (ETRNNode, error) {
	var n ETRNNode
	switch {
	case strings.HasPrefix(arg, "@"):
		n = ETRNNode{Kind: ETRNSubdomains, Name: arg[1:]}
	case strings.HasPrefix(arg, "#"):
		n = ETRNNode{Kind: ETRNQueue, Name: arg[1:]}
	default:
		n = ETRNNode{Kind: ETRNHost, Name: arg}
	}
	if n.Kind == ETRNQueue {
		if !printableToken(n.Name) {
			return ETRNNode{}, errETRNSyntax
		}
		return n, nil
	}
	if !etrnDomain(n.Name) {
		return ETRNNode{}, errETRNSyntax
	}
	return n, nil
}

// etrnDomain reports whether d is a fully qualified domain name in ASCII:
// the grammar of RFC 5321 section 4.1.2's Domain, with at least one dot.
func etrnDomain(d string) bool {
	if !strings.Contains(d, ".") || strings.HasPrefix(d, "[") {
		return false
	}
	p, err := textproto.ParseMailbox("postmaster@"+d, textproto.ParseOptions{})
	return err == nil && ascii.EqualFold(p.Domain, d)
}

// ETRNSession is a Session whose application holds mail and can start
// delivering it on request (RFC 1985). The Server advertises ETRN in EHLO
// only for such a session, and answers ETRN with 502 5.5.1 otherwise.
//
// The library keeps no queue: ETRN only tells the application which
// node's mail to send now. The delivery itself happens on connections the
// application opens (RFC 1985 section 5: "using another SMTP
// connection"), typically with this package's Client, while ETRN is
// answered at once.
type ETRNSession interface {
	Session
	// ETRN starts delivery of what is held for node. It should return
	// quickly: RFC 1985 section 5 has the server answer at once and do
	// the work afterwards. The result picks the success reply; an error
	// refuses: an *Error is sent as it is (use code 459 and a reason for
	// a node the client may not ask for, 458 for a queue that cannot be
	// started now, 501 for a name that is not well formed for this
	// application), any other error is logged and answered 458 4.3.0
	// "Unable to queue messages for node ...".
	//
	// The Server calls it at most Server.MaxETRN times per connection, and
	// once per node: the requests beyond get 458 without reaching the
	// Session, so that a client cannot make the server flood a site.
	ETRN(ctx context.Context, node ETRNNode) (ETRNResult, error)
}

// ETRNResult chooses the success reply to ETRN (RFC 1985 section 5).
type ETRNResult struct {
	// Code is one of:
	//   - 250 (or 0) "OK, queuing for node <x> started": a run was
	//     started, whether anything waits is not known;
	//   - 251 "OK, no messages waiting for node <x>";
	//   - 252 "OK, pending messages for node <x> started": some wait,
	//     their number is not known;
	//   - 253 "OK, <n> pending messages for node <x> started", n being
	//     Messages.
	//
	// Any other value is sent as 250.
	Code int
	// Messages is the count a 253 reports.
	Messages int
}

// etrnState is what a connection remembers of its ETRN commands, for the
// limit of Server.MaxETRN and one request per node.
type etrnState struct {
	count int
	nodes []string // as given, lower-cased
}

// canETRN is the ETRN row's offered column: the session starts queues.
func (c *Conn) canETRN() bool {
	_, ok := c.session.(ETRNSession)
	return ok
}

// handleETRN answers ETRN (RFC 1985 section 5): the node is parsed, the
// connection's limit checked, and the Session asked to start the queue.
func (c *Conn) handleETRN(args []byte) outcome {
	if len(args) == 0 {
		// RFC 1985 section 5's example: "ETRN" alone is "500 Syntax Error".
		return answer(500, EnhancedCode{5, 5, 2}, "Syntax error: ETRN needs a node name")
	}
	node, err := ParseETRNNode(string(args))
	if err != nil {
		return answer(501, EnhancedCode{5, 5, 4}, "Syntax error in parameters: ETRN [@|#]node")
	}
	wire := node.String()
	if refusal := c.limitETRN(wire); !refusal.isZero() {
		return refusal
	}

	res, err := c.session.(ETRNSession).ETRN(c.ctx, node)
	if err != nil {
		return c.etrnFailure(wire, err)
	}
	return etrnReply(res, wire)
}

// limitETRN counts this ETRN against Server.MaxETRN and refuses a node
// already asked for on this connection, with 458 (RFC 1985 section 5:
// "Unable to queue messages for node").
func (c *Conn) limitETRN(node string) outcome {
	if c.etrn == nil {
		c.etrn = &etrnState{}
	}
	key := ascii.ToLower(node)
	limit := setting(c.srv.MaxETRN, DefaultMaxETRN)
	switch {
	case limit > 0 && c.etrn.count >= limit:
		return outcome{code: 458, enh: EnhancedCode{4, 7, 0},
			lines: []string{"Unable to queue messages for node " + node + ": too many ETRN requests on this connection"}}
	case containsString(c.etrn.nodes, key):
		return outcome{code: 458, enh: EnhancedCode{4, 7, 0},
			lines: []string{"Unable to queue messages for node " + node + ": already requested on this connection"}}
	}
	c.etrn.count++
	c.etrn.nodes = append(c.etrn.nodes, key)
	return outcome{}
}

// etrnFailure is the outcome of the Session's refusal: an *Error as it
// is, anything else logged and answered 458 4.3.0.
func (c *Conn) etrnFailure(node string, err error) outcome {
	var se *Error
	if errors.As(err, &se) {
		return failure(err)
	}
	c.srv.logger().Warn("smtp: backend error", "op", "ETRN", "remote", c.remote, "err", err)
	return outcome{code: 458, enh: EnhancedCode{4, 3, 0}, lines: []string{"Unable to queue messages for node " + node}}
}

// etrnReply is the success reply RFC 1985 section 5 gives for res.
func etrnReply(res ETRNResult, node string) outcome {
	var text string
	switch res.Code {
	case 251:
		text = "OK, no messages waiting for node " + node
	case 252:
		text = "OK, pending messages for node " + node + " started"
	case 253:
		text = "OK, " + strconv.Itoa(res.Messages) + " pending messages for node " + node + " started"
	default:
		res.Code = 250
		text = "OK, queuing for node " + node + " started"
	}
	return outcome{code: res.Code, enh: EnhancedCode{2, 0, 0}, lines: []string{text}}
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// addQueueExtensions adds to the EHLO keywords the queue commands this
// session offers: ETRN (RFC 1985 section 3) for an ETRNSession, ATRN (RFC
// 2645 section 4) for an ODMRSession.
func (c *Conn) addQueueExtensions(exts *extensions.Set) {
	if c.canETRN() {
		exts.Add(extensions.ETRN, "")
	}
	if c.canATRN() {
		exts.Add(extensions.ATRN, "")
	}
}
