package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
	"github.com/postwire/postwire/smtp/delivery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A message submitted on either port reaches the upstream byte for byte,
// the client's 250 is the upstream's (its queue id), and the log names the
// user and that reply.
func TestRelayPassesTheMessageAndTheUpstreamsReply(t *testing.T) {
	for _, implicit := range []bool{false, true} {
		t.Run(fmt.Sprintf("implicit-tls=%v", implicit), func(t *testing.T) {
			up := startUpstream(t, nil)
			r := startRelay(t, "-upstream", up.addr, "-upstream-tls", "none")
			msg := testMessage("through the relay")
			res, err := submit(t, r, implicit, "alice@example.org", "secret", "alice@example.org", []string{"bob@example.net", "carol@example.net"}, msg)
			require.NoError(t, err, r.log.String())

			got := up.Messages()
			require.Len(t, got, 1)
			assert.Equal(t, "alice@example.org", got[0].from)
			assert.Equal(t, []string{"bob@example.net", "carol@example.net"}, got[0].to)
			assert.Equal(t, msg, got[0].body)
			assert.Equal(t, "Ok: queued as "+got[0].id, res.Reply)
			assert.Contains(t, r.log.String(), `msg="message relayed" user=alice@example.org from=alice@example.org to=bob@example.net,carol@example.net`)
			assert.Contains(t, r.log.String(), `upstream_reply="Ok: queued as `+got[0].id+`"`)
		})
	}
}

// Several transactions on one client connection share one upstream
// connection.
func TestRelayReusesTheUpstreamConnection(t *testing.T) {
	up := startUpstream(t, nil)
	r := startRelay(t, "-upstream", up.addr, "-upstream-tls", "none")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := smtp.DialStartTLS(ctx, r.at.submission.String(), &smtp.DialOptions{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Auth(ctx, sasl.NewPlainClient("", "bob", "hunter2")))
	for i := range 3 {
		_, err := c.Send(ctx, &smtp.Envelope{From: "b@example.net", To: []string{"x@example.net"}}, bytes.NewReader(testMessage(fmt.Sprint(i))))
		require.NoError(t, err)
	}
	require.NoError(t, c.Quit(ctx))
	assert.Len(t, up.Messages(), 3)
	up.mu.Lock()
	assert.Equal(t, 1, up.sessions)
	up.mu.Unlock()
}

// The envelope sender must be the user's: 553 5.7.1 otherwise, and the
// upstream is not even asked. AUTH comes first: 530 without it.
func TestRelayBindsTheSenderToTheUser(t *testing.T) {
	up := startUpstream(t, nil)
	r := startRelay(t, "-upstream", up.addr, "-upstream-tls", "none")
	msg := testMessage("forged")
	for _, tc := range []struct{ user, pass, from string }{
		{"alice@example.org", "secret", "mallory@example.org"},
		{"alice@example.org", "secret", "alice@example.com"},
		{"alice@example.org", "secret", ""},
		{"bob", "hunter2", "alice@example.org"},
		{"bob", "hunter2", "bob@example.com"},
	} {
		_, err := submit(t, r, false, tc.user, tc.pass, tc.from, []string{"x@example.net"}, msg)
		var se *smtp.Error
		require.ErrorAs(t, err, &se, "%+v", tc)
		assert.Equal(t, 553, se.Code, "%+v", tc)
		assert.Equal(t, smtp.EnhancedCode{5, 7, 1}, se.Enhanced)
	}
	// The domain of one's own address in any case is one's own.
	_, err := submit(t, r, false, "alice@example.org", "secret", "alice@EXAMPLE.org", []string{"x@example.net"}, msg)
	require.NoError(t, err)
	_, err = submit(t, r, false, "bob", "hunter2", "bob@example.org", []string{"x@example.net"}, msg)
	require.NoError(t, err)

	_, err = submit(t, r, false, "", "", "alice@example.org", []string{"x@example.net"}, msg)
	var se *smtp.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 530, se.Code)
	_, err = submit(t, r, false, "alice@example.org", "wrong", "alice@example.org", []string{"x@example.net"}, msg)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 535, se.Code)

	assert.Len(t, up.Messages(), 2)
	up.mu.Lock()
	assert.Equal(t, 2, up.sessions, "refused senders opened no upstream connection")
	up.mu.Unlock()
}

