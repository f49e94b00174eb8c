package smtp

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/extensions"
)

// Tests of every client call against this module's Server, in-process on
// loopback.

// clientTestBody has what a body can hold that the codec must get right:
// leading dots, a lone dot, empty lines, a long line, and enough octets to
// need several BDAT chunks of 1 KiB.
func clientTestBody() string {
	var b strings.Builder
	b.WriteString("From: a@example.org\r\nSubject: test\r\n\r\n")
	b.WriteString(".leading dot\r\n.\r\n..two dots\r\n\r\n\r\n")
	b.WriteString(strings.Repeat("x", 990) + "\r\n")
	for i := range 100 {
		b.WriteString("line ")
		b.WriteString(strings.Repeat("abc", i%20))
		b.WriteString("\r\n")
	}
	b.WriteString("last line\r\n")
	return b.String()
}

func TestClientServerSendModes(t *testing.T) {
	body := clientTestBody()
	for _, tc := range []struct {
		name string
		opts DialOptions
	}{
		{"pipelined DATA", DialOptions{DisableChunking: true}},
		{"lock-step DATA", DialOptions{DisableChunking: true, DisablePipelining: true}},
		{"pipelined BDAT", DialOptions{ChunkSize: 1024}},
		{"lock-step BDAT", DialOptions{ChunkSize: 1024, DisablePipelining: true}},
		{"pipelined BDAT one chunk", DialOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := &clientBackend{}
			addr := clientServe(t, be, nil, nil)
			ctx := clientCtx(t)
			c, err := Dial(ctx, addr, &tc.opts)
			require.NoError(t, err)
			defer c.Close()
			for range 3 { // several transactions on one connection
				res, err := c.Send(ctx, &Envelope{
					From: "a@example.org",
					To:   []string{"b@example.org", "unknown@example.org", "c@example.org"},
				}, strings.NewReader(body))
				clientRequirePartial(t, err, 2)
				assert.Equal(t, 2, res.Accepted())
				var se *Error
				require.ErrorAs(t, res.Recipients[1].Err, &se)
				assert.Equal(t, 550, se.Code)
				assert.Equal(t, EnhancedCode{5, 1, 1}, se.Enhanced)
				assert.NotEmpty(t, res.Reply)
			}
			// All refused: nothing is delivered, the session goes on.
			_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"unknown@example.org"}}, strings.NewReader(body))
			require.Error(t, err)
			require.NoError(t, c.Noop(ctx))
			require.NoError(t, c.Quit(ctx))

			msgs := be.all()
			require.Len(t, msgs, 3)
			for _, m := range msgs {
				assert.Equal(t, "a@example.org", m.From)
				assert.Equal(t, []string{"b@example.org", "c@example.org"}, m.To)
				assert.Equal(t, body, m.Body, "the body arrives byte for byte")
			}
		})
	}
}

func TestClientServerLockstepCalls(t *testing.T) {
	be := &clientBackend{}
	addr := clientServe(t, be, nil, nil)
	ctx := clientCtx(t)
	c, err := Dial(ctx, addr, &DialOptions{LocalName: "client.example"})
	require.NoError(t, err)
	defer c.Close()
	assert.Contains(t, c.Greeting(), "test.example")
	require.NoError(t, c.Hello(ctx, ""))
	assert.True(t, c.Extensions().Has(extensions.Pipelining))
	ok, _ := c.Extension("chunking")
	assert.True(t, ok)

	require.NoError(t, c.Noop(ctx))
	require.NoError(t, c.Verify(ctx, "b@example.org"))
	var se *Error
	require.ErrorAs(t, c.Verify(ctx, "unknown@example.org"), &se)
	assert.Equal(t, 550, se.Code)

	// DATA.
	require.NoError(t, c.Mail(ctx, "a@example.org", nil))
	require.NoError(t, c.Rcpt(ctx, "b@example.org", nil))
	require.ErrorAs(t, c.Rcpt(ctx, "unknown@example.org", nil), &se)
	w, err := c.Data(ctx)
	require.NoError(t, err)
	_, err = io_WriteString(w, "Subject: one\n\n.dot\nbare LF lines\n")
	require.NoError(t, err)
	require.NoError(t, w.Close())
	assert.NotEmpty(t, w.Reply())

	// RSET drops a transaction.
	require.NoError(t, c.Mail(ctx, "x@example.org", nil))
	require.NoError(t, c.Reset(ctx))

	// BDAT, chunks sent as they are.
	require.NoError(t, c.Mail(ctx, "", nil))
	require.NoError(t, c.Rcpt(ctx, "postmaster", nil))
	require.NoError(t, c.Bdat(ctx, []byte("Subject: two\r\n\r\n"), false))
	require.NoError(t, c.Bdat(ctx, []byte(".no stuffing\r\n"), false))
	require.NoError(t, c.Bdat(ctx, nil, true))

	// DATA without a transaction is refused and the session goes on.
	_, err = c.Data(ctx)
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 503, se.Code)
	require.NoError(t, c.Quit(ctx))

	msgs := be.all()
	require.Len(t, msgs, 2)
	assert.Equal(t, "Subject: one\r\n\r\n.dot\r\nbare LF lines\r\n", msgs[0].Body)
	assert.Equal(t, []string{"b@example.org"}, msgs[0].To)
	assert.Equal(t, "", msgs[1].From)
	assert.Equal(t, "Subject: two\r\n\r\n.no stuffing\r\n", msgs[1].Body)
}

