package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"

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
		return fmt.Errorf("smtp: STARTTLS: %w", clientReplyError(r))
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
		return c.fail(fmt.Errorf("smtp: STARTTLS handshake: %w", err))
	}
	c.setConn(tc)
	c.isTLS = true
	c.tlsCallback = clientTLSCallback(config)
	c.didHello, c.ehlo, c.ext = false, false, extensions.Set{}
	return c.Hello(ctx, "")
}

// TLSPeerAuthenticated reports whether the connection uses TLS with a
// server certificate that was checked: verified by crypto/tls against the
// configuration's roots (tls.ConnectionState.VerifiedChains), checked by a
// VerifyConnection or VerifyPeerCertificate callback of the configuration
// used for the handshake (as DANE, RFC 7672, or MTA-STS, RFC 8461,
// checks need; the callback's caller is trusted to refuse what it must),
// or declared so by DialOptions.TLSPeerVerified. MailOptions.RequireTLS
// needs it (RFC 8689 section 4.2).
func (c *Client) TLSPeerAuthenticated() bool {
	if !c.isTLS {
		return false
	}
	if c.opts.TLSPeerVerified || c.tlsCallback {
		return true
	}
	cs, _ := c.TLSConnectionState()
	return len(cs.VerifiedChains) > 0
}

// clientTLSCallback reports whether cfg checks the peer with a callback of
// the caller's.
func clientTLSCallback(cfg *tls.Config) bool {
	return cfg != nil && (cfg.VerifyConnection != nil || cfg.VerifyPeerCertificate != nil)
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