// A recipient the upstream refuses is refused with its reply; the message
// goes to the others. A body it refuses is refused with its reply.
func TestRelayPassesRefusals(t *testing.T) {
	up := startUpstream(t, nil)
	r := startRelay(t, "-upstream", up.addr, "-upstream-tls", "none")
	res, err := submit(t, r, false, "alice@example.org", "secret", "alice@example.org", []string{"nobody@example.net", "bob@example.net"}, testMessage("one refused"))
	var partial *smtp.RecipientsError
	require.ErrorAs(t, err, &partial, "accepted for one recipient of two")
	assert.Equal(t, 1, partial.Accepted)
	var se *smtp.Error
	require.ErrorAs(t, res.Recipients[0].Err, &se)
	assert.Equal(t, 550, se.Code)
	assert.Equal(t, smtp.ErrNoSuchUser.Message, se.Message)
	assert.NoError(t, res.Recipients[1].Err)
	require.Len(t, up.Messages(), 1)
	assert.Equal(t, []string{"bob@example.net"}, up.Messages()[0].to)

	_, err = submit(t, r, false, "alice@example.org", "secret", "alice@example.org", []string{"nobody@example.net"}, testMessage("all refused"))
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 550, se.Code)

	_, err = submit(t, r, false, "alice@example.org", "secret", "alice@example.org", []string{"bob@example.net"}, []byte("Subject: REJECT-BODY\r\n\r\nx\r\n"))
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 554, se.Code)
	assert.Equal(t, "Content refused upstream", se.Message)
	assert.Len(t, up.Messages(), 1)
}

// An upstream that is down is the client's 451 to MAIL.
func TestRelayUpstreamDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	r := startRelay(t, "-upstream", addr, "-upstream-tls", "none")
	_, err = submit(t, r, false, "alice@example.org", "secret", "alice@example.org", []string{"bob@example.net"}, testMessage("down"))
	var se *smtp.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 451, se.Code)
	assert.Equal(t, smtp.EnhancedCode{4, 4, 1}, se.Enhanced)
}

// dropUpstream is an upstream that accepts the envelope and hangs up after
// reading part of the body: the relay's client must get a 4xx.
func dropUpstream(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(20 * time.Second))
				br := bufio.NewReader(nc)
				io.WriteString(nc, "220 drop.test ESMTP\r\n")
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					switch verb := strings.ToUpper(strings.Fields(line + " x")[0]); verb {
					case "EHLO":
						io.WriteString(nc, "250-drop.test\r\n250 8BITMIME\r\n")
					case "DATA":
						io.WriteString(nc, "354 go ahead\r\n")
						br.ReadString('\n') // one line of the body, then gone
						return
					case "QUIT":
						io.WriteString(nc, "221 bye\r\n")
						return
					default:
						io.WriteString(nc, "250 ok\r\n")
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}

func TestRelayUpstreamDropsMidData(t *testing.T) {
	r := startRelay(t, "-upstream", dropUpstream(t), "-upstream-tls", "none")
	big := append(testMessage("dropped"), bytes.Repeat([]byte(strings.Repeat("x", 76)+"\r\n"), 20000)...)
	_, err := submit(t, r, false, "alice@example.org", "secret", "alice@example.org", []string{"bob@example.net"}, big)
	var se *smtp.Error
	require.ErrorAs(t, err, &se, r.log.String())
	assert.Equal(t, 4, se.Code/100, "a temporary failure: the client keeps the message")
	assert.Contains(t, r.log.String(), "upstream connection lost")
}