func io_WriteString(w *DataWriter, s string) (int, error) { return w.Write([]byte(s)) }

func TestClientServerLMTP(t *testing.T) {
	be := &clientBackend{}
	addr := clientServe(t, be, func(s *Server) { s.LMTP = true }, nil)
	for _, tc := range []struct {
		name string
		opts DialOptions
	}{
		{"pipelined DATA", DialOptions{LMTP: true, DisableChunking: true}},
		{"lock-step DATA", DialOptions{LMTP: true, DisableChunking: true, DisablePipelining: true}},
		{"pipelined BDAT", DialOptions{LMTP: true, ChunkSize: 64}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := clientCtx(t)
			c, err := Dial(ctx, addr, &tc.opts)
			require.NoError(t, err)
			defer c.Close()
			res, err := c.Send(ctx, &Envelope{From: "a@example.org",
				To: []string{"b@example.org", "unknown@example.org", "lmtpfail@example.org", "c@example.org"}},
				strings.NewReader(clientTestBody()))
			clientRequirePartial(t, err, 2)
			assert.Equal(t, 2, res.Accepted())
			var se *Error
			require.ErrorAs(t, res.Recipients[1].Err, &se)
			assert.Equal(t, 550, se.Code)
			require.ErrorAs(t, res.Recipients[2].Err, &se)
			assert.Equal(t, 552, se.Code, "the LMTP delivery status of that recipient")
			assert.NoError(t, res.Recipients[0].Err)
			assert.NoError(t, res.Recipients[3].Err)
			require.NoError(t, c.Quit(ctx))
		})
	}
	t.Run("lock-step calls", func(t *testing.T) {
		ctx := clientCtx(t)
		c, err := Dial(ctx, addr, &DialOptions{LMTP: true})
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.Mail(ctx, "a@example.org", nil))
		require.NoError(t, c.Rcpt(ctx, "b@example.org", nil))
		require.NoError(t, c.Rcpt(ctx, "lmtpfail@example.org", nil))
		w, err := c.Data(ctx)
		require.NoError(t, err)
		w.Write([]byte("hello\r\n"))
		var se *Error
		require.ErrorAs(t, w.Close(), &se)
		assert.Equal(t, 552, se.Code)
		require.Len(t, w.Results(), 2)
		assert.NoError(t, w.Results()[0].Err)
		assert.Error(t, w.Results()[1].Err)
	})
}

func TestClientServerExtensionParams(t *testing.T) {
	srvTLS, cliTLS := clientCert(t)
	be := &clientBackend{}
	addr := clientServe(t, be, func(s *Server) {
		s.TLSConfig = srvTLS
		s.EnableDSN, s.EnableMTPriority, s.EnableDeliverBy, s.EnableREQUIRETLS, s.EnableBINARYMIME = true, true, true, true, true
		s.MaxMessageBytes = 1 << 20
	}, nil)
	ctx := clientCtx(t)
	c, err := DialStartTLS(ctx, addr, &DialOptions{TLSConfig: cliTLS})
	require.NoError(t, err)
	defer c.Close()
	prio := 5
	mo := &MailOptions{
		Size: 7, Body: Body8BitMIME, RequireTLS: true, Return: DSNReturnHeaders, EnvelopeID: "env+id=1",
		MTPriority: &prio, DeliverBy: &DeliverByOptions{Time: time.Hour, Mode: DeliverByNotify, Trace: true},
	}
	ro := &RcptOptions{Notify: []DSNNotify{DSNNotifyFailure, DSNNotifyDelayed},
		OriginalRecipientType: DSNAddressTypeRFC822, OriginalRecipient: "orig+x@example.org"}
	_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.org"}, MailOptions: mo,
		RcptOptions: []*RcptOptions{ro}}, strings.NewReader("seven\r\n"))
	require.NoError(t, err)

	// A size over the advertised limit is refused before anything is sent.
	_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.org"},
		MailOptions: &MailOptions{Size: 2 << 20}}, strings.NewReader("x"))
	require.ErrorContains(t, err, "exceeds the server's SIZE")

	// BINARYMIME goes with BDAT whatever DialOptions.DisableChunking says, as is.
	binary := "\x00\xff bare\nLF and bare\rCR\r\n.\r\n"
	_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.org"},
		MailOptions: &MailOptions{Body: BodyBinaryMIME}}, strings.NewReader(binary))
	require.NoError(t, err)
	require.NoError(t, c.Quit(ctx))

	msgs := be.all()
	require.Len(t, msgs, 2)
	got := msgs[0]
	assert.Equal(t, int64(7), got.Opts.Size)
	assert.Equal(t, Body8BitMIME, got.Opts.Body)
	assert.True(t, got.Opts.RequireTLS)
	assert.Equal(t, DSNReturnHeaders, got.Opts.Return)
	assert.Equal(t, "env+id=1", got.Opts.EnvelopeID)
	require.NotNil(t, got.Opts.MTPriority)
	assert.Equal(t, 5, *got.Opts.MTPriority)
	require.NotNil(t, got.Opts.DeliverBy)
	assert.Equal(t, *mo.DeliverBy, *got.Opts.DeliverBy)
	require.Len(t, got.RcptOpts, 1)
	assert.Equal(t, ro.Notify, got.RcptOpts[0].Notify)
	assert.Equal(t, "orig+x@example.org", got.RcptOpts[0].OriginalRecipient)
	assert.True(t, strings.EqualFold(string(DSNAddressTypeRFC822), string(got.RcptOpts[0].OriginalRecipientType)))
	assert.Equal(t, binary, msgs[1].Body)
	assert.Equal(t, BodyBinaryMIME, msgs[1].Opts.Body)
}

