package compat

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
	"github.com/stretchr/testify/require"
)

// sendSpec says how our client sends one message in a test.
type sendSpec struct {
	opts     smtp.DialOptions
	startTLS bool        // STARTTLS after EHLO, verifying the shared certificate
	implicit bool        // TLS from the first byte
	auth     sasl.Client // AUTH after TLS, when set
	env      smtp.Envelope
}

// clientSend sends msg with our client as spec says and returns the result,
// the dialogue as our client traced it, and the first error.
func clientSend(t testing.TB, addr string, spec sendSpec, msg []byte) (*smtp.SendResult, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var trace lockedBuffer
	opts := spec.opts
	opts.Trace = &trace
	if opts.LocalName == "" {
		opts.LocalName = "client.example"
	}
	if opts.TLSConfig == nil {
		opts.TLSConfig = clientTLS()
	}
	var c *smtp.Client
	var err error
	switch {
	case spec.implicit:
		c, err = smtp.DialTLS(ctx, addr, &opts)
	case spec.startTLS:
		c, err = smtp.DialStartTLS(ctx, addr, &opts)
	default:
		c, err = smtp.Dial(ctx, addr, &opts)
		if err == nil {
			err = c.Hello(ctx, "")
		}
	}
	if err != nil {
		return nil, trace.String(), err
	}
	defer c.Close()
	if spec.auth != nil {
		if err := c.Auth(ctx, spec.auth); err != nil {
			return nil, trace.String(), err
		}
	}
	env := spec.env
	if env.From == "" {
		env.From = "alice@client.example"
	}
	if env.To == nil {
		env.To = []string{"bob@test.example"}
	}
	res, err := c.Send(ctx, &env, bytes.NewReader(msg))
	if err != nil {
		return res, trace.String(), err
	}
	err = c.Quit(ctx)
	return res, trace.String(), err
}

// sendMany sends msgs (one recipient each, bob@test.example) with our
// client's SendMany over one connection and returns the trace.
func sendMany(t testing.TB, addr string, opts smtp.DialOptions, msgs [][]byte) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var trace lockedBuffer
	opts.Trace = &trace
	opts.LocalName = "client.example"
	c, err := smtp.Dial(ctx, addr, &opts)
	require.NoError(t, err)
	defer c.Close()
	batch := make([]smtp.Message, len(msgs))
	for i, m := range msgs {
		batch[i] = smtp.Message{Envelope: smtp.Envelope{From: "alice@client.example", To: []string{"bob@test.example"}},
			Body: bytes.NewReader(m)}
	}
	results, err := c.SendMany(ctx, batch)
	require.NoError(t, err, trace.String())
	for i, r := range results {
		require.NoError(t, r.Err, "message %d\n%s", i, trace.String())
	}
	require.NoError(t, c.Quit(ctx), trace.String())
	return trace.String()
}

// manyMessages returns n distinct test messages; odd ones carry 8-bit text.
func manyMessages(prefix string, n int) [][]byte {
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = testMessage(fmt.Sprintf("%s %d", prefix, i), i%2 == 1)
	}
	return msgs
}