// A client that leaves in the middle of the body leaves nothing upstream:
// the relay hangs up on the upstream before the final dot.
func TestRelayClientDropsMidData(t *testing.T) {
	up := startUpstream(t, nil)
	r := startRelay(t, "-upstream", up.addr, "-upstream-tls", "none")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := smtp.DialStartTLS(ctx, r.at.submission.String(), &smtp.DialOptions{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	require.NoError(t, err)
	require.NoError(t, c.Auth(ctx, sasl.NewPlainClient("", "alice@example.org", "secret")))
	require.NoError(t, c.Mail(ctx, "alice@example.org", nil))
	require.NoError(t, c.Rcpt(ctx, "bob@example.net", nil))
	w, err := c.Data(ctx)
	require.NoError(t, err)
	_, err = w.Write(bytes.Repeat([]byte("half a message\r\n"), 1000))
	require.NoError(t, err)
	c.Close()

	up.waitLogouts(t, 1)
	assert.Empty(t, up.Messages())
}

// With -upstream-xclient the upstream sees the relay's client: its
// address, HELO name and login.
func TestRelayAnnouncesTheClientWithXCLIENT(t *testing.T) {
	up := startUpstream(t, func(s *smtp.Server) { s.XCLIENTTrusted = loopback })
	r := startRelay(t, "-upstream", up.addr, "-upstream-tls", "none", "-upstream-xclient")
	_, err := submit(t, r, false, "alice@example.org", "secret", "alice@example.org", []string{"bob@example.net"}, testMessage("xclient"))
	require.NoError(t, err, r.log.String())
	msgs := up.Messages()
	require.Len(t, msgs, 1)
	conn := msgs[0].conn
	attrs, used := conn.XCLIENT()
	require.True(t, used)
	assert.Equal(t, "alice@example.org", attrs.Login)
	assert.Equal(t, "laptop.example", attrs.HELO)
	assert.Equal(t, "laptop.example", conn.Hostname())
	ap, err := netip.ParseAddrPort(conn.RemoteAddr().String())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", ap.Addr().String())
	assert.Equal(t, attrs.Port, fmt.Sprint(ap.Port()))
	assert.NotEqual(t, 0, ap.Port())
	id, mech, ok := conn.AuthIdentity()
	require.True(t, ok)
	assert.Equal(t, "alice@example.org", id.Authentication)
	assert.Equal(t, smtp.XCLIENTMechanism, mech)
}

// An upstream that does not trust the relay with XCLIENT is the client's
// 451: the relay does not pass mail as itself when told to announce.
func TestRelayXCLIENTRefusedUpstream(t *testing.T) {
	up := startUpstream(t, nil)
	r := startRelay(t, "-upstream", up.addr, "-upstream-tls", "none", "-upstream-xclient")
	_, err := submit(t, r, false, "alice@example.org", "secret", "alice@example.org", []string{"bob@example.net"}, testMessage("xclient"))
	var se *smtp.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 451, se.Code)
	assert.Contains(t, r.log.String(), "XCLIENT")
	assert.Empty(t, up.Messages())
}

// To a smarthost with STARTTLS and AUTH of its own.
func TestRelayToSmarthostWithSTARTTLSAndAuth(t *testing.T) {
	cert, err := selfSigned("upstream.test", time.Now())
	require.NoError(t, err)
	inner := &testUpstream{}
	up := startUpstream(t, func(s *smtp.Server) {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		s.Backend = authUpstream{inner}
		s.RequireAuth = true
	})
	r := startRelay(t, "-upstream", up.addr, "-upstream-tls", "starttls", "-upstream-insecure",
		"-upstream-user", "relay", "-upstream-password", "relaypass")
	_, err = submit(t, r, false, "alice@example.org", "secret", "alice@example.org", []string{"bob@example.net"}, testMessage("smarthost"))
	require.NoError(t, err, r.log.String())
	msgs := inner.Messages()
	require.Len(t, msgs, 1)
	_, isTLS := msgs[0].conn.TLSConnectionState()
	assert.True(t, isTLS)
	id, _, _ := msgs[0].conn.AuthIdentity()
	assert.Equal(t, "relay", id.Authentication)

	// Without TLS to it the relay refuses to go on: the client gets 451.
	plain := startUpstream(t, nil)
	r2 := startRelay(t, "-upstream", plain.addr, "-upstream-tls", "starttls")
	_, err = submit(t, r2, false, "alice@example.org", "secret", "alice@example.org", []string{"bob@example.net"}, testMessage("smarthost"))
	var se *smtp.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 451, se.Code)
	assert.Empty(t, plain.Messages())
}

