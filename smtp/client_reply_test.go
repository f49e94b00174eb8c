package smtp

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/textproto"
)

// clientReplyFrom is a Client reading replies from s.
func clientReplyFrom(s string, maxLine int) *Client {
	conn, _ := net.Pipe() // for Close after a protocol error
	c := &Client{br: bufio.NewReaderSize(strings.NewReader(s), 4096), netConn: conn}
	c.opts.MaxReplyLineLength = maxLine
	c.rr = textproto.NewReplyReader(c.br)
	c.rr.MaxLineLength = maxLine
	return c
}

// The client reads the hot path's replies through ReadStatus: a
// single-line 2xx or 3xx reply comes without Lines, its text beside it;
// anything else whole.
func TestClientFastStatus(t *testing.T) {
	for _, tc := range []struct {
		in   string
		fast bool
		code int
		text string
	}{
		{"250 2.1.0 ok\r\n", true, 250, "ok"},
		{"250 ok\r\n", true, 250, "ok"},
		{"354 go ahead\r\n", true, 354, "go ahead"},
		{"250\r\n", true, 250, ""},
		{"250 2.0.0\r\n", true, 250, ""},
		{"250 2.0.0 queued as X\n", true, 250, "queued as X"},
		{"250 3.0.0 class mismatch\r\n", true, 250, "3.0.0 class mismatch"},
		{"250 2.0.0000 not enhanced\r\n", true, 250, "2.0.0000 not enhanced"},
		{"250-multi\r\n250 line\r\n", false, 250, "multi\nline"},
		{"550 5.1.1 refused\r\n", false, 550, "refused"},
		{"421 bye\r\n", false, 421, "bye"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			c := clientReplyFrom(tc.in, 0)
			r, text, err := c.readStatus(t.Context())
			require.NoError(t, err)
			assert.Equal(t, tc.fast, r.Lines == nil, "fast path")
			assert.Equal(t, tc.code, r.Code)
			assert.Equal(t, tc.text, clientStatusText(r, text))
		})
	}
	for _, in := range []string{"25", "2x0 bad\r\n", "250xok\r\n", "250 no line end"} {
		c := clientReplyFrom(in, 0)
		_, _, err := c.readStatus(t.Context())
		require.Error(t, err, "%q", in)
		require.Error(t, c.err, "%q: the connection is failed", in)
	}
}

func TestClientFastStatusLineCap(t *testing.T) {
	long := "250 " + strings.Repeat("x", 600) + "\r\n"
	c := clientReplyFrom(long, 512)
	_, _, err := c.readStatus(t.Context())
	var pe *textproto.ProtocolError
	require.ErrorAs(t, err, &pe, "an over-long line is never taken by the fast path")
}

// FuzzClientFastStatus checks the client's allocation-free reply path
// against textproto.ReplyReader.ReadReply: over the same input, reply after
// reply, readStatus fails where ReadReply fails and otherwise finds the
// same code, enhanced code and text.
func FuzzClientFastStatus(f *testing.F) {
	for _, s := range []string{"250 ok\r\n", "250 2.1.5 ok\r\n", "354 go\r\n", "250\r\n", "250-a\r\n250 b\r\n",
		"550 5.1.1 no\r\n", "250 2.0.0\n", "299 2.9.99 x\r\n", "250 2.0.\r\n", "300\r\n", "250 \r\n",
		"250 ok\r\n354 go\r\n550 5.1.1 no\r\n250-a\r\n250 2.0.0 b\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c := clientReplyFrom(in, 0)
		rr := textproto.NewReplyReader(bufio.NewReader(strings.NewReader(in)))
		for range 8 {
			r, text, err := c.readStatus(t.Context())
			want, wantErr := rr.ReadReply()
			require.Equal(t, wantErr == nil, err == nil, "ReadReply: %v, readStatus: %v", wantErr, err)
			if err != nil {
				return
			}
			assert.Equal(t, want.Code, r.Code)
			assert.Equal(t, want.Enhanced, r.Enhanced)
			if r.Lines == nil {
				require.Len(t, want.Lines, 1, "fast path took %q", in)
				assert.Equal(t, want.Lines[0], string(text))
			} else {
				assert.Equal(t, want.Lines, r.Lines)
			}
			assert.Equal(t, clientJoin(want.Lines), clientStatusText(r, text))
		}
	})
}

func TestClientCRLF(t *testing.T) {
	for _, tc := range []struct {
		in   []string // successive writes
		want string
	}{
		{[]string{"a\r\nb\r\n"}, "a\r\nb\r\n"},
		{[]string{"a\nb\n"}, "a\r\nb\r\n"},
		{[]string{"a\rb\r"}, "a\r\nb\r\n"},
		{[]string{"a\r", "\nb"}, "a\r\nb"},
		{[]string{"a\r", "b"}, "a\r\nb"},
		{[]string{"\r", "\r", "\n"}, "\r\n\r\n"},
		{[]string{"\n\r\n\r"}, "\r\n\r\n\r\n"},
		{[]string{"", "x"}, "x"},
	} {
		var x clientCRLF
		var out []byte
		for _, w := range tc.in {
			dst := make([]byte, 2*len(w)+2)
			out = append(out, dst[:x.convert(dst, []byte(w))]...)
		}
		dst := make([]byte, 2)
		out = append(out, dst[:x.finish(dst)]...)
		assert.Equal(t, tc.want, string(out), "%q", tc.in)
	}
}

// FuzzClientCRLF checks the BDAT line-ending conversion: the output has no
// bare CR or LF, and removing every CR from input and output gives the
// same text (only line endings change).
func FuzzClientCRLF(f *testing.F) {
	for _, s := range []string{"a\r\nb", "\r\r\n\n", "x\ry\nz", ""} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, in string, split int) {
		var x clientCRLF
		var out []byte
		rest := []byte(in)
		step := max(1, split%16)
		for len(rest) > 0 {
			n := min(step, len(rest))
			dst := make([]byte, 2*n+2)
			out = append(out, dst[:x.convert(dst, rest[:n])]...)
			rest = rest[n:]
		}
		dst := make([]byte, 2)
		out = append(out, dst[:x.finish(dst)]...)
		for i, b := range out {
			if b == '\r' {
				require.True(t, i+1 < len(out) && out[i+1] == '\n', "bare CR in %q", out)
			}
			if b == '\n' {
				require.True(t, i > 0 && out[i-1] == '\r', "bare LF in %q", out)
			}
		}
		norm := func(b []byte) []byte {
			b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
			return bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
		}
		assert.Equal(t, string(norm([]byte(in))), string(norm(out)))
	})
}
