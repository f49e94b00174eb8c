package textproto

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newReader(s string) *ReplyReader {
	return NewReplyReader(bufio.NewReader(strings.NewReader(s)))
}

func TestReadReply(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Reply
	}{
		{"one line", "250 OK\r\n", Reply{250, EnhancedCode{}, []string{"OK"}}},
		{"code only", "250\r\n", Reply{250, EnhancedCode{}, []string{""}}},
		{"code and SP", "354 \r\n", Reply{354, EnhancedCode{}, []string{""}}},
		{"multi", "250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n",
			Reply{250, EnhancedCode{}, []string{"mx.example", "PIPELINING", "8BITMIME"}}},
		{"enhanced", "250 2.1.0 Sender OK\r\n", Reply{250, EnhancedCode{2, 1, 0}, []string{"Sender OK"}}},
		{"enhanced only", "250 2.0.0\r\n", Reply{250, EnhancedCode{2, 0, 0}, []string{""}}},
		{"enhanced long parts", "550 5.123.456 x\r\n", Reply{550, EnhancedCode{5, 123, 456}, []string{"x"}}},
		{"enhanced multi", "550-5.7.1 no\r\n550-5.7.1 really\r\n550 5.7.1\r\n",
			Reply{550, EnhancedCode{5, 7, 1}, []string{"no", "really", ""}}},
		{"enhanced on first line only", "550-5.7.1 no\r\n550 see https://x\r\n",
			Reply{550, EnhancedCode{5, 7, 1}, []string{"no", "see https://x"}}},
		{"other enhanced code kept as text", "550-5.7.1 a\r\n550 5.1.1 b\r\n",
			Reply{550, EnhancedCode{5, 7, 1}, []string{"a", "5.1.1 b"}}},
		{"class mismatch is text", "250 5.0.0 odd\r\n", Reply{250, EnhancedCode{}, []string{"5.0.0 odd"}}},
		{"four digits is text", "250 2.1.1000 x\r\n", Reply{250, EnhancedCode{}, []string{"2.1.1000 x"}}},
		{"not followed by SP is text", "250 2.1.0x\r\n", Reply{250, EnhancedCode{}, []string{"2.1.0x"}}},
		{"version-like text", "220 2.0 ready\r\n", Reply{220, EnhancedCode{}, []string{"2.0 ready"}}},
		{"bare LF", "250-a\n250 b\n", Reply{250, EnhancedCode{}, []string{"a", "b"}}},
		{"UTF-8 text", "250 grüße\r\n", Reply{250, EnhancedCode{}, []string{"grüße"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := newReader(tt.in + "221 bye\r\n")
			got, err := rr.ReadReply()
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			next, err := rr.ReadReply()
			require.NoError(t, err, "the reader must stay in step")
			assert.Equal(t, 221, next.Code)
			_, err = rr.ReadReply()
			assert.Equal(t, io.EOF, err)
		})
	}
}

func TestReadReplyErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		msg  string
	}{
		{"1xx", "150 go on\r\n", "bad reply code"},
		{"6xx", "600 x\r\n", "bad reply code"},
		{"0xx", "050 x\r\n", "bad reply code"},
		{"letters", "abc x\r\n", "bad reply code"},
		{"two digits", "25 x\r\n", "bad reply code"},
		{"empty", "\r\n", "bad reply code"},
		{"leading space", " 250 x\r\n", "bad reply code"},
		{"bad digit", "2x0 x\r\n", "bad reply code"},
		{"bad separator", "250x\r\n", "bad separator after reply code"},
		{"tab separator", "250\tx\r\n", "bad separator after reply code"},
		{"code changes", "250-a\r\n251 b\r\n", "reply code changed within a reply"},
		{"bad code on later line", "250-a\r\nxyz b\r\n", "bad reply code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newReader(tt.in).ReadReply()
			var pe *ProtocolError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.msg, pe.Msg)
			assert.Equal(t, -1, indexControl(pe.Line))
			assert.Contains(t, pe.Error(), tt.msg)
		})
	}
}

