package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/smtp"
)

const testBody = "From: a@sender.test\r\nSubject: hello\r\n\r\nHello.\r\n"

func message(to ...string) *Message {
	return &Message{Envelope: smtp.Envelope{From: "a@sender.test", To: to}, Body: []byte(testBody)}
}

func deliver(t *testing.T, d *Deliverer, msg *Message) *Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := d.Deliver(ctx, msg)
	require.NoError(t, err)
	require.Len(t, rep.Results, len(msg.To))
	return rep
}

func smtpError(t *testing.T, err error) *smtp.Error {
	t.Helper()
	var se *smtp.Error
	require.True(t, errors.As(err, &se), "want an *smtp.Error in %v", err)
	return se
}

func TestDeliverGroupsByDomain(t *testing.T) {
	n := newTestNet(t)
	one := n.addMX("mx.one.test", mxOpts{})
	two := n.addMX("mx.two.test", mxOpts{})
	n.dns.MX("one.test", 10, "mx.one.test")
	n.dns.MX("two.test", 10, "mx.two.test")

	rep := deliver(t, n.deliverer(), message("x@one.test", "y@two.test", "z@ONE.test"))

	for _, r := range rep.Results {
		assert.Equal(t, Delivered, r.Status, "%s: %v", r.Recipient, r.Err)
		assert.NoError(t, r.Err)
		assert.Equal(t, PolicyNotFound, r.TLS.Policy)
	}
	assert.Equal(t, "mx.one.test", rep.Results[0].MX)
	assert.Equal(t, netip.MustParseAddr(one.ip), rep.Results[0].IP)
	require.Len(t, one.messages(), 1, "one connection carries all recipients of a domain")
	assert.Equal(t, []string{"x@one.test", "z@ONE.test"}, one.messages()[0].to)
	assert.Equal(t, testBody, one.messages()[0].body)
	assert.Equal(t, 1, one.connections())
	require.Len(t, two.messages(), 1)
	assert.Equal(t, []string{"y@two.test"}, two.messages()[0].to)
	assert.Len(t, rep.Attempts, 2)
}

