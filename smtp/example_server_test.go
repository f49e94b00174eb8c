package smtp_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/postwire/postwire/smtp"
)

// srvPrintSession prints each message it receives.
type srvPrintSession struct {
	from string
	to   []string
}

func (s *srvPrintSession) Mail(ctx context.Context, from string, opts *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *srvPrintSession) Rcpt(ctx context.Context, to string, opts *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "nobody@") {
		return &smtp.Error{Code: 550, Enhanced: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *srvPrintSession) Data(ctx context.Context, r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	fmt.Printf("from: %s\nto: %s\nbody: %q\n", s.from, strings.Join(s.to, ", "), body)
	return nil
}

func (s *srvPrintSession) Reset()        { s.from, s.to = "", nil }
func (s *srvPrintSession) Logout() error { return nil }

// srvExampleClient sends lines on a raw connection and prints the last line
// of each reply.
type srvExampleClient struct {
	conn net.Conn
	r    *bufio.Reader
}

func (c *srvExampleClient) reply() string {
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return err.Error()
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.TrimSuffix(line, "\r\n")
		}
	}
}

func (c *srvExampleClient) send(lines ...string) {
	fmt.Fprint(c.conn, strings.Join(lines, "\r\n")+"\r\n")
}

// A server on a loopback port, a message sent to it with a raw
// connection, and what the backend received.
func ExampleServer() {
	s := &smtp.Server{
		Hostname: "mx.example.org",
		Backend: smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
			return &srvPrintSession{}, nil
		}),
		MaxMessageBytes: 10 << 20,
		Logger:          slog.New(slog.DiscardHandler),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go s.Serve(l)
	defer s.Close()

	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	c := &srvExampleClient{conn, bufio.NewReader(conn)}
	fmt.Println(c.reply())
	c.send("EHLO client.example.org")
	fmt.Println(c.reply())
	// PIPELINING: the envelope and DATA in one write (RFC 2920).
	c.send("MAIL FROM:<alice@example.org> SIZE=40", "RCPT TO:<bob@example.net>", "RCPT TO:<nobody@example.net>", "DATA")
	for range 4 {
		fmt.Println(c.reply())
	}
	c.send("Subject: hello", "", "Hi Bob!", ".")
	fmt.Println(c.reply())
	c.send("QUIT")
	fmt.Println(c.reply())
	// Output:
	// 220 mx.example.org ESMTP Service ready
	// 250 HELP
	// 250 2.1.0 Sender OK
	// 250 2.1.5 Recipient OK
	// 550 5.1.1 No such user here
	// 354 Start mail input; end with <CRLF>.<CRLF>
	// from: alice@example.org
	// to: bob@example.net
	// body: "Subject: hello\r\n\r\nHi Bob!\r\n"
	// 250 2.0.0 OK: message accepted
	// 221 2.0.0 mx.example.org Service closing transmission channel
}

// Shutdown lets the transaction in flight finish, then says goodbye.
func ExampleServer_Shutdown() {
	s := &smtp.Server{
		Hostname: "mx.example.org",
		Backend: smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
			return &srvPrintSession{}, nil
		}),
		Logger: slog.New(slog.DiscardHandler),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go s.Serve(l)

	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	c := &srvExampleClient{conn, bufio.NewReader(conn)}
	c.reply()
	c.send("HELO client.example.org")
	c.reply()
	c.send("MAIL FROM:<alice@example.org>")
	fmt.Println(c.reply())

	done := make(chan error)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	time.Sleep(20 * time.Millisecond)
	c.send("RCPT TO:<bob@example.net>", "DATA")
	fmt.Println(c.reply())
	fmt.Println(c.reply())
	c.send("Hi Bob!", ".")
	fmt.Println(c.reply())
	fmt.Println(c.reply())
	fmt.Println("Shutdown:", <-done)
	// Output:
	// 250 2.1.0 Sender OK
	// 250 2.1.5 Recipient OK
	// 354 Start mail input; end with <CRLF>.<CRLF>
	// from: alice@example.org
	// to: bob@example.net
	// body: "Hi Bob!\r\n"
	// 250 2.0.0 OK: message accepted
	// 421 4.3.2 mx.example.org Service shutting down, closing connection
	// Shutdown: <nil>
}