func TestReadReplyLimits(t *testing.T) {
	// Line length includes CRLF: 2048 passes, 2049 does not.
	ok := "250 " + strings.Repeat("a", DefaultMaxReplyLineLength-6) + "\r\n"
	r, err := newReader(ok).ReadReply()
	require.NoError(t, err)
	assert.Len(t, r.Lines[0], DefaultMaxReplyLineLength-6)
	_, err = newReader("250 a" + ok[4:]).ReadReply()
	var pe *ProtocolError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "reply line too long", pe.Msg)
	assert.LessOrEqual(t, len(pe.Line), 64)

	// A tiny bufio buffer: the long line spans many reads.
	small := func(s string) *ReplyReader {
		return NewReplyReader(bufio.NewReaderSize(strings.NewReader(s), 16))
	}
	r, err = small("250-" + strings.Repeat("b", 100) + "\r\n250 c\r\n").ReadReply()
	require.NoError(t, err)
	assert.Equal(t, []string{strings.Repeat("b", 100), "c"}, r.Lines)
	rr := small("250 " + strings.Repeat("b", 100) + "\r\n")
	rr.MaxLineLength = 50
	_, err = rr.ReadReply()
	require.ErrorAs(t, err, &pe)

	// Line count: 128 lines pass, 129 do not.
	lines := func(n int) string {
		return strings.Repeat("250-x\r\n", n-1) + "250 end\r\n"
	}
	r, err = newReader(lines(DefaultMaxReplyLines)).ReadReply()
	require.NoError(t, err)
	assert.Len(t, r.Lines, DefaultMaxReplyLines)
	_, err = newReader(lines(DefaultMaxReplyLines + 1)).ReadReply()
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "too many lines in reply", pe.Msg)
	rr = newReader(lines(3))
	rr.MaxLines = 2
	_, err = rr.ReadReply()
	require.ErrorAs(t, err, &pe)
}