func TestDeliverTemporaryFailureMovesOn(t *testing.T) {
	n := newTestNet(t)
	first := n.addMX("mx1.example.test", mxOpts{rcpt: func(string) error {
		return &smtp.Error{Code: 451, Enhanced: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	}})
	second := n.addMX("mx2.example.test", mxOpts{})
	n.dns.MX("example.test", 10, "mx1.example.test")
	n.dns.MX("example.test", 20, "mx2.example.test")

	rep := deliver(t, n.deliverer(), message("x@example.test"))

	r := rep.Results[0]
	assert.Equal(t, Delivered, r.Status, "%v", r.Err)
	assert.Nil(t, r.Reply)
	assert.Equal(t, "mx2.example.test", r.MX)
	assert.Empty(t, first.messages())
	assert.Len(t, second.messages(), 1)
	require.Len(t, rep.Attempts, 2)
	assert.Equal(t, 451, smtpError(t, rep.Attempts[0].Err).Code)
}

func TestDeliverPermanentFailureEndsRecipient(t *testing.T) {
	n := newTestNet(t)
	first := n.addMX("mx1.example.test", mxOpts{rcpt: func(to string) error {
		if to == "gone@example.test" {
			return &smtp.Error{Code: 550, Enhanced: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}})
	second := n.addMX("mx2.example.test", mxOpts{})
	n.dns.MX("example.test", 10, "mx1.example.test")
	n.dns.MX("example.test", 20, "mx2.example.test")

	rep := deliver(t, n.deliverer(), message("gone@example.test", "here@example.test"))

	assert.Equal(t, PermanentFailure, rep.Results[0].Status)
	require.NotNil(t, rep.Results[0].Reply)
	assert.Equal(t, 550, rep.Results[0].Reply.Code)
	assert.Equal(t, "mx1.example.test", rep.Results[0].MX)
	assert.Equal(t, Delivered, rep.Results[1].Status)
	require.Len(t, first.messages(), 1)
	assert.Equal(t, []string{"here@example.test"}, first.messages()[0].to)
	assert.Equal(t, 0, second.connections(), "a 5xx is not retried elsewhere")
}

func TestDeliverAllTemporaryFailures(t *testing.T) {
	n := newTestNet(t)
	n.addMX("mx1.example.test", mxOpts{rcpt: func(string) error {
		return &smtp.Error{Code: 452, Enhanced: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
	}})
	n.dns.MX("example.test", 10, "mx1.example.test")
	n.dns.MX("example.test", 20, "down.example.test")
	n.dns.A("down.example.test", "127.0.0.250") // nothing listens there

	rep := deliver(t, n.deliverer(), message("x@example.test"))

	r := rep.Results[0]
	assert.Equal(t, TemporaryFailure, r.Status)
	assert.Equal(t, "down.example.test", r.MX, "the last host tried")
	assert.True(t, smtpError(t, r.Err).Temporary())
	assert.Nil(t, r.Reply, "the last host did not answer")
	require.Len(t, rep.Attempts, 2)
	assert.Equal(t, 452, smtpError(t, rep.Attempts[0].Err).Code)
}

func TestDeliverBrokenConnectionMovesOn(t *testing.T) {
	n := newTestNet(t)
	n.dns.MX("example.test", 10, "down.example.test")
	n.dns.A("down.example.test", "127.0.0.250")
	up := n.addMX("up.example.test", mxOpts{})
	n.dns.MX("example.test", 20, "up.example.test")

	rep := deliver(t, n.deliverer(), message("x@example.test"))

	assert.Equal(t, Delivered, rep.Results[0].Status, "%v", rep.Results[0].Err)
	assert.Len(t, up.messages(), 1)
}

func TestDeliverNullMX(t *testing.T) {
	n := newTestNet(t)
	n.dns.MX("null.test", 0, ".")

	rep := deliver(t, n.deliverer(), message("x@null.test"))

	r := rep.Results[0]
	assert.Equal(t, PermanentFailure, r.Status)
	assert.Equal(t, smtp.EnhancedCode{5, 1, 10}, smtpError(t, r.Err).Enhanced)
	assert.Nil(t, r.Reply, "no server said so")
	assert.Empty(t, rep.Attempts, "no connection is made")
}

func TestDeliverImplicitMX(t *testing.T) {
	n := newTestNet(t)
	m := n.addMX("implicit.test", mxOpts{})

	rep := deliver(t, n.deliverer(), message("x@implicit.test"))

	assert.Equal(t, Delivered, rep.Results[0].Status, "%v", rep.Results[0].Err)
	assert.Equal(t, "implicit.test", rep.Results[0].MX)
	assert.Len(t, m.messages(), 1)
}

func TestDeliverNoSuchDomain(t *testing.T) {
	n := newTestNet(t)
	rep := deliver(t, n.deliverer(), message("x@nowhere.test"))
	assert.Equal(t, PermanentFailure, rep.Results[0].Status)
	assert.Equal(t, smtp.EnhancedCode{5, 1, 2}, smtpError(t, rep.Results[0].Err).Enhanced)
}

func TestDeliverDNSFailureIsTemporary(t *testing.T) {
	n := newTestNet(t)
	n.dns.ServFail("broken.test")
	rep := deliver(t, n.deliverer(), message("x@broken.test"))
	assert.Equal(t, TemporaryFailure, rep.Results[0].Status)
	assert.Equal(t, smtp.EnhancedCode{4, 4, 3}, smtpError(t, rep.Results[0].Err).Enhanced)
}

func TestDeliverBadRecipient(t *testing.T) {
	n := newTestNet(t)
	rep := deliver(t, n.deliverer(), message("nodomain"))
	assert.Equal(t, PermanentFailure, rep.Results[0].Status)
	assert.Equal(t, smtp.EnhancedCode{5, 1, 3}, smtpError(t, rep.Results[0].Err).Enhanced)
}

func TestDeliverOpportunisticTLS(t *testing.T) {
	n := newTestNet(t)
	other := newTestCA(t, "Unknown CA")
	cert := other.valid(t, "wrong.name.test")
	m := n.addMX("mx.example.test", mxOpts{cert: &cert})
	n.dns.MX("example.test", 10, "mx.example.test")

	rep := deliver(t, n.deliverer(), message("x@example.test"))

	r := rep.Results[0]
	assert.Equal(t, Delivered, r.Status, "%v", r.Err)
	assert.Equal(t, PolicyNotFound, r.TLS.Policy)
	assert.True(t, r.TLS.TLS, "STARTTLS is used when offered")
	assert.False(t, r.TLS.Verified)
	assert.True(t, r.TLS.Succeeded(), "no policy, no failure to report")
	require.Len(t, m.messages(), 1)
	assert.True(t, m.messages()[0].tls)
}

func TestDeliverAddressFamilyIPv6(t *testing.T) {
	probe, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	probe.Close()
	n := newTestNet(t)
	m := n.addMX("mx.example.test", mxOpts{ip: "::1"})
	n.dns.A("mx.example.test", "127.0.0.250") // nothing listens there
	n.dns.MX("example.test", 10, "mx.example.test")

	d := n.deliverer()
	d.AddressFamily = IPv6Only
	rep := deliver(t, d, message("x@example.test"))

	assert.Equal(t, Delivered, rep.Results[0].Status, "%v", rep.Results[0].Err)
	assert.Equal(t, netip.MustParseAddr("::1"), rep.Results[0].IP)
	assert.Len(t, m.messages(), 1)
	assert.Len(t, rep.Attempts, 1, "the A record is not tried")
}

func TestSendMailError(t *testing.T) {
	n := newTestNet(t)
	n.addMX("mx.example.test", mxOpts{})
	n.dns.MX("example.test", 10, "mx.example.test")
	n.dns.MX("null.test", 0, ".")
	d := n.deliverer()

	require.NoError(t, d.SendMail(context.Background(), "a@sender.test", []string{"x@example.test"}, []byte(testBody)))

	err := d.SendMail(context.Background(), "a@sender.test", []string{"x@example.test", "y@null.test"}, []byte(testBody))
	var de *DeliveryError
	require.True(t, errors.As(err, &de))
	require.Len(t, de.Failed, 1)
	assert.Equal(t, "y@null.test", de.Failed[0].Recipient)
	assert.False(t, de.Temporary())
	assert.ErrorIs(t, err, ErrNullMX)
}

func TestDeliverPlaintextAfterFailedOpportunisticHandshake(t *testing.T) {
	n := newTestNet(t)
	cert := n.ca.valid(t, "mx.example.test")
	m := n.addMX("mx.example.test", mxOpts{cert: &cert, tlsMax: tls.VersionTLS11}) // below what the client accepts
	n.dns.MX("example.test", 10, "mx.example.test")

	rep := deliver(t, n.deliverer(), message("x@example.test"))

	r := rep.Results[0]
	assert.Equal(t, Delivered, r.Status, "%v", r.Err)
	assert.False(t, r.TLS.TLS, "delivered in clear on the second connection")
	require.Len(t, rep.Attempts, 2)
	assert.Equal(t, ResultValidationFailure, rep.Attempts[0].TLS.Failure)
	require.Len(t, m.messages(), 1)
	assert.False(t, m.messages()[0].tls)
}

func TestDeliverAttemptTimeout(t *testing.T) {
	n := newTestNet(t)
	// 127.0.0.1 on the test port accepts connections and never greets.
	n.dns.MX("example.test", 10, "silent.example.test")
	n.dns.A("silent.example.test", "127.0.0.1")
	up := n.addMX("up.example.test", mxOpts{})
	n.dns.MX("example.test", 20, "up.example.test")
	d := n.deliverer()
	d.AttemptTimeout = 200 * time.Millisecond

	rep := deliver(t, d, message("x@example.test"))

	assert.Equal(t, Delivered, rep.Results[0].Status, "%v", rep.Results[0].Err)
	assert.Len(t, up.messages(), 1)
	require.Len(t, rep.Attempts, 2)
	assert.True(t, smtpError(t, rep.Attempts[0].Err).Temporary())
}

func TestDeliverTotalTimeout(t *testing.T) {
	n := newTestNet(t)
	n.dns.MX("example.test", 10, "silent.example.test")
	n.dns.A("silent.example.test", "127.0.0.1")
	up := n.addMX("up.example.test", mxOpts{})
	n.dns.MX("example.test", 20, "up.example.test")
	d := n.deliverer()
	d.Timeout = 200 * time.Millisecond

	rep := deliver(t, d, message("x@example.test"))

	assert.Equal(t, TemporaryFailure, rep.Results[0].Status)
	assert.Empty(t, up.messages(), "the domain's time ran out on the first host")
}

func TestDeliverMaxAttempts(t *testing.T) {
	n := newTestNet(t)
	for i := range 3 {
		host := "down" + strconv.Itoa(i) + ".example.test"
		n.dns.MX("example.test", uint16(10+i), host)
		n.dns.A(host, "127.0.0."+strconv.Itoa(250+i))
	}
	d := n.deliverer()
	d.MaxAttempts = 2

	rep := deliver(t, d, message("x@example.test"))

	assert.Equal(t, TemporaryFailure, rep.Results[0].Status)
	assert.Len(t, rep.Attempts, 2)
}

func TestDeliverAddressLiteral(t *testing.T) {
	n := newTestNet(t)
	m := n.addMX("literal.test", mxOpts{})

	rep := deliver(t, n.deliverer(), message("x@["+m.ip+"]"))

	assert.Equal(t, Delivered, rep.Results[0].Status, "%v", rep.Results[0].Err)
	assert.Len(t, m.messages(), 1)
}

func TestDeliverConcurrentDomains(t *testing.T) {
	n := newTestNet(t)
	m := n.addMX("mx.shared.test", mxOpts{})
	var to []string
	for i := range 20 {
		domain := "d" + strconv.Itoa(i) + ".test"
		n.dns.MX(domain, 10, "mx.shared.test")
		to = append(to, "x@"+domain)
	}
	d := n.deliverer()
	d.Concurrency = 4

	rep := deliver(t, d, message(to...))

	for _, r := range rep.Results {
		assert.Equal(t, Delivered, r.Status, "%s: %v", r.Recipient, r.Err)
	}
	assert.Len(t, m.messages(), 20)
}

func TestNetResolverIsNeverAuthentic(t *testing.T) {
	z := newTestDNS(t)
	z.MX("example.test", 10, "mx.example.test")
	z.A("mx.example.test", "192.0.2.1")
	z.MX("null.test", 0, ".")
	r := netResolverFor(z.Addr)

	_, _, err := ResolveMX(context.Background(), r, "null.test")
	assert.ErrorIs(t, err, ErrNullMX, "net.Resolver keeps the root name of a null MX")

	hosts, info, err := ResolveMX(context.Background(), r, "example.test")
	require.NoError(t, err)
	assert.Equal(t, []string{"mx.example.test"}, hostNames(hosts))
	assert.False(t, info.Authentic, "the AD bit the server sent is not seen")

	addrs, info, err := LookupAddrs(context.Background(), r, "mx.example.test", IPv6First)
	require.NoError(t, err)
	assert.Equal(t, []netip.Addr{netip.MustParseAddr("192.0.2.1")}, addrs)
	assert.False(t, info.Authentic)
}

func TestDeliverKeepsTheServersReply(t *testing.T) {
	n := newTestNet(t)
	n.addMX("mx.example.test", mxOpts{rcpt: func(string) error {
		return &smtp.Error{Code: 452, Enhanced: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
	}})
	n.dns.MX("example.test", 10, "mx.example.test")
	n.addMX("mx.other.test", mxOpts{})
	n.dns.MX("other.test", 10, "mx.other.test")

	rep := deliver(t, n.deliverer(), message("x@example.test", "y@other.test"))

	r := rep.Results[0]
	assert.Equal(t, TemporaryFailure, r.Status)
	require.NotNil(t, r.Reply)
	assert.Equal(t, 452, r.Reply.Code)
	require.Len(t, rep.Attempts, 2)
	assert.Equal(t, "example.test", rep.Attempts[0].Domain, "attempts come domain by domain in the order of To")
	assert.Equal(t, "other.test", rep.Attempts[1].Domain)
}

func TestDeliverSplitsAfterTooManyRecipients(t *testing.T) {
	n := newTestNet(t)
	m := n.addMX("mx.example.test", mxOpts{maxRcpt: 2}) // the rest get 452 4.5.3
	n.dns.MX("example.test", 10, "mx.example.test")
	var to []string
	for i := range 5 {
		to = append(to, "r"+strconv.Itoa(i)+"@example.test")
	}

	rep := deliver(t, n.deliverer(), message(to...))

	for _, r := range rep.Results {
		assert.Equal(t, Delivered, r.Status, "%s: %v", r.Recipient, r.Err)
	}
	msgs := m.messages()
	require.Len(t, msgs, 3, "transactions of 2, 2 and 1 recipients")
	assert.Equal(t, []string{"r0@example.test", "r1@example.test"}, msgs[0].to)
	assert.Equal(t, []string{"r4@example.test"}, msgs[2].to)
	assert.Equal(t, 1, m.connections(), "all on one connection")
	assert.Len(t, rep.Attempts, 1)
}
