package textproto_test

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/postwire/postwire/textproto"
)

func ExampleParseCommand() {
	cmd, err := textproto.ParseCommand([]byte("mail FROM:<alice@example.org> SIZE=1000"))
	if err != nil {
		panic(err)
	}
	fmt.Println(cmd.Verb, string(cmd.Args))

	_, err = textproto.ParseCommand([]byte("HELO\tclient"))
	fmt.Println(err.(*textproto.ParseError).Code, err)
	// Output:
	// MAIL FROM:<alice@example.org> SIZE=1000
	// 500 syntax error: control character in command
}

func ExampleParseMail() {
	path, params, err := textproto.ParseMail([]byte(`FROM:<@relay.example:"john doe"@example.org> SIZE=1000 body=8BITMIME`), textproto.ParseOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q %q %s\n", path.Local, path.Domain, path)
	for _, p := range params {
		fmt.Println(p.Keyword, p.Value)
	}

	_, _, err = textproto.ParseRcpt([]byte("TO:<>"), textproto.ParseOptions{})
	r := err.(*textproto.ParseError).Reply()
	fmt.Printf("%s", textproto.AppendReply(nil, &r))
	// Output:
	// "john doe" "example.org" "john doe"@example.org
	// SIZE 1000
	// BODY 8BITMIME
	// 553 5.1.3 null path is not a recipient
}

func ExampleParseMail_smtputf8() {
	path, _, err := textproto.ParseMail([]byte("FROM:<jörg@bücher.example> SMTPUTF8"), textproto.ParseOptions{SMTPUTF8: true})
	if err != nil {
		panic(err)
	}
	fmt.Println(path)
	_, _, err = textproto.ParseMail([]byte("FROM:<jörg@bücher.example>"), textproto.ParseOptions{})
	fmt.Println(err)
	// Output:
	// jörg@xn--bcher-kva.example
	// non-ASCII address requires SMTPUTF8
}

func ExampleAppendReply() {
	r := textproto.Reply{Code: 250, Enhanced: textproto.EnhancedCode{2, 0, 0}, Lines: []string{"mx.example", "PIPELINING", "evil\r\n250 injected"}}
	fmt.Printf("%q\n", textproto.AppendReply(nil, &r))
	fmt.Printf("%q\n", textproto.AppendReplyLine(nil, 354, textproto.EnhancedCode{}, "End data with <CR><LF>.<CR><LF>"))
	// Output:
	// "250-2.0.0 mx.example\r\n250-2.0.0 PIPELINING\r\n250 2.0.0 evil  250 injected\r\n"
	// "354 End data with <CR><LF>.<CR><LF>\r\n"
}

func ExampleReplyReader_ReadReply() {
	rr := textproto.NewReplyReader(bufio.NewReader(strings.NewReader(
		"550-5.7.1 Message rejected\r\n550 5.7.1 see https://example.org/policy\r\n")))
	r, err := rr.ReadReply()
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Code, r.Enhanced)
	for _, l := range r.Lines {
		fmt.Println(l)
	}
	// Output:
	// 550 5.7.1
	// Message rejected
	// see https://example.org/policy
}

func ExampleEncodeXtext() {
	fmt.Println(textproto.EncodeXtext("rfc822;user+tag@example.org"))
	fmt.Println(textproto.EncodeUTF8AddrXtext("jörg@example.org"))
	s, err := textproto.DecodeXtext("a+0D+0Ab")
	fmt.Printf("%q %v\n", s, err)
	// Output:
	// rfc822;user+2Btag@example.org
	// j\x{F6}rg@example.org
	// "" textproto: malformed xtext
}
