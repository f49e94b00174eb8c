package smtp

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientNotAdvertisedBeforeWrite(t *testing.T) {
	prio := 3
	auth := "a@example.org"
	for _, tc := range []struct {
		name string
		env  Envelope
	}{
		{"SIZE", Envelope{MailOptions: &MailOptions{Size: 10}}},
		{"BODY=8BITMIME", Envelope{MailOptions: &MailOptions{Body: Body8BitMIME}}},
		{"BODY=BINARYMIME", Envelope{MailOptions: &MailOptions{Body: BodyBinaryMIME}}},
		{"SMTPUTF8", Envelope{MailOptions: &MailOptions{UTF8: true}}},
		{"UTF-8 address", Envelope{From: "jörg@example.org"}},
		{"RET", Envelope{MailOptions: &MailOptions{Return: DSNReturnHeaders}}},
		{"ENVID", Envelope{MailOptions: &MailOptions{EnvelopeID: "id1"}}},
		{"AUTH=", Envelope{MailOptions: &MailOptions{Auth: &auth}}},
		{"REQUIRETLS", Envelope{MailOptions: &MailOptions{RequireTLS: true}}},
		{"MT-PRIORITY", Envelope{MailOptions: &MailOptions{MTPriority: &prio}}},
		{"BY", Envelope{MailOptions: &MailOptions{DeliverBy: &DeliverByOptions{Time: time.Minute, Mode: DeliverByNotify}}}},
		{"NOTIFY", Envelope{RcptOptions: []*RcptOptions{{Notify: []DSNNotify{DSNNotifyFailure}}}}},
		{"ORCPT", Envelope{RcptOptions: []*RcptOptions{{OriginalRecipient: "b@example.org"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := clientFake(t, func(s *clientScript) {
				s.greetEHLO("PIPELINING")
				assert.Equal(t, "", s.rest(), "nothing may be written")
			})
			c, err := Dial(clientCtx(t), addr, nil)
			require.NoError(t, err)
			defer c.Close()
			env := tc.env
			if env.From == "" {
				env.From = "a@example.org"
			}
			env.To = []string{"b@example.org"}
			_, err = c.Send(clientCtx(t), &env, strings.NewReader("x"))
			require.ErrorIs(t, err, ErrNotAdvertised)
			// The lock-step Mail checks the same way.
			if env.RcptOptions == nil {
				require.ErrorIs(t, c.Mail(clientCtx(t), env.From, env.MailOptions), ErrNotAdvertised)
			}
		})
	}
}

func TestClientParamsFormatting(t *testing.T) {
	prio := -4
	auth := "sender+1=x@example.org"
	empty := ""
	exts := []string{"PIPELINING", "SIZE 1000", "8BITMIME", "SMTPUTF8", "DSN", "AUTH PLAIN", "MT-PRIORITY", "DELIVERBY 60", "CHUNKING", "BINARYMIME"}
	for _, tc := range []struct {
		name string
		from string
		to   string
		mo   *MailOptions
		ro   *RcptOptions
		mail string
		rcpt string
	}{
		{"none", "a@example.org", "b@example.org", nil, nil, "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org>"},
		{"null sender", "", "postmaster", nil, nil, "MAIL FROM:<>", "RCPT TO:<postmaster>"},
		{"size body", "a@example.org", "b@example.org", &MailOptions{Size: 999, Body: Body7Bit}, nil,
			"MAIL FROM:<a@example.org> SIZE=999 BODY=7BIT", "RCPT TO:<b@example.org>"},
		{"dsn", "a@example.org", "b@example.org",
			&MailOptions{Return: DSNReturnFull, EnvelopeID: "QQ+x=y"},
			&RcptOptions{Notify: []DSNNotify{DSNNotifySuccess, DSNNotifyDelayed}, OriginalRecipient: "b+x@example.org"},
			"MAIL FROM:<a@example.org> RET=FULL ENVID=QQ+2Bx+3Dy",
			"RCPT TO:<b@example.org> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;b+2Bx@example.org"},
		{"notify never", "a@example.org", "b@example.org", nil, &RcptOptions{Notify: []DSNNotify{DSNNotifyNever}},
			"MAIL FROM:<a@example.org>", "RCPT TO:<b@example.org> NOTIFY=NEVER"},
		{"auth mt-priority by", "a@example.org", "b@example.org",
			&MailOptions{Auth: &auth, MTPriority: &prio, DeliverBy: &DeliverByOptions{Time: 120 * time.Second, Mode: DeliverByReturn, Trace: true}}, nil,
			"MAIL FROM:<a@example.org> AUTH=sender+2B1+3Dx@example.org MT-PRIORITY=-4 BY=120;RT", "RCPT TO:<b@example.org>"},
		{"auth empty", "a@example.org", "b@example.org", &MailOptions{Auth: &empty}, nil,
			"MAIL FROM:<a@example.org> AUTH=<>", "RCPT TO:<b@example.org>"},
		{"binarymime", "a@example.org", "b@example.org", &MailOptions{Body: BodyBinaryMIME}, nil,
			"MAIL FROM:<a@example.org> BODY=BINARYMIME", "RCPT TO:<b@example.org>"},
		{"utf8", "jörg@bücher.example", "δοκιμή@example.org", nil,
			&RcptOptions{OriginalRecipientType: DSNAddressTypeUTF8, OriginalRecipient: "δοκιμή@example.org"},
			"MAIL FROM:<jörg@bücher.example> SMTPUTF8",
			"RCPT TO:<δοκιμή@example.org> ORCPT=utf-8;\\x{3B4}\\x{3BF}\\x{3BA}\\x{3B9}\\x{3BC}\\x{3AE}@example.org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clientOffline(t, exts...)
			utf8, err := c.envelopeUTF8(tc.mo != nil && tc.mo.UTF8, tc.from, []string{tc.to})
			require.NoError(t, err)
			line, err := c.appendMail(nil, tc.from, tc.mo, utf8)
			require.NoError(t, err)
			assert.Equal(t, tc.mail+"\r\n", string(line))
			line, err = c.appendRcpt(nil, tc.to, tc.ro, utf8)
			require.NoError(t, err)
			assert.Equal(t, tc.rcpt+"\r\n", string(line))
		})
	}
}

func TestClientParamsRefused(t *testing.T) {
	prio := 10
	exts := []string{"SIZE 1000", "8BITMIME", "DSN", "MT-PRIORITY", "DELIVERBY", "REQUIRETLS", "AUTH PLAIN"}
	for _, tc := range []struct {
		name string
		mo   *MailOptions
		ro   *RcptOptions
	}{
		{"size over limit", &MailOptions{Size: 1001}, nil},
		{"negative size", &MailOptions{Size: -1}, nil},
		{"unknown body", &MailOptions{Body: "9BIT"}, nil},
		{"unknown ret", &MailOptions{Return: "ALL"}, nil},
		{"envid control", &MailOptions{EnvelopeID: "a\r\nRCPT TO:<x@y>"}, nil},
		{"envid too long", &MailOptions{EnvelopeID: strings.Repeat("x", 101)}, nil},
		{"priority range", &MailOptions{MTPriority: &prio}, nil},
		{"by mode", &MailOptions{DeliverBy: &DeliverByOptions{Time: time.Minute, Mode: "X"}}, nil},
		{"by R not positive", &MailOptions{DeliverBy: &DeliverByOptions{Time: -time.Minute, Mode: DeliverByReturn}}, nil},
		{"requiretls without tls", &MailOptions{RequireTLS: true}, nil},
		{"notify never and more", nil, &RcptOptions{Notify: []DSNNotify{DSNNotifyNever, DSNNotifyFailure}}},
		{"notify twice", nil, &RcptOptions{Notify: []DSNNotify{DSNNotifyFailure, DSNNotifyFailure}}},
		{"notify unknown", nil, &RcptOptions{Notify: []DSNNotify{"ALWAYS"}}},
		{"orcpt control", nil, &RcptOptions{OriginalRecipient: "b@x\r\nDATA"}},
		{"orcpt type", nil, &RcptOptions{OriginalRecipientType: "x400", OriginalRecipient: "b@example.org"}},
		{"orcpt non-ascii rfc822", nil, &RcptOptions{OriginalRecipient: "é@example.org"}},
		// utf-8-addr-xtext cannot carry a C1 control or invalid UTF-8 (RFC 6533 section 3).
		{"orcpt utf-8 C1 control", nil, &RcptOptions{OriginalRecipientType: DSNAddressTypeUTF8, OriginalRecipient: "a\u0085b@example.org"}},
		{"orcpt utf-8 invalid", nil, &RcptOptions{OriginalRecipientType: DSNAddressTypeUTF8, OriginalRecipient: "a\xffb@example.org"}},
		{"envid non-ascii", &MailOptions{EnvelopeID: "é"}, nil},
		{"auth not a mailbox", &MailOptions{Auth: new("user")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := clientOffline(t, exts...)
			line, err := c.appendMail(nil, "a@example.org", tc.mo, false)
			if tc.mo != nil {
				require.Error(t, err)
				assert.Empty(t, line)
				return
			}
			require.NoError(t, err)
			line, err = c.appendRcpt(nil, "b@example.org", tc.ro, false)
			require.Error(t, err)
			assert.Empty(t, line)
		})
	}
}

// clientOffline is a Client that believes the server advertised exts,
// without a connection: for formatting tests.
func clientOffline(t *testing.T, exts ...string) *Client {
	t.Helper()
	c := &Client{}
	for _, e := range exts {
		kw, params, _ := strings.Cut(e, " ")
		c.ext.Add(kw, params)
	}
	return c
}

func TestClientControlBytesRefused(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to string
		hello    string
	}{
		{"CRLF in from", "a@example.org>\r\nRCPT TO:<victim@example.org", "b@example.org", ""},
		{"LF in to", "a@example.org", "b@example.org\nDATA", ""},
		{"NUL in to", "a@example.org", "b\x00@example.org", ""},
		{"DEL in from", "a\x7f@example.org", "b@example.org", ""},
		{"angle in to", "a@example.org", "b@example.org> NOTIFY=NEVER", ""},
		{"space in from", "a b@example.org", "b@example.org", ""},
		{"CRLF in EHLO name", "a@example.org", "b@example.org", "me\r\nMAIL FROM:<x@y>"},
		{"space in EHLO name", "a@example.org", "b@example.org", "my host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := clientFake(t, func(s *clientScript) {
				s.send("220 fake\r\n")
				if tc.hello != "" {
					assert.Equal(t, "", s.rest(), "nothing may be written")
					return
				}
				s.expect("EHLO localhost")
				s.send("250-fake\r\n250 PIPELINING\r\n")
				assert.Equal(t, "", s.rest(), "nothing may be written")
			})
			c, err := Dial(clientCtx(t), addr, nil)
			require.NoError(t, err)
			defer c.Close()
			ctx := clientCtx(t)
			if tc.hello != "" {
				require.Error(t, c.Hello(ctx, tc.hello))
				return
			}
			_, err = c.Send(ctx, &Envelope{From: tc.from, To: []string{tc.to}}, strings.NewReader("x"))
			require.Error(t, err)
			if tc.from != "a@example.org" {
				require.Error(t, c.Mail(ctx, tc.from, nil))
			} else {
				require.Error(t, c.Rcpt(ctx, tc.to, nil))
			}
		})
	}
}
