package smtp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/postwire/postwire/smtp"
)

// poolExampleServer runs a Server on loopback that prints the recipient
// of each message it receives.
func poolExampleServer() (addr string, stop func()) {
	srv := &smtp.Server{
		Hostname: "mx.example.org",
		Backend: smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
			return &poolExampleSession{}, nil
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

type poolExampleSession struct{ to string }

func (s *poolExampleSession) Mail(context.Context, string, *smtp.MailOptions) error { return nil }
func (s *poolExampleSession) Rcpt(_ context.Context, to string, _ *smtp.RcptOptions) error {
	s.to = to
	return nil
}
func (s *poolExampleSession) Data(_ context.Context, r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	fmt.Println("server got a message for", s.to)
	return err
}
func (s *poolExampleSession) Reset()        { s.to = "" }
func (s *poolExampleSession) Logout() error { return nil }

// A web handler that sends a message per request through one Pool shared
// by every request: connections are reused, at most five at once.
func ExamplePool() {
	addr, stop := poolExampleServer()
	defer stop()

	pool := &smtp.Pool{Addrs: []string{addr}, MaxConnsPerHost: 5, MaxMessagesPerConn: 100}
	defer pool.Close() // waits for messages in flight, then QUIT

	http.HandleFunc("POST /signup", func(w http.ResponseWriter, r *http.Request) {
		to := r.FormValue("email")
		msg := "From: app@example.org\r\nTo: " + to + "\r\nSubject: Welcome\r\n\r\nHello!\r\n"
		_, err := pool.Send(r.Context(), &smtp.Envelope{From: "app@example.org", To: []string{to}}, strings.NewReader(msg))
		if errors.Is(err, smtp.ErrMaybeDelivered) {
			// The final dot left and no reply came (RFC 1047): sending again may duplicate it.
			http.Error(w, "the mail may or may not have been sent", http.StatusAccepted)
			return
		}
		if err != nil {
			http.Error(w, "could not send the mail: "+err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintln(w, "welcome mail sent to", to)
	})

	web := httptest.NewServer(http.DefaultServeMux)
	defer web.Close()
	for _, who := range []string{"alice@example.org", "bob@example.org"} {
		resp, err := http.PostForm(web.URL+"/signup", url.Values{"email": {who}})
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Print(string(body))
	}
	st := pool.Stats()
	fmt.Println("sent:", st.Sent, "connections dialled:", st.Dialled)
	// Output:
	// server got a message for alice@example.org
	// welcome mail sent to alice@example.org
	// server got a message for bob@example.org
	// welcome mail sent to bob@example.org
	// sent: 2 connections dialled: 1
}
