package compat

import (
	"bufio"
	"bytes"
	"io"
	"math/rand"
	"net/textproto"
	"testing"

	"github.com/postwire/postwire/dotstuff"
	"github.com/stretchr/testify/require"
)

// decoderBodySize is the size of the DATA decoder benchmark's body.
const decoderBodySize = 16 << 20

// stuffedLines returns a body of about size octets as it travels after DATA:
// lines of 78 octets plus CRLF, 5% of them starting with a dot (so stuffed
// with a second one), then the terminating ".\r\n". It also returns the body
// as sent, before stuffing.
func stuffedLines(size int) (wire, body []byte) {
	rng := rand.New(rand.NewSource(6))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,;:-"
	line := make([]byte, 78)
	for len(body) < size {
		for i := range line {
			line[i] = letters[rng.Intn(len(letters))]
		}
		if rng.Intn(100) < 5 {
			line[0] = '.'
			wire = append(wire, '.')
		}
		wire = append(wire, line...)
		wire = append(wire, '\r', '\n')
		body = append(body, line...)
		body = append(body, '\r', '\n')
	}
	wire = append(wire, ".\r\n"...)
	return wire, body
}

// decoders are the DATA readers compared: ours, which yields the body with
// its CRLFs, and net/textproto's DotReader, which yields LF line ends.
var decoders = []struct {
	name string
	new  func(br *bufio.Reader) io.Reader
}{
	{"postwire", func(br *bufio.Reader) io.Reader { return dotstuff.NewReader(br) }},
	{"textproto", func(br *bufio.Reader) io.Reader { return textproto.NewReader(br).DotReader() }},
}

// TestDataDecodersAgree checks the benchmark's premise: both decoders read
// the same body out of the same input (modulo net/textproto's LF).
func TestDataDecodersAgree(t *testing.T) {
	wire, body := stuffedLines(1 << 20)
	for _, d := range decoders {
		br := bufio.NewReader(bytes.NewReader(append(wire, "QUIT\r\n"...)))
		got, err := io.ReadAll(d.new(br))
		require.NoError(t, err, d.name)
		want := body
		if d.name == "textproto" {
			want = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
		}
		require.Equal(t, len(want), len(got), d.name)
		require.True(t, bytes.Equal(want, got), d.name)
		rest, _ := io.ReadAll(br)
		require.Equal(t, "QUIT\r\n", string(rest), d.name)
	}
}

// BenchmarkDataDecoder reads a 16 MiB stuffed body through each decoder
// with the same 64 KiB bufio.Reader and 32 KiB destination buffer.
func BenchmarkDataDecoder(b *testing.B) {
	wire, _ := stuffedLines(decoderBodySize)
	for _, d := range decoders {
		b.Run("impl="+d.name, func(b *testing.B) {
			src := bytes.NewReader(wire)
			br := bufio.NewReaderSize(src, 64<<10)
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(wire)
				br.Reset(src)
				r := d.new(br)
				for {
					_, err := r.Read(buf)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
