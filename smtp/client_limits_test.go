package smtp

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Send under the server's LIMITS (RFC 9422) and its 452 replies (RFC 5321
// section 4.5.3.1.10), against a scripted server in lock-step.

const limitsBody = "Subject: hi\r\n\r\nhello\r\n"

// txn plays one lock-step transaction: MAIL, a RCPT per entry of rcpts
// answered with its reply, DATA and the body when one RCPT got 250.
func (s *clientScript) txn(rcpts []string, replies []string) {
	s.expect("MAIL FROM:<a@example.org> SIZE=22")
	s.send("250 2.1.0 ok\r\n")
	ok := false
	for i, r := range rcpts {
		s.expect("RCPT TO:<" + r + ">")
		s.send(replies[i] + "\r\n")
		ok = ok || strings.HasPrefix(replies[i], "250")
	}
	if !ok {
		return
	}
	s.expect("DATA")
	s.send("354 go on\r\n")
	assert.Equal(s.t, limitsBody+".\r\n", s.body())
	s.send("250 2.0.0 queued\r\n")
}

func TestClientSendRcptMaxSplits(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("SIZE 1000", "LIMITS RCPTMAX=2")
		s.txn([]string{"r1@example.org", "r2@example.org"}, []string{"250 ok", "250 ok"})
		s.txn([]string{"r3@example.org", "r4@example.org"}, []string{"250 ok", "250 ok"})
		s.expect("QUIT")
		s.send("221 bye\r\n")
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	res, err := c.Send(clientCtx(t), &Envelope{From: "a@example.org",
		To: []string{"r1@example.org", "r2@example.org", "r3@example.org", "r4@example.org"}},
		strings.NewReader(limitsBody))
	require.NoError(t, err)
	assert.Equal(t, 4, res.Accepted())
	require.NoError(t, c.Quit(clientCtx(t)))
}

func TestClientSendTooManyGoesAgain(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("SIZE 1000")
		s.txn([]string{"r1@example.org", "r2@example.org", "r3@example.org"},
			[]string{"250 ok", "452 4.5.3 Too many recipients", "452 4.5.3 Too many recipients"})
		s.txn([]string{"r2@example.org", "r3@example.org"}, []string{"250 ok", "250 ok"})
		s.expect("QUIT")
		s.send("221 bye\r\n")
	})
	c, err := Dial(clientCtx(t), addr, &DialOptions{})
	require.NoError(t, err)
	defer c.Close()
	res, err := c.Send(clientCtx(t), &Envelope{From: "a@example.org",
		To: []string{"r1@example.org", "r2@example.org", "r3@example.org"}}, strings.NewReader(limitsBody))
	require.NoError(t, err)
	assert.Equal(t, 3, res.Accepted())
	require.NoError(t, c.Quit(clientCtx(t)))
}

func TestClientSendMailMaxAndPartial(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("SIZE 1000", "LIMITS RCPTMAX=1 MAILMAX=1")
		s.txn([]string{"r1@example.org"}, []string{"250 ok"})
		s.expect("QUIT") // nothing else: MAILMAX is reached
		s.send("221 bye\r\n")
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	res, err := c.Send(clientCtx(t), &Envelope{From: "a@example.org",
		To: []string{"r1@example.org", "r2@example.org"}}, strings.NewReader(limitsBody))
	clientRequirePartial(t, err, 1)
	assert.NoError(t, res.Recipients[0].Err)
	assert.ErrorIs(t, res.Recipients[1].Err, ErrMailMax)
	assert.True(t, c.MailMaxReached())

	res, err = c.Send(clientCtx(t), &Envelope{From: "a@example.org", To: []string{"r2@example.org"}}, strings.NewReader(limitsBody))
	assert.Nil(t, res)
	assert.ErrorIs(t, err, ErrMailMax)
	require.NoError(t, c.Quit(clientCtx(t)))
}

func TestClientSendRcptDomainMax(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("SIZE 1000", "LIMITS RCPTDOMAINMAX=1")
		s.txn([]string{"a@x.example", "c@X.example"}, []string{"250 ok", "250 ok"})
		s.txn([]string{"b@y.example"}, []string{"250 ok"})
		s.expect("QUIT")
		s.send("221 bye\r\n")
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	res, err := c.Send(clientCtx(t), &Envelope{From: "a@example.org",
		To: []string{"a@x.example", "b@y.example", "c@X.example"}}, strings.NewReader(limitsBody))
	require.NoError(t, err)
	assert.Equal(t, 3, res.Accepted())
	require.NoError(t, c.Quit(clientCtx(t)))
}

// A body that cannot be read again keeps the recipients of a further
// transaction from it, and says so.
func TestClientSendSplitNeedsSeeker(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("LIMITS RCPTMAX=1")
		s.expect("MAIL FROM:<a@example.org>")
		s.send("250 ok\r\n")
		s.expect("RCPT TO:<r1@example.org>")
		s.send("250 ok\r\n")
		s.expect("DATA")
		s.send("354 go on\r\n")
		s.body()
		s.send("250 queued\r\n")
		s.expect("QUIT")
		s.send("221 bye\r\n")
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	res, err := c.Send(clientCtx(t), &Envelope{From: "a@example.org",
		To: []string{"r1@example.org", "r2@example.org"}}, struct{ io.Reader }{strings.NewReader(limitsBody)})
	clientRequirePartial(t, err, 1)
	assert.ErrorIs(t, res.Recipients[1].Err, ErrNotSent)
	require.NoError(t, c.Quit(clientCtx(t)))
}

