package smtp

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/postwire/postwire/sasl"
)

// This file is the recording backend's half for ETRN and ATRN: sessions
// that start queues and hold mail, used by the transcripts (@backend etrn,
// @backend odmr) and the client/server tests.
//
// ETRN nodes the ETRN session treats specially (any other: 250):
//
//	none.example      251, nothing waiting
//	pending.example   252, some waiting, count unknown
//	count.example     253 with 3 messages
//	refused.example   459 4.7.1 (an *Error, sent as it is)
//	broken.example    a plain error (the server must say 458 4.3.0)
//
// The ODMR session lets user "user" (password "pass") take example.org,
// example.net, empty.example and broken.example; example.org holds two
// messages (the second for bob@ and unknown@), example.net one,
// empty.example none, and an ATRN whose first domain is broken.example
// fails with a plain error (451 4.3.0); later in the list it has no mail.

type srvETRNSession struct{ *srvSession }

func (s *srvETRNSession) ETRN(ctx context.Context, node ETRNNode) (ETRNResult, error) {
	s.b.mu.Lock()
	s.b.etrnNodes = append(s.b.etrnNodes, node.String())
	s.b.mu.Unlock()
	switch node.Name {
	case "none.example":
		return ETRNResult{Code: 251}, nil
	case "pending.example":
		return ETRNResult{Code: 252}, nil
	case "count.example":
		return ETRNResult{Code: 253, Messages: 3}, nil
	case "refused.example":
		return ETRNResult{}, &Error{Code: 459, Enhanced: EnhancedCode{4, 7, 1}, Message: "Node refused.example not allowed: not a customer"}
	case "broken.example":
		return ETRNResult{}, errors.New("queue manager at 10.0.0.7 unreachable")
	}
	return ETRNResult{}, nil
}

// ETRNNodes returns the nodes the sessions were asked to start.
func (b *srvBackend) ETRNNodes() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.etrnNodes...)
}

// Delivered returns DeliverHeld's per-recipient results: "address:ok" or
// "address:<code>".
func (b *srvBackend) Delivered() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.delivered...)
}

// srvHeldMessage is a message the ODMR session holds.
type srvHeldMessage struct {
	from string
	to   []string
	body string
}

// srvHeld is the ODMR session's queue, by domain.
var srvHeld = map[string][]srvHeldMessage{
	"example.org": {
		{from: "held@sender.test", to: []string{"alice@example.org"}, body: "Subject: held 1\r\n\r\nfirst\r\n"},
		{from: "held@sender.test", to: []string{"bob@example.org", "unknown@example.org"}, body: "Subject: held 2\r\n\r\nsecond\r\n"},
	},
	"example.net": {
		{from: "", to: []string{"carol@example.net"}, body: "Subject: held 3\r\n\r\nthird\r\n"},
	},
}

type srvODMRSession struct{ *srvAuthSession }

func (s *srvODMRSession) ATRNDomains(ctx context.Context, id sasl.Identity) ([]string, error) {
	if id.Authentication != "user" {
		return nil, nil
	}
	return []string{"example.org", "example.net", "empty.example", "broken.example"}, nil
}

func (s *srvODMRSession) HeldDomains(ctx context.Context, domains []string) ([]string, error) {
	var held []string
	if len(domains) > 0 && strings.EqualFold(domains[0], "broken.example") {
		return nil, errors.New("spool locked by pid 4242")
	}
	for _, d := range domains {
		d = strings.ToLower(d)
		if len(srvHeld[d]) > 0 {
			held = append(held, d)
		}
	}
	return held, nil
}

func (s *srvODMRSession) DeliverHeld(ctx context.Context, c *Client, domains []string) error {
	for _, d := range domains {
		for _, m := range srvHeld[d] {
			res, err := c.Send(ctx, &Envelope{From: m.from, To: m.to}, strings.NewReader(m.body))
			if res == nil {
				return err
			}
			s.b.mu.Lock()
			for _, r := range res.Recipients {
				s.b.delivered = append(s.b.delivered, r.Address+":"+srvResultCode(r.Err))
			}
			s.b.mu.Unlock()
		}
	}
	return nil
}

// srvResultCode is "ok" for a delivered recipient, else the reply code.
func srvResultCode(err error) string {
	var se *Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &se):
		return strconv.Itoa(se.Code)
	}
	return err.Error()
}

// srvQueueSession offers both ETRN and ATRN, for the fuzzer.
type srvQueueSession struct{ *srvODMRSession }

func (s *srvQueueSession) ETRN(ctx context.Context, node ETRNNode) (ETRNResult, error) {
	return (&srvETRNSession{s.srvSession}).ETRN(ctx, node)
}
