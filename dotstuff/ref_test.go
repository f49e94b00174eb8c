package dotstuff

import (
	"bufio"
	"bytes"
	"io"
	"testing"
	"testing/iotest"
)

// This file holds a slow, obviously-correct model of the codec that the
// tests compare the fast code against.

// refDecoded is what the model says a Reader makes of an input.
type refDecoded struct {
	body     string  // the unstuffed body, bare line endings passed through
	consumed int     // octets up to and including the terminator; -1 if none
	errs     []error // errors the first faulty line allows (none if clean)
}

// refDecode splits input at the first CRLF.CRLF (the start counting as
// after a CRLF), splits the body into CRLF-ended lines, and checks and
// unstuffs each line.
func refDecode(input []byte, allowBare bool, maxLine int) refDecoded {
	s := append([]byte("\r\n"), input...)
	j := bytes.Index(s, []byte("\r\n.\r\n"))
	res := refDecoded{consumed: -1}
	wire := input
	if j >= 0 {
		res.consumed = j + 3
		wire = input[:j]
	}
	var out []byte
	for len(wire) > 0 {
		line := wire
		eol := ""
		if k := bytes.Index(wire, []byte("\r\n")); k >= 0 {
			line, eol = wire[:k], "\r\n"
		}
		wire = wire[len(line)+len(eol):]
		if len(line) > 0 && line[0] == '.' {
			line = line[1:]
		}
		if res.errs == nil {
			if !allowBare && bytes.ContainsAny(line, "\r\n") {
				res.errs = append(res.errs, ErrBareLineEnding)
			}
			if maxLine > 0 && len(line) > maxLine {
				res.errs = append(res.errs, ErrLineTooLong)
			}
		}
		out = append(out, line...)
		out = append(out, eol...)
	}
	res.body = string(out)
	return res
}

// normalise is what a Writer should make of body before stuffing: every
// bare CR and bare LF becomes CRLF, and a non-empty body ends with CRLF.
func normalise(body []byte) []byte {
	var out []byte
	for i := 0; i < len(body); i++ {
		switch {
		case body[i] == '\r' && i+1 < len(body) && body[i+1] == '\n':
			out = append(out, '\r', '\n')
			i++
		case body[i] == '\r' || body[i] == '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, body[i])
		}
	}
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

// refEncode is the wire form of body: normalised, each line beginning
// with "." given one more, and ".\r\n" at the end.
func refEncode(body []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(normalise(body), []byte("\r\n")) {
		if len(line) > 0 && line[0] == '.' {
			out = append(out, '.')
		}
		out = append(out, line...)
	}
	return append(out, ".\r\n"...)
}

func TestRefModelSelfCheck(t *testing.T) {
	// The model itself must get the textbook cases right, or every
	// comparison with it proves nothing.
	r := refDecode([]byte("a\r\n..b\r\n.\r\nNOOP\r\n"), false, 0)
	if r.body != "a\r\n.b\r\n" || r.consumed != 11 || r.errs != nil {
		t.Fatalf("model: %+v", r)
	}
	if got := string(refEncode([]byte(".a\nb\r"))); got != "..a\r\nb\r\n.\r\n" {
		t.Fatalf("model encode: %q", got)
	}
}

// decodeAll reads input through a Reader built by the given setup and
// returns what it delivered, the error that ended reading (nil for io.EOF),
// the result of Drain, and what was left in the bufio.Reader.
type setup struct {
	name    string
	bufSize int                       // bufio.Reader size
	wrap    func(io.Reader) io.Reader // underlying reader shape
	chunk   int                       // size of each Read's p
}

type decoded struct {
	body     string
	err      error
	drainErr error
	rest     string
}

func decodeWith(t testing.TB, s setup, input []byte, allowBare bool, maxLine int) decoded {
	var src io.Reader = bytes.NewReader(input)
	if s.wrap != nil {
		src = s.wrap(src)
	}
	br := bufio.NewReaderSize(src, s.bufSize)
	d := NewReader(br)
	d.AllowBareLineEndings = allowBare
	d.MaxLineLength = maxLine
	var out []byte
	p := make([]byte, s.chunk)
	var res decoded
	for i := 0; ; i++ {
		if i > 10*len(input)+10 {
			t.Fatalf("%s: Read makes no progress", s.name)
		}
		n, err := d.Read(p)
		if n < 0 || n > len(p) {
			t.Fatalf("%s: Read returned n=%d", s.name, n)
		}
		out = append(out, p[:n]...)
		if err != nil {
			if err != io.EOF {
				res.err = err
				// The same error again, with nothing delivered.
				n2, err2 := d.Read(p)
				if n2 != 0 || err2 != err {
					t.Fatalf("%s: Read after %v gave %d, %v", s.name, err, n2, err2)
				}
			}
			break
		}
	}
	res.body = string(out)
	res.drainErr = d.Drain()
	rest, _ := io.ReadAll(br)
	res.rest = string(rest)
	return res
}

// setups are the shapes of input every Reader test runs through: buffers
// and reads small enough to cut every sequence at every point.
var setups = []setup{
	{"plain", 4096, nil, 32 << 10},
	{"tiny-buffer", 16, nil, 7},
	{"one-byte-reads", 16, iotest.OneByteReader, 1},
	{"half-reads", 16, iotest.HalfReader, 3},
	{"eof-with-data", 64, iotest.DataErrReader, 2},
}
