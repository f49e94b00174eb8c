package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/require"
)

// BenchmarkRelayOverhead measures what the relay adds to a message, in the
// same run: a 1 KiB message sent straight to the upstream with STARTTLS
// ("direct"), and sent through the relay with STARTTLS and AUTH, the relay
// passing it to the same upstream with STARTTLS ("relay"). "message" sends
// every message on one kept connection; "connection" opens a connection
// (and, through the relay, an upstream connection) for each.
func BenchmarkRelayOverhead(b *testing.B) {
	cert, err := selfSigned("upstream.test", time.Now())
	require.NoError(b, err)
	up := startUpstream(b, func(s *smtp.Server) { s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}} })
	up.discard = true
	cfg, err := parseFlags([]string{"-addr", "127.0.0.1:0", "-tls-addr", "", "-tls-self-signed",
		"-users", "alice@example.org:secret", "-upstream", up.addr, "-upstream-tls", "starttls", "-upstream-insecure",
		"-log-level", "warn"}, io.Discard)
	require.NoError(b, err)
	r := startRelayWith(b, cfg, func(bk *backend) { bk.log = slog.New(slog.NewTextHandler(io.Discard, nil)) })
	msg := append([]byte("From: alice@example.org\r\nSubject: bench\r\n\r\n"), bytes.Repeat([]byte("0123456789abcdef\r\n"), 56)...)
	env := &smtp.Envelope{From: "alice@example.org", To: []string{"bob@example.net"}}

	dial := func(b *testing.B, viaRelay bool) *smtp.Client {
		ctx := context.Background()
		addr := up.addr
		if viaRelay {
			addr = r.at.submission.String()
		}
		c, err := smtp.DialStartTLS(ctx, addr, &smtp.DialOptions{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
		require.NoError(b, err)
		if viaRelay {
			require.NoError(b, c.Auth(ctx, sasl.NewPlainClient("", "alice@example.org", "secret")))
		}
		return c
	}
	for _, path := range []string{"direct", "relay"} {
		viaRelay := path == "relay"
		b.Run("message/"+path, func(b *testing.B) {
			c := dial(b, viaRelay)
			defer c.Close()
			b.ResetTimer()
			for range b.N {
				if _, err := c.Send(context.Background(), env, bytes.NewReader(msg)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("connection/"+path, func(b *testing.B) {
			for range b.N {
				c := dial(b, viaRelay)
				if _, err := c.Send(context.Background(), env, bytes.NewReader(msg)); err != nil {
					b.Fatal(err)
				}
				c.Quit(context.Background())
			}
		})
	}
}