func TestReadReplyEOF(t *testing.T) {
	_, err := newReader("").ReadReply()
	assert.Equal(t, io.EOF, err)
	for _, in := range []string{"250-a\r\n", "250", "250 OK", "250-a\r\n250 b", "2"} {
		_, err := newReader(in).ReadReply()
		assert.Equal(t, io.ErrUnexpectedEOF, err, "%q", in)
	}
	boom := errors.New("boom")
	_, err = NewReplyReader(bufio.NewReader(io.MultiReader(strings.NewReader("250-a\r\n"), errReader{boom}))).ReadReply()
	assert.ErrorIs(t, err, boom)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestReplyRoundTrip(t *testing.T) {
	replies := []Reply{
		{250, EnhancedCode{}, []string{"OK"}},
		{250, EnhancedCode{2, 0, 0}, []string{"mx.example", "PIPELINING", "SIZE 1000"}},
		{550, EnhancedCode{5, 7, 1}, []string{strings.Repeat("long text ", 200)}},
		{421, EnhancedCode{4, 4, 2}, []string{strings.Repeat("z", 1500)}},
		{354, EnhancedCode{}, []string{"End data with <CR><LF>.<CR><LF>"}},
	}
	var wire []byte
	for i := range replies {
		wire = AppendReply(wire, &replies[i])
	}
	rr := newReader(string(wire))
	for _, want := range replies {
		got, err := rr.ReadReply()
		require.NoError(t, err)
		assert.Equal(t, want.Code, got.Code)
		assert.Equal(t, want.Enhanced, got.Enhanced)
		// Wrapping may split lines, dropping the SP at each cut; no other
		// octet is lost or added.
		noSpace := func(lines []string) string { return strings.ReplaceAll(strings.Join(lines, ""), " ", "") }
		assert.Equal(t, noSpace(want.Lines), noSpace(got.Lines))
		if len(strings.Join(want.Lines, "")) < 400 {
			assert.Equal(t, want.Lines, got.Lines)
		}
	}
}

func TestReadReplyAllocs(t *testing.T) {
	in := strings.NewReader("")
	br := bufio.NewReader(in)
	rr := NewReplyReader(br)
	const wire = "250 2.1.0 Sender OK\r\n"
	allocs := testing.AllocsPerRun(100, func() {
		in.Reset(wire)
		br.Reset(in)
		if _, err := rr.ReadReply(); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 2.0, "the Lines slice and one string")
}

func TestReadStatus(t *testing.T) {
	for _, tt := range []struct {
		in   string
		fast bool
		code int
		enh  EnhancedCode
		text string
	}{
		{"250 2.1.0 ok\r\n", true, 250, EnhancedCode{2, 1, 0}, "ok"},
		{"250 ok\r\n", true, 250, EnhancedCode{}, "ok"},
		{"354 go ahead\r\n", true, 354, EnhancedCode{}, "go ahead"},
		{"250\r\n", true, 250, EnhancedCode{}, ""},
		{"250 \r\n", true, 250, EnhancedCode{}, ""},
		{"250 2.0.0\r\n", true, 250, EnhancedCode{2, 0, 0}, ""},
		{"250 2.0.0 queued as X\n", true, 250, EnhancedCode{2, 0, 0}, "queued as X"},
		{"250 3.0.0 class mismatch\r\n", true, 250, EnhancedCode{}, "3.0.0 class mismatch"},
		{"250 2.0.0000 not enhanced\r\n", true, 250, EnhancedCode{}, "2.0.0000 not enhanced"},
		{"299 2.999.999 x\r\n", true, 299, EnhancedCode{2, 999, 999}, "x"},
		// Everything else is ReadReply's, with the same result.
		{"250-multi\r\n250 line\r\n", false, 250, EnhancedCode{}, ""},
		{"550 5.1.1 refused\r\n", false, 550, EnhancedCode{5, 1, 1}, ""},
		{"421 bye\r\n", false, 421, EnhancedCode{}, ""},
		{"25", false, 0, EnhancedCode{}, ""},
		{"2x0 bad\r\n", false, 0, EnhancedCode{}, ""},
		{"250xok\r\n", false, 0, EnhancedCode{}, ""},
		{"250 no line end", false, 0, EnhancedCode{}, ""},
		{"199 no\r\n", false, 0, EnhancedCode{}, ""},
	} {
		t.Run(tt.in, func(t *testing.T) {
			want, wantErr := newReader(tt.in).ReadReply()
			r, text, err := newReader(tt.in).ReadStatus()
			if wantErr != nil {
				require.Equal(t, wantErr, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.fast, r.Lines == nil, "fast path")
			assert.Equal(t, want.Code, r.Code)
			assert.Equal(t, want.Enhanced, r.Enhanced)
			if tt.fast {
				assert.Nil(t, r.Lines)
				assert.Equal(t, tt.code, r.Code)
				assert.Equal(t, tt.enh, r.Enhanced)
				assert.Equal(t, tt.text, string(text))
				assert.Equal(t, want.Lines, []string{string(text)})
			} else {
				assert.Nil(t, text)
				assert.Equal(t, want, r)
			}
		})
	}
}

// A line over MaxLineLength is never taken by the fast path: ReadReply
// refuses it.
func TestReadStatusLineCap(t *testing.T) {
	rr := newReader("250 " + strings.Repeat("x", 600) + "\r\n")
	rr.MaxLineLength = 512
	_, _, err := rr.ReadStatus()
	var pe *ProtocolError
	require.ErrorAs(t, err, &pe)

	rr = newReader("250 " + strings.Repeat("x", 506) + "\r\n") // 512 with CRLF
	rr.MaxLineLength = 512
	r, _, err := rr.ReadStatus()
	require.NoError(t, err)
	assert.Nil(t, r.Lines, "a line of exactly the limit takes the fast path")
}

// Replies in a row: the fast path consumes exactly its line, and a reply
// it leaves is read whole by ReadReply.
func TestReadStatusSequence(t *testing.T) {
	rr := newReader("250 2.1.0 ok\r\n250-a\r\n250 b\r\n354 go\r\n550 5.1.1 no\r\n")
	r, text, err := rr.ReadStatus()
	require.NoError(t, err)
	assert.Equal(t, "ok", string(text))
	r, text, err = rr.ReadStatus()
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, r.Lines)
	assert.Nil(t, text)
	r, text, err = rr.ReadStatus()
	require.NoError(t, err)
	assert.Equal(t, 354, r.Code)
	assert.Equal(t, "go", string(text))
	r, _, err = rr.ReadStatus()
	require.NoError(t, err)
	assert.Equal(t, Reply{550, EnhancedCode{5, 1, 1}, []string{"no"}}, r)
	_, _, err = rr.ReadStatus()
	assert.Equal(t, io.EOF, err)
}

func TestReadStatusAllocs(t *testing.T) {
	in := strings.NewReader("")
	br := bufio.NewReader(in)
	rr := NewReplyReader(br)
	allocs := testing.AllocsPerRun(100, func() {
		in.Reset("250 2.1.0 Sender OK\r\n")
		br.Reset(in)
		if _, _, err := rr.ReadStatus(); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

func BenchmarkReadStatus(b *testing.B) {
	in := strings.NewReader("")
	br := bufio.NewReader(in)
	rr := NewReplyReader(br)
	const wire = "250 2.1.0 Sender OK\r\n"
	b.ReportAllocs()
	for b.Loop() {
		in.Reset(wire)
		br.Reset(in)
		if _, _, err := rr.ReadStatus(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadReply(b *testing.B) {
	in := strings.NewReader("")
	br := bufio.NewReader(in)
	rr := NewReplyReader(br)
	const wire = "250 2.1.0 Sender OK\r\n"
	b.ReportAllocs()
	for b.Loop() {
		in.Reset(wire)
		br.Reset(in)
		if _, err := rr.ReadReply(); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzReplyReader(f *testing.F) {
	for _, s := range []string{
		"250 OK\r\n", "250-a\r\n250 b\r\n", "550-5.7.1 a\r\n550 5.7.1 b\r\n", "250\r\n",
		"150 x\r\n", "250-a\r\n251 b\r\n", "250-a\n250 b\n", "250 2.0.0\r\n", "2", "250x\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rr := NewReplyReader(bufio.NewReaderSize(strings.NewReader(string(in)), 16))
		rr.MaxLineLength = 100
		rr.MaxLines = 5
		// ReadStatus, over a buffer that holds whole lines, reads the
		// same replies or fails the same way.
		fast := NewReplyReader(bufio.NewReader(strings.NewReader(string(in))))
		fast.MaxLineLength, fast.MaxLines = rr.MaxLineLength, rr.MaxLines
		for range 10 {
			r, err := rr.ReadReply()
			fr, text, ferr := fast.ReadStatus()
			if fr.Lines == nil && ferr == nil {
				fr.Lines = []string{string(text)}
			}
			require.Equal(t, err == nil, ferr == nil, "ReadReply: %v, ReadStatus: %v", err, ferr)
			if err != nil {
				return
			}
			require.Equal(t, r, fr)
			require.GreaterOrEqual(t, r.Code, 200)
			require.LessOrEqual(t, r.Code, 599)
			require.NotEmpty(t, r.Lines)
			require.LessOrEqual(t, len(r.Lines), 5)
			// What was read re-encodes to a reply that reads back with the
			// same code and line count; after one more cycle (which may
			// find an enhanced code in text whose control bytes became
			// spaces) encoding and reading are a fixed point.
			wire1 := AppendReply(nil, &r)
			r2, err := newReader(string(wire1)).ReadReply()
			require.NoError(t, err, "%q", wire1)
			require.Equal(t, r.Code, r2.Code)
			require.Len(t, r2.Lines, len(r.Lines))
			if r.Enhanced != (EnhancedCode{}) {
				require.Equal(t, r.Enhanced, r2.Enhanced)
			}
			wire2 := AppendReply(nil, &r2)
			r3, err := newReader(string(wire2)).ReadReply()
			require.NoError(t, err, "%q", wire2)
			require.Equal(t, r2, r3)
			require.Equal(t, string(wire2), string(AppendReply(nil, &r3)))
		}
	})
}
