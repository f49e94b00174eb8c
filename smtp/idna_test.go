package smtp

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Internationalized domains (RFC 6531 section 3.2, RFC 5890 section
// 2.3.2.1): the client sends an ASCII local part at a U-label domain as
// A-labels, needing no SMTPUTF8; the server gives the Session both forms.

func TestClientSendsALabelsWithoutSMTPUTF8(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO() // no SMTPUTF8
		s.expect("MAIL FROM:<alice@xn--exmple-cua.org>")
		s.send("250 ok\r\n")
		s.expect("RCPT TO:<bob@xn--bcher-kva.example>")
		s.send("250 ok\r\n")
		s.expect("DATA")
		s.send("354 go on\r\n")
		s.body()
		s.send("250 queued\r\n")
		s.expect("MAIL FROM:<alice@xn--exmple-cua.org>")
		s.send("250 ok\r\n")
		s.expect("RCPT TO:<bob@xn--bcher-kva.example>")
		s.send("250 ok\r\n")
		s.expect("QUIT")
		s.send("221 bye\r\n")
	})
	ctx := clientCtx(t)
	c, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	defer c.Close()
	res, err := c.Send(ctx, &Envelope{From: "alice@exämple.org", To: []string{"bob@bücher.example"}}, strings.NewReader("hi\r\n"))
	require.NoError(t, err)
	assert.Equal(t, "bob@bücher.example", res.Recipients[0].Address, "results name the recipient as given")

	// The lock-step calls convert too.
	require.NoError(t, c.Mail(ctx, "alice@exämple.org", nil))
	require.NoError(t, c.Rcpt(ctx, "bob@bücher.example", nil))
	require.NoError(t, c.Quit(ctx))
}

// A non-ASCII local part still needs SMTPUTF8.
func TestClientUTF8LocalPartNeedsSMTPUTF8(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO()
		s.expect("QUIT")
		s.send("221 bye\r\n")
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Send(clientCtx(t), &Envelope{From: "a@example.org", To: []string{"jörg@bücher.example"}}, strings.NewReader("hi\r\n"))
	require.ErrorIs(t, err, ErrNotAdvertised)
	require.NoError(t, c.Quit(clientCtx(t)))
}

// An allow-list keyed in either form works: the Session gets the address
// as sent and its A-label form.
func TestServerSessionGetsBothForms(t *testing.T) {
	b := &srvBackend{}
	_, addr := srvStart(t, b, nil)
	c := srvGreeted(t, addr)
	c.cmd("MAIL FROM:<alice@exämple.org> SMTPUTF8", "250")
	c.cmd("RCPT TO:<bob@bücher.example>", "250")
	c.cmd("RCPT TO:<carol@xn--bcher-kva.example>", "250")
	c.cmd("DATA", "354")
	c.send("x", ".")
	c.expect("250")
	m := b.Messages()[0]
	assert.Equal(t, "alice@exämple.org", m.From)
	assert.Equal(t, "alice@xn--exmple-cua.org", m.Opts.FromALabels)
	assert.Equal(t, []string{"bob@bücher.example", "carol@xn--bcher-kva.example"}, m.To)
	require.Len(t, m.RcptOpts, 2)
	assert.Equal(t, "bob@xn--bcher-kva.example", m.RcptOpts[0].ToALabels)
	assert.Equal(t, "carol@xn--bcher-kva.example", m.RcptOpts[1].ToALabels)
}
