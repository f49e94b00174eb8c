package dotstuff

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriterTable(t *testing.T) {
	tests := []struct {
		name  string
		input string
		wire  string
	}{
		{"empty body", "", ".\r\n"},
		{"one line", "hello\r\n", "hello\r\n.\r\n"},
		{"no final CRLF", "hello", "hello\r\n.\r\n"},
		{"empty line", "\r\n", "\r\n.\r\n"},
		{"leading dot", ".hidden\r\n", "..hidden\r\n.\r\n"},
		{"dot alone", ".\r\n", "..\r\n.\r\n"},
		{"dot alone no CRLF", ".", "..\r\n.\r\n"},
		{"dots", "..\r\n", "...\r\n.\r\n"},
		{"dot on second line", "a\r\n.b\r\n", "a\r\n..b\r\n.\r\n"},
		{"dot mid line", "a.b\r\n", "a.b\r\n.\r\n"},
		{"bare LF", "a\nb\n", "a\r\nb\r\n.\r\n"},
		{"bare CR", "a\rb\r", "a\r\nb\r\n.\r\n"},
		{"LF at start", "\nx", "\r\nx\r\n.\r\n"},
		{"CR CRLF", "a\r\r\n", "a\r\n\r\n.\r\n"},
		{"LF CR", "a\n\rb", "a\r\n\r\nb\r\n.\r\n"},
		{"dot after bare LF", "a\n.b", "a\r\n..b\r\n.\r\n"},
		{"dot after bare CR", "a\r.b", "a\r\n..b\r\n.\r\n"},
		{"smuggling LF dot LF", "a\n.\nb", "a\r\n..\r\nb\r\n.\r\n"},
		{"smuggling CRLF dot CR", "a\r\n.\rb", "a\r\n..\r\nb\r\n.\r\n"},
		{"NUL kept", "\x00.\r\n", "\x00.\r\n.\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.wire, string(refEncode([]byte(tt.input))), "model")
			// Whole, then in every split into two Writes, then byte by byte.
			assert.Equal(t, tt.wire, encodeChunks(t, []byte(tt.input), len(tt.input)+1))
			for cut := 0; cut <= len(tt.input); cut++ {
				var out bytes.Buffer
				w := NewWriter(&out)
				writeAll(t, w, []byte(tt.input[:cut]))
				writeAll(t, w, []byte(tt.input[cut:]))
				require.NoError(t, w.Close())
				assert.Equal(t, tt.wire, out.String(), "cut at %d", cut)
			}
			assert.Equal(t, tt.wire, encodeChunks(t, []byte(tt.input), 1))
		})
	}
}

func TestWriterCRLFAcrossWrites(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	writeAll(t, w, []byte("a\r"))
	writeAll(t, w, []byte("\nb\r"))
	writeAll(t, w, []byte(""))
	writeAll(t, w, []byte("\n"))
	writeAll(t, w, []byte("\n"))
	require.NoError(t, w.Close())
	assert.Equal(t, "a\r\nb\r\n\r\n.\r\n", out.String())
}

func TestWriterClose(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out)
	require.NoError(t, w.Close())
	assert.Equal(t, ".\r\n", out.String())
	assert.ErrorIs(t, w.Close(), ErrWriterClosed)
	_, err := w.Write([]byte("x"))
	assert.ErrorIs(t, err, ErrWriterClosed)
	assert.Equal(t, ".\r\n", out.String(), "nothing after Close")

	w.Reset(&out)
	out.Reset()
	writeAll(t, w, []byte("again"))
	require.NoError(t, w.Close())
	assert.Equal(t, "again\r\n.\r\n", out.String())
}

type closeRecorder struct {
	bytes.Buffer
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestWriterLeavesUnderlyingOpen(t *testing.T) {
	var c closeRecorder
	w := NewWriter(&c)
	writeAll(t, w, []byte("x"))
	require.NoError(t, w.Close())
	assert.False(t, c.closed)
}

// failWriter accepts limit octets, then fails.
type failWriter struct {
	limit int
	err   error
}

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n := f.limit
		f.limit = 0
		return n, f.err
	}
	f.limit -= len(p)
	return len(p), nil
}

func TestWriterUnderlyingError(t *testing.T) {
	boom := errors.New("broken pipe")
	for limit := 0; limit < 17; limit++ { // the body encodes to 14 octets, the end to 3 more
		w := NewWriter(&failWriter{limit: limit, err: boom})
		n, err := w.Write([]byte("ab\n.cd\ref\r\n"))
		if err != nil {
			assert.ErrorIs(t, err, boom)
			assert.Less(t, n, 11)
			_, err = w.Write([]byte("more"))
			assert.ErrorIs(t, err, boom, "sticky")
			assert.ErrorIs(t, w.Close(), boom)
			continue
		}
		assert.Equal(t, 11, n)
		assert.ErrorIs(t, w.Close(), boom, "limit %d", limit)
	}
}

func writeAll(t testing.TB, w io.Writer, p []byte) {
	t.Helper()
	n, err := w.Write(p)
	require.NoError(t, err)
	require.Equal(t, len(p), n)
}

// encodeChunks writes body through a Writer in Writes of chunk octets.
func encodeChunks(t testing.TB, body []byte, chunk int) string {
	var out bytes.Buffer
	w := NewWriter(&out)
	for p := body; len(p) > 0; {
		n := min(chunk, len(p))
		writeAll(t, w, p[:n])
		p = p[n:]
	}
	require.NoError(t, w.Close())
	return out.String()
}
