package compat

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestClientXCLIENTToPostfix: our client's XCLIENT against Postfix's
// smtpd. Where smtpd_authorized_xclient_hosts lets us, Postfix takes the
// announced client (IPv4 and IPv6, with [UNAVAILABLE] for the name) and
// logs it; where it does not, XCLIENT is not advertised and the client
// refuses before writing it.
func TestClientXCLIENTToPostfix(t *testing.T) {
	needPostfix(t)
	addr := freeAddr(t)
	port := portOf(addr)
	pf := newPostfix(t, postfixReceiver+"smtpd_authorized_xclient_hosts = 127.0.0.1/32\n",
		fmt.Sprintf("127.0.0.1:%s/inet=127.0.0.1:%s inet n - n - - smtpd", port, port))
	waitListening(t, addr, nil, &lockedBuffer{})

	for _, tc := range []struct{ name, addr, want, received string }{
		{"ipv4", "192.0.2.44", "client=unknown[192.0.2.44]", "[192.0.2.44]"},
		{"ipv6", "2001:db8::44", "client=unknown[2001:db8::44]", "[IPv6:2001:db8::44]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := smtp.DialStartTLS(ctx, addr, &smtp.DialOptions{LocalName: "proxy.client.example", TLSConfig: clientTLS()})
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, c.XCLIENT(ctx, smtp.XCLIENTAttributes{
				Name: smtp.XCLIENTUnavailable, Addr: tc.addr, Port: "4711", Proto: "ESMTP",
				HELO: "far.client.example", Login: "alice@client.example",
			}))
			_, tlsOn := c.TLSConnectionState()
			assert.True(t, tlsOn, "TLS stays after XCLIENT")
			subject := "xclient " + tc.name
			res, err := c.Send(ctx, &smtp.Envelope{From: "alice@client.example", To: []string{"bob@test.example"}},
				bytes.NewReader(testMessage(subject, false)))
			require.NoError(t, err)
			require.NoError(t, c.Quit(ctx))

			id := res.Reply[strings.LastIndex(res.Reply, " ")+1:] // "Ok: 1236 bytes queued as ID" after BDAT
			log := pf.waitLog(t, id+": client=", 1, 10*time.Second)
			line := log[strings.Index(log, id+": client="):]
			line = line[:strings.IndexByte(line, '\n')]
			t.Log("Postfix: ", line)
			assert.Contains(t, line, tc.want)
			assert.Contains(t, line, "sasl_username=alice@client.example")
			stored := string(pf.findMessage(t, subject, 20*time.Second))
			assert.Contains(t, stored, "from far.client.example (unknown "+tc.received+")", "Postfix's Received field names the announced client")
		})
	}

	t.Run("not-authorized", func(t *testing.T) {
		other := freeAddr(t)
		p := portOf(other)
		newPostfix(t, postfixReceiver, fmt.Sprintf("127.0.0.1:%s/inet=127.0.0.1:%s inet n - n - - smtpd", p, p))
		waitListening(t, other, nil, &lockedBuffer{})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := smtp.Dial(ctx, other, nil)
		require.NoError(t, err)
		defer c.Close()
		require.ErrorIs(t, c.XCLIENT(ctx, smtp.XCLIENTAttributes{Addr: "192.0.2.44"}), smtp.ErrNotAdvertised)
		require.NoError(t, c.Noop(ctx), "nothing was sent: the session goes on")
	})
}
