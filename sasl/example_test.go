package sasl_test

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/postwire/postwire/sasl"
)

func ExampleNewPlainClient() {
	c := sasl.NewPlainClient("", "tim", "tanstaaftanstaaf")
	mech, ir, err := c.Start()
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s %q\n", mech, ir)
	// Output: PLAIN "\x00tim\x00tanstaaftanstaaf"
}

func ExampleNewPlainServer() {
	check := func(identity, username, password string) error {
		if username != "tim" || password != "tanstaaftanstaaf" {
			return sasl.ErrInvalidCredentials // the SMTP layer answers 535 5.7.8
		}
		return nil
	}
	s := sasl.NewPlainServer(check)
	_, done, err := s.Next([]byte("\x00tim\x00tanstaaftanstaaf"))
	fmt.Println(done, err, s.(sasl.IdentityServer).Identity().Authentication)

	_, _, err = sasl.NewPlainServer(check).Next([]byte("no separators"))
	fmt.Println(errors.Is(err, sasl.ErrMalformed))
	// Output:
	// true <nil> tim
	// true
}

func ExampleNewCramMD5Client() {
	// RFC 2195 section 2.
	c := sasl.NewCramMD5Client("tim", "tanstaaftanstaaf")
	resp, _ := c.Next([]byte("<1896.697170952@postoffice.reston.mci.net>"))
	fmt.Println(string(resp))
	// Output: tim b913a602c7eda7a495b4e6e7334d3890
}

// A SCRAM-SHA-256 server stores keys derived from the password, never the
// password itself.
func ExampleNewScramSHA256Server() {
	stored, err := sasl.NewScramCredentials(sha256.New, "pencil", nil, 4096)
	if err != nil {
		panic(err)
	}
	server := sasl.NewScramSHA256Server(func(username string) (sasl.ScramCredentials, error) {
		if username != "user" {
			return sasl.ScramCredentials{}, sasl.ErrInvalidCredentials
		}
		return stored, nil
	})
	client := sasl.NewScramSHA256Client("user", "pencil", "")

	_, response, _ := client.Start()
	for {
		challenge, done, err := server.Next(response)
		if err != nil {
			fmt.Println("server:", err)
			return
		}
		if done {
			break
		}
		if response, err = client.Next(challenge); err != nil {
			fmt.Println("client:", err) // the SMTP layer would send "*"
			return
		}
	}
	fmt.Println("authenticated as", server.(sasl.IdentityServer).Identity().Authentication)
	// Output: authenticated as user
}

func ExampleOAuthBearerError() {
	c := sasl.NewOAuthBearerClient(sasl.OAuthBearerOptions{Username: "user@example.com", Token: "expired"})
	c.Start()
	_, err := c.Next([]byte(`{"status":"invalid_token","scope":"example_scope"}`))
	var oe *sasl.OAuthBearerError
	if errors.As(err, &oe) {
		fmt.Println(oe.Status, oe.Scope, errors.Is(err, sasl.ErrInvalidCredentials))
	}
	// Output: invalid_token example_scope true
}
