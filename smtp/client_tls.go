package smtp

import (
	"context"
	"crypto/tls"
	"errors"

	"github.com/postwire/postwire/extensions"
	"github.com/postwire/postwire/textproto"
)

// StartTLS upgrades the connection with STARTTLS (RFC 3207) using config,
// or DialOptions.TLSConfig when config is nil; an empty ServerName is
// taken from the dialled address. Bytes the server sent after its 220 and
// before the handshake are refused as a response injection (the
// CVE-2011-0411 class) and the connection is closed. After the handshake
// the client says EHLO again and only the new extensions count (RFC 3207
// section 4.2).
func (c *Client) StartTLS(ctx context.Context, config *tls.Config) error {
	if err := c.hello(ctx); err != nil {
		return err
	}
	if c.isTLS {
		return errors.New("smtp: the connection already uses TLS")
	}
	if !c.ext.Has(extensions.StartTLS) {
		return clientNotAdvertised("STARTTLS")
	}
	r, err := c.cmd(ctx, c.opts.CommandTimeout, DefaultCommandTimeout, "STARTTLS", "")
	if err != nil {
		return err
	}
	if r.Code != 220 {
		return clientReplyError(r)
	}
	if c.br.Buffered() > 0 {
		return c.fail(&textproto.ProtocolError{Msg: "server sent data after its 220 reply to STARTTLS (response injection)"})
	}
	if config == nil {
		config = c.opts.TLSConfig
	}
	tc := tls.Client(c.netConn, clientTLSConfig(config, c.serverName))
	if err := c.begin(ctx, c.opts.CommandTimeout, DefaultCommandTimeout); err != nil {
		return err
	}
	err = c.hookTLS(tc, tc.HandshakeContext(ctx))
	c.end()
	if err != nil {
		return c.fail(err)
	}
	c.setConn(tc)
	c.isTLS = true
	c.didHello, c.ehlo, c.ext = false, false, extensions.Set{}
	return c.Hello(ctx, "")
}

// clientTLSConfig returns cfg with ServerName set to host when empty.
func clientTLSConfig(cfg *tls.Config, host string) *tls.Config {
	if cfg == nil {
		return &tls.Config{ServerName: host}
	}
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	return cfg
}
