package dotstuff_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/postwire/postwire/dotstuff"
)

func ExampleWriter() {
	var wire bytes.Buffer
	w := dotstuff.NewWriter(&wire)
	io.WriteString(w, "Subject: dots\n\n.leading dot\nlast line")
	w.Close()
	fmt.Printf("%q\n", wire.String())
	// Output:
	// "Subject: dots\r\n\r\n..leading dot\r\nlast line\r\n.\r\n"
}

func ExampleReader() {
	conn := bufio.NewReader(strings.NewReader("Subject: dots\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n"))
	body, err := io.ReadAll(dotstuff.NewReader(conn))
	fmt.Printf("%q %v\n", body, err)
	next, _ := conn.ReadString('\n')
	fmt.Printf("next command: %q\n", next)
	// Output:
	// "Subject: dots\r\n\r\n.leading dot\r\n" <nil>
	// next command: "QUIT\r\n"
}

func ExampleReader_Drain() {
	// A smuggling attempt: "\n.\n" ends a body for some servers, never here.
	conn := bufio.NewReader(strings.NewReader("Hi\n.\nMAIL FROM:<evil@example.com>\r\n.\r\nNOOP\r\n"))
	d := dotstuff.NewReader(conn)
	_, err := io.ReadAll(d)
	fmt.Println(err)
	fmt.Println(d.Drain()) // the server answers 5xx after draining
	next, _ := conn.ReadString('\n')
	fmt.Printf("next command: %q\n", next)
	// Output:
	// dotstuff: bare CR or LF in message body
	// dotstuff: bare CR or LF in message body
	// next command: "NOOP\r\n"
}