// 100 clients at once: every message arrives once, each with its own
// queue id in its client's reply.
func TestRelayConcurrentClients(t *testing.T) {
	up := startUpstream(t, nil)
	r := startRelay(t, "-upstream", up.addr, "-upstream-tls", "none")
	const n = 100
	replies := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := submit(t, r, i%2 == 1, "alice@example.org", "secret", "alice@example.org", []string{fmt.Sprintf("r%d@example.net", i)}, testMessage(fmt.Sprint("client ", i)))
			errs[i] = err
			if res != nil {
				replies[i] = res.Reply
			}
		}()
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i], "client %d", i)
	}
	msgs := up.Messages()
	require.Len(t, msgs, n)
	byID := map[string]stored{}
	for _, m := range msgs {
		byID[m.id] = m
	}
	require.Len(t, byID, n)
	for i, rep := range replies {
		m, ok := byID[strings.TrimPrefix(rep, "Ok: queued as ")]
		require.True(t, ok, "reply %q", rep)
		assert.Equal(t, []string{fmt.Sprintf("r%d@example.net", i)}, m.to, "each client's reply is its own message's")
	}
}

// testResolver answers every MX question with mx.<domain> at 127.0.0.1,
// but for nomail.example, which has a null MX.
type testResolver struct{}

func (testResolver) LookupMX(_ context.Context, domain string) ([]*net.MX, delivery.DNSInfo, error) {
	if domain == "nomail.example" {
		return []*net.MX{{Host: ".", Pref: 0}}, delivery.DNSInfo{}, nil
	}
	return []*net.MX{{Host: "mx." + domain + ".", Pref: 10}}, delivery.DNSInfo{}, nil
}

func (testResolver) LookupIP(_ context.Context, network, _ string) ([]netip.Addr, delivery.DNSInfo, error) {
	if network == "ip6" {
		return nil, delivery.DNSInfo{}, &net.DNSError{Err: "no such host", IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, delivery.DNSInfo{}, nil
}

func (testResolver) LookupTXT(context.Context, string) ([]string, delivery.DNSInfo, error) {
	return nil, delivery.DNSInfo{}, &net.DNSError{Err: "no such host", IsNotFound: true}
}

// With -mx the recipient's MX is the upstream; one domain per message,
// the others 452, which our client answers by sending them in a second
// transaction (RFC 5321 section 4.5.3.1.10); a null MX is 556.
func TestRelayToMX(t *testing.T) {
	cert, err := selfSigned("mx.example.net", time.Now())
	require.NoError(t, err)
	up := startUpstream(t, func(s *smtp.Server) { s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}} })
	_, port, _ := net.SplitHostPort(up.addr)
	cfg, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-tls-addr", "", "-tls-self-signed",
		"-users", "alice@example.org:secret", "-mx", "-mx-port", port}, io.Discard)
	require.NoError(t, err)
	r := startRelayWith(t, cfg, func(b *backend) { b.up.resolver = testResolver{} })

	res, err := submit(t, r, false, "alice@example.org", "secret", "alice@example.org",
		[]string{"bob@example.net", "carol@example.net", "dave@example.com"}, testMessage("to the MX"))
	require.NoError(t, err, "accepted for all three, example.com's in a second transaction")
	for _, rr := range res.Recipients {
		assert.NoError(t, rr.Err, rr.Address)
	}
	msgs := up.Messages()
	require.Len(t, msgs, 2, "one message per domain")
	assert.Equal(t, []string{"bob@example.net", "carol@example.net"}, msgs[0].to)
	assert.Equal(t, []string{"dave@example.com"}, msgs[1].to)
	_, isTLS := msgs[0].conn.TLSConnectionState()
	assert.True(t, isTLS, "STARTTLS when the MX offers it")
	assert.Contains(t, r.log.String(), "upstream=mx.example.net")

	_, err = submit(t, r, false, "alice@example.org", "secret", "alice@example.org", []string{"x@nomail.example"}, testMessage("null MX"))
	var se *smtp.Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 556, se.Code)
}

