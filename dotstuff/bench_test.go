package dotstuff

import (
	"bufio"
	"bytes"
	"io"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
)

// benchBody returns a body of about size octets in lines of 78 octets plus
// CRLF, 5% of them starting with a dot, as given to a Writer (not stuffed).
func benchBody(size int) []byte {
	rng := rand.New(rand.NewSource(1))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,;:-"
	body := make([]byte, 0, size+80)
	line := make([]byte, 78)
	for len(body) < size {
		for i := range line {
			line[i] = letters[rng.Intn(len(letters))]
		}
		if rng.Intn(100) < 5 {
			line[0] = '.'
		}
		body = append(body, line...)
		body = append(body, '\r', '\n')
	}
	return body
}

// stuffedBody is benchBody as it goes on the wire, terminator included.
func stuffedBody(size int) []byte {
	var wire bytes.Buffer
	w := NewWriter(&wire)
	if _, err := w.Write(benchBody(size)); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return wire.Bytes()
}

const benchSize = 16 << 20

func BenchmarkReader(b *testing.B) { benchmarkReader(b, 0) }

// BenchmarkReaderMaxLine is BenchmarkReader with the line length limit a
// server would set (RFC 5321 section 4.5.3.1.6: 1000 with the CRLF).
func BenchmarkReaderMaxLine(b *testing.B) { benchmarkReader(b, 998) }

func benchmarkReader(b *testing.B, maxLine int) {
	wire := stuffedBody(benchSize)
	src := bytes.NewReader(wire)
	br := bufio.NewReaderSize(src, 64<<10)
	d := NewReader(br)
	d.MaxLineLength = maxLine
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		src.Reset(wire)
		br.Reset(src)
		d.Reset(br)
		for {
			_, err := d.Read(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkWriter(b *testing.B) {
	body := benchBody(benchSize)
	d := NewWriter(io.Discard)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		d.Reset(io.Discard)
		for p := body; len(p) > 0; {
			n := min(len(p), 32<<10)
			if _, err := d.Write(p[:n]); err != nil {
				b.Fatal(err)
			}
			p = p[n:]
		}
		if err := d.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestNoAllocation(t *testing.T) {
	wire := stuffedBody(64 << 10)
	src := bytes.NewReader(wire)
	br := bufio.NewReaderSize(src, 4096)
	d := NewReader(br)
	buf := make([]byte, 1000)
	reads := testing.AllocsPerRun(20, func() {
		src.Reset(wire)
		br.Reset(src)
		d.Reset(br)
		for {
			if _, err := d.Read(buf); err != nil {
				break
			}
		}
	})
	assert.Zero(t, reads, "Reader allocates")

	body := benchBody(64 << 10)
	w := NewWriter(io.Discard)
	writes := testing.AllocsPerRun(20, func() {
		w.Reset(io.Discard)
		for p := body; len(p) > 0; p = p[min(len(p), 1000):] {
			w.Write(p[:min(len(p), 1000)])
		}
		w.Close()
	})
	assert.Zero(t, writes, "Writer allocates")
}
