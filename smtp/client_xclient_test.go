package smtp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/postwire/postwire/extensions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The client announces another client to our server, which then sees its
// address, name, HELO and login, and the message goes through.
func TestClientXCLIENTToServer(t *testing.T) {
	b := &srvBackend{}
	_, addr := srvStart(t, b, func(s *Server) {
		s.XCLIENTTrusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	ctx := clientCtx(t)
	c, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	defer c.Close()

	err = c.XCLIENT(ctx, XCLIENTAttributes{
		Name: "client.example.org", Addr: "2001:db8::7", Port: "4711", Proto: "ESMTP",
		HELO: "client.example.org", Login: "alice@example.org", DestAddr: "192.0.2.25", DestPort: "587",
	})
	require.NoError(t, err)
	assert.True(t, c.Extensions().Has(extensions.Pipelining), "EHLO said again after the new greeting")

	conn := b.LastConn()
	assert.Equal(t, "[2001:db8::7]:4711", conn.RemoteAddr().String())
	assert.Equal(t, "192.0.2.25:587", conn.LocalAddr().String())
	assert.Equal(t, "client.example.org", conn.Hostname())
	id, mech, ok := conn.AuthIdentity()
	require.True(t, ok)
	assert.Equal(t, "alice@example.org", id.Authentication)
	assert.Equal(t, XCLIENTMechanism, mech)

	_, err = c.Send(ctx, &Envelope{From: "alice@example.org", To: []string{"bob@example.net"}}, strings.NewReader("Subject: x\r\n\r\nhi\r\n"))
	require.NoError(t, err)
	require.Len(t, b.Messages(), 1)
	require.NoError(t, c.Quit(ctx))
}

// [UNAVAILABLE] goes as it is, and a login with octets xtext must escape
// arrives decoded.
func TestClientXCLIENTUnavailableAndXtext(t *testing.T) {
	b := &srvBackend{}
	_, addr := srvStart(t, b, func(s *Server) {
		s.XCLIENTTrusted = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	ctx := clientCtx(t)
	c, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	defer c.Close()

	require.NoError(t, c.XCLIENT(ctx, XCLIENTAttributes{Name: XCLIENTUnavailable, Addr: "192.0.2.9", Login: "a+b=c"}))
	attrs, used := b.LastConn().XCLIENT()
	require.True(t, used)
	assert.Equal(t, XCLIENTUnavailable, attrs.Name)
	assert.Equal(t, "a+b=c", attrs.Login)
	assert.Equal(t, "192.0.2.9", attrs.Addr)
}

// The line on the wire: attributes in the README's order, xtext, IPV6:.
func TestClientXCLIENTWire(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("XCLIENT NAME ADDR LOGIN HELO")
		s.expect("XCLIENT NAME=h.example ADDR=IPV6:2001:db8::1 HELO=far.example LOGIN=u+2Bx+3D")
		s.send("220 fake.example ESMTP again\r\n")
		s.expect("EHLO far.example")
		s.send("250-fake.example\r\n250 8BITMIME\r\n")
		s.expect("QUIT")
		s.send("221 bye\r\n")
	})
	ctx := clientCtx(t)
	c, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	require.NoError(t, c.XCLIENT(ctx, XCLIENTAttributes{Name: "h.example", Addr: "2001:db8::1", HELO: "far.example", Login: "u+x="}))
	assert.Equal(t, "fake.example ESMTP again", c.Greeting())
	assert.True(t, c.Extensions().Has(extensions.EightBitMIME))
	assert.False(t, c.Extensions().Has(extensions.XClient), "the extensions are the second EHLO's")
	require.NoError(t, c.Quit(ctx))
}

// Nothing is written when the server does not offer XCLIENT or one of the
// attributes; a refusal is ErrXCLIENTRefused with the server's reply.
func TestClientXCLIENTRefusals(t *testing.T) {
	t.Run("not-advertised", func(t *testing.T) {
		_, addr := srvStart(t, &srvBackend{}, nil)
		ctx := clientCtx(t)
		c, err := Dial(ctx, addr, nil)
		require.NoError(t, err)
		defer c.Close()
		err = c.XCLIENT(ctx, XCLIENTAttributes{Addr: "192.0.2.1"})
		require.ErrorIs(t, err, ErrNotAdvertised)
		require.NoError(t, c.Noop(ctx), "the connection is still usable")
	})
	t.Run("attribute-not-advertised", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("XCLIENT ADDR NAME")
			s.expect("QUIT")
			s.send("221 bye\r\n")
		})
		ctx := clientCtx(t)
		c, err := Dial(ctx, addr, nil)
		require.NoError(t, err)
		err = c.XCLIENT(ctx, XCLIENTAttributes{Addr: "192.0.2.1", Login: "alice"})
		require.ErrorIs(t, err, ErrNotAdvertised)
		assert.Contains(t, err.Error(), "LOGIN")
		require.NoError(t, c.Quit(ctx))
	})
	t.Run("untrusted", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("XCLIENT ADDR")
			s.expect("XCLIENT ADDR=192.0.2.1")
			s.send("550 5.7.0 Insufficient authorization\r\n")
			s.expect("QUIT")
			s.send("221 bye\r\n")
		})
		ctx := clientCtx(t)
		c, err := Dial(ctx, addr, nil)
		require.NoError(t, err)
		err = c.XCLIENT(ctx, XCLIENTAttributes{Addr: "192.0.2.1"})
		require.ErrorIs(t, err, ErrXCLIENTRefused)
		var se *Error
		require.ErrorAs(t, err, &se)
		assert.Equal(t, 550, se.Code)
		require.NoError(t, c.Quit(ctx))
	})
	t.Run("empty-and-too-long", func(t *testing.T) {
		addr := clientFake(t, func(s *clientScript) {
			s.greetEHLO("XCLIENT NAME ADDR LOGIN")
			s.expect("QUIT")
			s.send("221 bye\r\n")
		})
		ctx := clientCtx(t)
		c, err := Dial(ctx, addr, nil)
		require.NoError(t, err)
		require.Error(t, c.XCLIENT(ctx, XCLIENTAttributes{}))
		require.ErrorContains(t, c.XCLIENT(ctx, XCLIENTAttributes{Login: strings.Repeat("x", 500)}), "line limit")
		require.NoError(t, c.Quit(ctx))
	})
}