// Every recipient is checked before anything is written, and each one is
// reported.
func TestClientSendReportsEveryMalformedRecipient(t *testing.T) {
	addr := clientFake(t, func(s *clientScript) {
		s.greetEHLO("PIPELINING")
		s.expect("QUIT") // nothing of the transaction was written
		s.send("221 bye\r\n")
	})
	c, err := Dial(clientCtx(t), addr, nil)
	require.NoError(t, err)
	defer c.Close()
	res, err := c.Send(clientCtx(t), &Envelope{From: "a@example.org",
		To: []string{"ok@example.org", "bad address@", "ok2@example.org", "also bad"}}, strings.NewReader(limitsBody))
	require.ErrorIs(t, err, ErrBadAddress)
	require.NotNil(t, res)
	require.Len(t, res.Recipients, 4)
	assert.ErrorIs(t, res.Recipients[0].Err, ErrNotSent)
	assert.ErrorIs(t, res.Recipients[1].Err, ErrBadAddress)
	assert.ErrorIs(t, res.Recipients[2].Err, ErrNotSent)
	assert.ErrorIs(t, res.Recipients[3].Err, ErrBadAddress)
	assert.Contains(t, err.Error(), "also bad")
	require.NoError(t, c.Quit(clientCtx(t)))
}

// In LMTP, Send and DataWriter.Close follow one rule: nil only when every
// recipient has the message, else a *RecipientsError counting those who do.
func TestClientLMTPOneRule(t *testing.T) {
	script := func(s *clientScript) {
		s.send("220 lmtp.example LMTP\r\n")
		s.expect("LHLO localhost")
		s.send("250 lmtp.example\r\n")
		s.expect("MAIL FROM:<a@example.org>")
		s.send("250 ok\r\n")
		for _, r := range []string{"b@example.org", "c@example.org"} {
			s.expect("RCPT TO:<" + r + ">")
			s.send("250 ok\r\n")
		}
		s.expect("DATA")
		s.send("354 go\r\n")
		s.body()
		s.send("250 2.0.0 b delivered\r\n552 5.2.2 c over quota\r\n")
		s.expect("QUIT")
		s.send("221 bye\r\n")
	}
	ctx := clientCtx(t)

	c, err := Dial(ctx, clientFake(t, script), &DialOptions{LMTP: true})
	require.NoError(t, err)
	defer c.Close()
	_, sendErr := c.Send(ctx, &Envelope{From: "a@example.org", To: []string{"b@example.org", "c@example.org"}}, strings.NewReader("hi\r\n"))
	clientRequirePartial(t, sendErr, 1)
	require.NoError(t, c.Quit(ctx))

	c2, err := Dial(ctx, clientFake(t, script), &DialOptions{LMTP: true})
	require.NoError(t, err)
	defer c2.Close()
	require.NoError(t, c2.Mail(ctx, "a@example.org", nil))
	require.NoError(t, c2.Rcpt(ctx, "b@example.org", nil))
	require.NoError(t, c2.Rcpt(ctx, "c@example.org", nil))
	w, err := c2.Data(ctx)
	require.NoError(t, err)
	w.Write([]byte("hi\r\n"))
	closeErr := w.Close()
	clientRequirePartial(t, closeErr, 1)
	var se *Error
	require.True(t, errors.As(closeErr, &se))
	assert.Equal(t, 552, se.Code)
	require.NoError(t, c2.Quit(ctx))
}

// SendMany reports a message with a malformed recipient as Send does, and
// sends the others.
func TestClientSendManyReportsMalformedRecipients(t *testing.T) {
	be := &clientBackend{}
	addr := clientServe(t, be, nil, nil)
	ctx := clientCtx(t)
	c, err := Dial(ctx, addr, nil)
	require.NoError(t, err)
	defer c.Close()
	res, err := c.SendMany(ctx, []Message{
		{Envelope{From: "a@example.org", To: []string{"b@example.org", "bad address@"}}, strings.NewReader("one\r\n")},
		{Envelope{From: "a@example.org", To: []string{"c@example.org"}}, strings.NewReader("two\r\n")},
	})
	require.NoError(t, err)
	require.ErrorIs(t, res[0].Err, ErrBadAddress)
	require.Len(t, res[0].Recipients, 2)
	assert.ErrorIs(t, res[0].Recipients[0].Err, ErrNotSent)
	assert.ErrorIs(t, res[0].Recipients[1].Err, ErrBadAddress)
	require.NoError(t, res[1].Err)
	require.Len(t, be.all(), 1)
	assert.Equal(t, "two\r\n", be.all()[0].Body)
}