func TestRelayFlagsRefuseNonsense(t *testing.T) {
	for _, args := range [][]string{
		{"-users", "a@b:c"},                             // no upstream
		{"-users", "a@b:c", "-upstream", "x:25", "-mx"}, // both
		{"-upstream", "x:25"},                           // nobody may submit
		{"-users", "a@b:c", "-upstream", "x:25", "-upstream-tls", "maybe"},
		{"-users", "a@b:c", "-upstream", "x:25", "-upstream-user", "u"},
		{"-users", "a@b:c", "-mx", "-upstream-xclient"},
		{"-users", "a@b:c", "-upstream", "x:25", "-addr", "", "-tls-addr", ""},
		{"-users", "a@b:c", "-upstream", "x:25", "-log-level", "loud"},
	} {
		t.Setenv("RELAY_UPSTREAM_PASSWORD", "")
		_, err := parseFlags(args, io.Discard)
		assert.Error(t, err, "%q", args)
	}
	_, err := parseAccounts("a@b:c", "nobody=x@y")
	assert.Error(t, err)
	_, err = parseAccounts("a@b:c", "a@b=notanaddress")
	assert.Error(t, err)
	cfg, err := parseFlags([]string{"-users", "a@b:c", "-upstream", "x:25"}, io.Discard)
	require.NoError(t, err)
	_, err = newServer(cfg, nil)
	assert.ErrorContains(t, err, "TLS", "no submission without TLS")
}

// A client's MAIL AUTH= parameter is not passed to a smarthost that does
// not offer AUTH (it would refuse it as not advertised).
func TestRelayDropsTheClientsAuthParameter(t *testing.T) {
	up := startUpstream(t, nil)
	r := startRelay(t, "-upstream", up.addr, "-upstream-tls", "none")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := smtp.DialStartTLS(ctx, r.at.submission.String(), &smtp.DialOptions{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Auth(ctx, sasl.NewPlainClient("", "alice@example.org", "secret")))
	me := "alice@example.org"
	require.NoError(t, c.Mail(ctx, "alice@example.org", &smtp.MailOptions{Auth: &me}))
	require.NoError(t, c.Rcpt(ctx, "bob@example.net", nil))
	w, err := c.Data(ctx)
	require.NoError(t, err)
	w.Write(testMessage("auth param"))
	require.NoError(t, w.Close())
	assert.Len(t, up.Messages(), 1)
}

// SIZE= from the client is left out for an upstream without SIZE.
func TestRelayLeavesOutSizeForAnUpstreamWithoutIt(t *testing.T) {
	up := startUpstream(t, func(s *smtp.Server) { s.DisableSize = true })
	r := startRelay(t, "-upstream", up.addr, "-upstream-tls", "none")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := smtp.DialStartTLS(ctx, r.at.submission.String(), &smtp.DialOptions{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Auth(ctx, sasl.NewPlainClient("", "alice@example.org", "secret")))
	require.NoError(t, c.Mail(ctx, "alice@example.org", &smtp.MailOptions{Size: 1234}))
	require.NoError(t, c.Rcpt(ctx, "bob@example.net", nil))
	w, err := c.Data(ctx)
	require.NoError(t, err)
	w.Write(testMessage("size param"))
	require.NoError(t, w.Close())
	assert.Len(t, up.Messages(), 1)
}
