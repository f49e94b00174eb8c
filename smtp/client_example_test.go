package smtp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"

	"github.com/postwire/postwire/smtp"
)

// clientExampleServer runs a Server on loopback that refuses
// nobody@example.org and prints each message it receives.
func clientExampleServer() (addr string, stop func()) {
	srv := &smtp.Server{
		Hostname: "mx.example.org",
		Backend: smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
			return &clientExampleSession{}, nil
		}),
		Logger: slog.New(slog.DiscardHandler),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Shutdown(context.Background()) }
}

type clientExampleSession struct{ to []string }

func (s *clientExampleSession) Mail(context.Context, string, *smtp.MailOptions) error { return nil }
func (s *clientExampleSession) Rcpt(_ context.Context, to string, _ *smtp.RcptOptions) error {
	if to == "nobody@example.org" {
		return &smtp.Error{Code: 550, Enhanced: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	s.to = append(s.to, to)
	return nil
}
func (s *clientExampleSession) Data(_ context.Context, r io.Reader) error {
	b, err := io.ReadAll(r)
	fmt.Printf("server got %q for %v\n", b, s.to)
	return err
}
func (s *clientExampleSession) Reset()        { s.to = nil }
func (s *clientExampleSession) Logout() error { return nil }

// Send pipelines the envelope and reports each recipient.
func ExampleClient_Send() {
	addr, stop := clientExampleServer()
	defer stop()
	ctx := context.Background()

	c, err := smtp.Dial(ctx, addr, &smtp.DialOptions{LocalName: "client.example.org"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	res, err := c.Send(ctx, &smtp.Envelope{
		From: "alice@example.org",
		To:   []string{"bob@example.org", "nobody@example.org"},
	}, strings.NewReader("Subject: hello\r\n\r\nHi Bob.\r\n"))
	var partial *smtp.RecipientsError
	if err != nil && !errors.As(err, &partial) {
		log.Fatal(err) // sent to nobody
	}
	// Accepted for some: each recipient has its own outcome.
	for _, r := range res.Recipients {
		fmt.Printf("%s: %v\n", r.Address, r.Err)
	}
	if err := c.Quit(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// server got "Subject: hello\r\n\r\nHi Bob.\r\n" for [bob@example.org]
	// bob@example.org: <nil>
	// nobody@example.org: 550 5.1.1 no such user
}

// SendMail is the one call net/smtp users know.
func ExampleSendMail() {
	addr, stop := clientExampleServer()
	defer stop()
	msg := []byte("Subject: report\r\n\r\nAll good.\r\n")
	err := smtp.SendMail(context.Background(), addr, nil, "cron@example.org", []string{"ops@example.org"}, msg)
	fmt.Println("error:", err)
	// Output:
	// server got "Subject: report\r\n\r\nAll good.\r\n" for [ops@example.org]
	// error: <nil>
}

// The lock-step calls, one command at a time.
func ExampleClient_Data() {
	addr, stop := clientExampleServer()
	defer stop()
	ctx := context.Background()
	c, err := smtp.Dial(ctx, addr, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail(ctx, "alice@example.org", nil); err != nil {
		log.Fatal(err)
	}
	if err := c.Rcpt(ctx, "nobody@example.org", nil); err != nil {
		fmt.Println(err) // the step, then the server's reply
	}
	if err := c.Rcpt(ctx, "carol@example.org", nil); err != nil {
		log.Fatal(err)
	}
	w, err := c.Data(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprint(w, "Subject: lock-step\n\n.a line with a dot\n") // bare LF becomes CRLF
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("accepted")
	c.Quit(ctx)
	// Output:
	// smtp: RCPT TO:<nobody@example.org>: 550 5.1.1 no such user
	// server got "Subject: lock-step\r\n\r\n.a line with a dot\r\n" for [carol@example.org]
	// accepted
}
