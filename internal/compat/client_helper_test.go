package compat

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/postwire/postwire/sasl"
	"github.com/postwire/postwire/smtp"
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