func TestClientServerSMTPUTF8(t *testing.T) {
	be := &clientBackend{}
	addr := clientServe(t, be, nil, nil)
	ctx := clientCtx(t)
	c, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Send(ctx, &Envelope{From: "jörg@bücher.example", To: []string{"δοκιμή@παράδειγμα.example"}},
		strings.NewReader("Subject: ünïcödé\r\n\r\nhi\r\n"))
	require.NoError(t, err)
	require.Len(t, be.all(), 1)
	assert.True(t, be.all()[0].Opts.UTF8)
	assert.Equal(t, "Subject: ünïcödé\r\n\r\nhi\r\n", be.all()[0].Body)

	addr = clientServe(t, &clientBackend{}, func(s *Server) { s.DisableSMTPUTF8 = true }, nil)
	c2, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	defer c2.Close()
	_, err = c2.Send(ctx, &Envelope{From: "jörg@example.org", To: []string{"b@example.org"}}, strings.NewReader("x"))
	require.ErrorIs(t, err, ErrNotAdvertised)
}

func TestClientServerSendMail(t *testing.T) {
	srvTLS, cliTLS := clientCert(t)
	be := &clientBackend{}
	addr := clientServe(t, be, func(s *Server) { s.TLSConfig = srvTLS }, nil)
	ctx := clientCtx(t)
	msg := []byte("Subject: SendMail\r\n\r\nvia STARTTLS and AUTH\r\n")
	opts := &SendMailOptions{DialOptions: DialOptions{TLSConfig: cliTLS}, MustUseTLS: true}
	require.NoError(t, SendMailWith(ctx, addr, opts, clientPlain("user", "pass"), "a@example.org",
		[]string{"b@example.org", "c@example.org"}, bytes.NewReader(msg)))
	msgs := be.all()
	require.Len(t, msgs, 1)
	assert.Equal(t, string(msg), msgs[0].Body)
	assert.True(t, msgs[0].TLS)
	assert.Equal(t, "user", msgs[0].AuthUser)

	// A refused recipient is an error listing it; the others got it.
	err := SendMailWith(ctx, addr, opts, nil, "a@example.org", []string{"unknown@example.org", "b@example.org"}, bytes.NewReader(msg))
	var re *RecipientsError
	require.ErrorAs(t, err, &re)
	require.Len(t, re.Refused, 1)
	assert.Equal(t, "unknown@example.org", re.Refused[0].Address)
	var se *Error
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 550, se.Code)
	assert.Len(t, be.all(), 2)

	// TLS required but not offered: nothing is sent.
	plain := clientServe(t, be, nil, nil)
	err = SendMailWith(ctx, plain, &SendMailOptions{MustUseTLS: true}, nil, "a@example.org", []string{"b@example.org"}, bytes.NewReader(msg))
	require.ErrorIs(t, err, ErrNotAdvertised)
	assert.Len(t, be.all(), 2)

	// The net/smtp shape, to a plaintext loopback server.
	require.NoError(t, SendMail(ctx, plain, nil, "a@example.org", []string{"b@example.org"}, msg))
	assert.Len(t, be.all(), 3)
}

func TestClientServerContextDeadline(t *testing.T) {
	addr := clientServe(t, &clientBackend{}, nil, nil)
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	// A body that never ends: the context's deadline stops Send.
	_, err = c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.org"}}, clientSlowReader{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

type clientSlowReader struct{}

func (clientSlowReader) Read(p []byte) (int, error) {
	time.Sleep(10 * time.Millisecond)
	p[0] = 'x'
	return 1, nil
}
