package smtp

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func FuzzParseBDAT(f *testing.F) {
	for _, s := range []string{"0", "1 LAST", "1024 last", "12 LAST ", "x", "", " 1", "1  LAST", "999999999999999999", "9999999999999999999", "1 LASTX", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, args string) {
		size, last, ok := parseBDAT([]byte(args))
		if !ok {
			return
		}
		if size < 0 {
			t.Fatalf("parseBDAT(%q) = negative size %d", args, size)
		}
		// What parses is digits, then nothing or " LAST" in any case.
		digits := args[:len(args)-len(strings.TrimLeft(args, "0123456789"))]
		rest := args[len(digits):]
		n, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || n != size || last != (rest != "") || rest != "" && !strings.EqualFold(rest, " LAST") {
			t.Fatalf("parseBDAT(%q) = %d, %v", args, size, last)
		}
	})
}

// FuzzServerSession feeds arbitrary client input to a server and checks
// that it never panics (a recovered panic would show as 421 4.3.0) and
// that everything it writes is well-formed replies.
func FuzzServerSession(f *testing.F) {
	seeds := []string{
		"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
		"EHLO x\r\nMAIL FROM:<a@b.c> SIZE=10 BODY=8BITMIME RET=HDRS ENVID=x\r\nRCPT TO:<d@e.f> NOTIFY=NEVER ORCPT=rfc822;x\r\nBDAT 3\r\nabcBDAT 0 LAST\r\nRSET\r\n",
		"EHLO x\r\nAUTH PLAIN\r\nAHVzZXIAcGFzcw==\r\nAUTH LOGIN\r\n*\r\n",
		"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nBDAT 5\r\nNOOP\r\nRSET\r\nBDAT 2 LAST\r\nxx",
		"HELO x\r\nDATA\r\nRCPT TO:<>\r\nBDAT x\r\n",
		"EHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\na\n.\nb\r.\r\n.\r\nNOOP\r\n",
		"STARTTLS\r\nVRFY x\r\nEXPN y\r\nHELP\r\nETRN z\r\nXCLIENT A=B\r\n\r\n\x00\xff\r\n",
		"EHLO x\r\nMAIL FROM:<\"panic\"@b.c>\r\n", // unquoted, the sender the harness would panic on
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		s := &Server{
			Hostname: "mx.test", Backend: &srvBackend{auth: true, noPanic: true}, Logger: srvQuietLogger,
			AllowInsecureAuth: true, EnableDSN: true, EnableMTPriority: true, EnableDeliverBy: true,
			EnableBINARYMIME: true, MaxMessageBytes: 1000, MaxRecipients: 3,
		}
		s.init()
		conn := &srvFakeConn{in: strings.NewReader(input)}
		newConn(s, conn, context.Background()).serve()
		r := bufio.NewReader(&conn.out)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				if line != "" {
					t.Fatalf("unterminated output %q", line)
				}
				break
			}
			if len(line) < 5 || !strings.HasSuffix(line, "\r\n") || line[3] != ' ' && line[3] != '-' {
				t.Fatalf("malformed reply line %q", line)
			}
			if _, err := strconv.Atoi(line[:3]); err != nil {
				t.Fatalf("malformed reply code %q", line)
			}
			if strings.HasPrefix(line, "421 4.3.0") {
				t.Fatalf("server panicked: %q", line)
			}
		}
	})
}

// srvFakeConn is a net.Conn that reads a fixed input, then io.EOF, and
// records what is written.
type srvFakeConn struct {
	in  *strings.Reader
	out bytes.Buffer
}

func (c *srvFakeConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *srvFakeConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *srvFakeConn) Close() error                { return nil }
func (c *srvFakeConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25} }
func (c *srvFakeConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (c *srvFakeConn) SetDeadline(time.Time) error      { return nil }
func (c *srvFakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *srvFakeConn) SetWriteDeadline(time.Time) error { return nil }
