package dotstuff

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaxLineLength(t *testing.T) {
	tests := []struct {
		name  string
		input string
		max   int
		allow bool
		err   error
	}{
		{name: "at limit", input: "12345\r\n.\r\n", max: 5},
		{name: "over limit", input: "123456\r\n.\r\n", max: 5, err: ErrLineTooLong},
		{name: "second line over", input: "1\r\n123456\r\n.\r\n", max: 5, err: ErrLineTooLong},
		{name: "stuffing dot not counted", input: "..2345\r\n.\r\n", max: 5},
		{name: "unstuffed dot counted", input: "..23456\r\n.\r\n", max: 5, err: ErrLineTooLong},
		{name: "bare CR counted in allow mode", input: "12\r45\r\n.\r\n", max: 5, allow: true},
		{name: "bare CR over in allow mode", input: "12\r456\r\n.\r\n", max: 5, allow: true, err: ErrLineTooLong},
		{name: "bare LF over in allow mode", input: "12\n456\r\n.\r\n", max: 5, allow: true, err: ErrLineTooLong},
		{name: "last line without CRLF", input: "1\r\n123456", max: 5, err: ErrLineTooLong},
		{name: "zero is unlimited", input: strings.Repeat("x", 100000) + "\r\n.\r\n"},
		{name: "long line over", input: strings.Repeat("x", 1001) + "\r\n.\r\n", max: 1000, err: ErrLineTooLong},
		{name: "long line at", input: strings.Repeat("x", 1000) + "\r\n" + strings.Repeat("y", 1000) + "\r\n.\r\n", max: 1000},
	}
	for _, tt := range tests {
		for _, s := range setups {
			t.Run(tt.name+"/"+s.name, func(t *testing.T) {
				input := tt.input
				terminated := strings.HasSuffix(input, ".\r\n")
				if terminated {
					input += "NOOP\r\n"
				}
				got := decodeWith(t, s, []byte(input), tt.allow, tt.max)
				assert.Equal(t, tt.err, got.err)
				if terminated {
					assert.Equal(t, tt.err, got.drainErr)
				} else {
					assert.Equal(t, io.ErrUnexpectedEOF, got.drainErr)
				}
				if tt.max > 0 {
					for _, line := range strings.Split(got.body, "\r\n") {
						assert.LessOrEqual(t, len(line), tt.max, "delivered a line over the limit")
					}
				}
				if terminated {
					assert.Equal(t, "NOOP\r\n", got.rest)
				}
			})
		}
	}
}

func TestDrain(t *testing.T) {
	t.Run("without reading", func(t *testing.T) {
		br := bufio.NewReader(strings.NewReader("a\r\n..b\r\n.\r\nRSET\r\n"))
		require.NoError(t, NewReader(br).Drain())
		rest, _ := io.ReadAll(br)
		assert.Equal(t, "RSET\r\n", string(rest))
	})
	t.Run("checks the unread part", func(t *testing.T) {
		br := bufio.NewReader(strings.NewReader("a\r\nb\nc\r\n.\r\nRSET\r\n"))
		d := NewReader(br)
		assert.ErrorIs(t, d.Drain(), ErrBareLineEnding)
		rest, _ := io.ReadAll(br)
		assert.Equal(t, "RSET\r\n", string(rest))
		_, err := d.Read(make([]byte, 10))
		assert.ErrorIs(t, err, ErrBareLineEnding, "Read after Drain")
		assert.ErrorIs(t, d.Drain(), ErrBareLineEnding, "Drain twice")
	})
	t.Run("after part of the body", func(t *testing.T) {
		br := bufio.NewReaderSize(strings.NewReader("first\r\nsecond\r\n.\r\nRSET\r\n"), 16)
		d := NewReader(br)
		p := make([]byte, 3)
		n, err := d.Read(p)
		require.NoError(t, err)
		assert.Equal(t, "fir", string(p[:n]))
		require.NoError(t, d.Drain())
		rest, _ := io.ReadAll(br)
		assert.Equal(t, "RSET\r\n", string(rest))
		n, err = d.Read(p)
		assert.Equal(t, 0, n)
		assert.Equal(t, io.EOF, err)
	})
	t.Run("after the end", func(t *testing.T) {
		br := bufio.NewReader(strings.NewReader("x\r\n.\r\nRSET\r\n"))
		d := NewReader(br)
		body, err := io.ReadAll(d)
		require.NoError(t, err)
		assert.Equal(t, "x\r\n", string(body))
		require.NoError(t, d.Drain())
		rest, _ := io.ReadAll(br)
		assert.Equal(t, "RSET\r\n", string(rest), "Drain after io.EOF reads nothing more")
	})
	t.Run("terminator after the error", func(t *testing.T) {
		// The error's octets themselves begin the terminator.
		for _, input := range []string{"a\r\r\n.\r\nX", "a\r\n.\r\r\n.\r\nX", "\r\r\n.\r\nX", ".\r\r\n.\r\nX", "a\n.\r\nb\r\n.\r\nX"} {
			for _, s := range setups {
				got := decodeWith(t, s, []byte(input), false, 0)
				assert.ErrorIs(t, got.err, ErrBareLineEnding, "%q %s", input, s.name)
				assert.Equal(t, "X", got.rest, "%q %s", input, s.name)
			}
		}
	})
	t.Run("too long then terminator", func(t *testing.T) {
		input := strings.Repeat("x", 50) + "\r\n.\r\nX"
		for _, s := range setups {
			got := decodeWith(t, s, []byte(input), false, 10)
			assert.ErrorIs(t, got.err, ErrLineTooLong, s.name)
			assert.Equal(t, "X", got.rest, s.name)
		}
	})
	t.Run("underlying EOF", func(t *testing.T) {
		d := NewReader(bufio.NewReader(strings.NewReader("a\nb\r\n")))
		assert.Equal(t, io.ErrUnexpectedEOF, d.Drain())
	})
	t.Run("underlying error", func(t *testing.T) {
		boom := errors.New("connection reset")
		src := io.MultiReader(strings.NewReader("a\r\nb\nc\r\n"), iotest.ErrReader(boom))
		d := NewReader(bufio.NewReaderSize(src, 16))
		body, err := io.ReadAll(d)
		assert.ErrorIs(t, err, ErrBareLineEnding)
		assert.Equal(t, "a\r\n", string(body))
		assert.ErrorIs(t, d.Drain(), boom)
		_, err = d.Read(make([]byte, 1))
		assert.ErrorIs(t, err, boom)
	})
	t.Run("underlying error while reading", func(t *testing.T) {
		boom := errors.New("i/o timeout")
		src := io.MultiReader(strings.NewReader("a\r\nb"), iotest.ErrReader(boom))
		d := NewReader(bufio.NewReaderSize(src, 16))
		body, err := io.ReadAll(d)
		assert.ErrorIs(t, err, boom)
		assert.Equal(t, "a\r\nb", string(body))
		assert.ErrorIs(t, d.Drain(), boom, "Drain does not read past an I/O error")
	})
}

func TestReadEmptyBuffer(t *testing.T) {
	d := NewReader(bufio.NewReader(strings.NewReader("abc\r\n.\r\n")))
	n, err := d.Read(nil)
	assert.Equal(t, 0, n)
	assert.NoError(t, err)
	body, err := io.ReadAll(d)
	require.NoError(t, err)
	assert.Equal(t, "abc\r\n", string(body))
}

func TestReaderDoesNotBlockWithDataInHand(t *testing.T) {
	// A Read that has delivered something returns instead of waiting for
	// more input, as a reader on a network connection must.
	pr, pw := io.Pipe()
	defer pr.Close()
	go func() {
		pw.Write([]byte("first line\r\n"))
		// No more until the test has read the first line.
	}()
	d := NewReader(bufio.NewReader(pr))
	p := make([]byte, 100)
	n, err := d.Read(p)
	require.NoError(t, err)
	assert.Equal(t, "first line\r\n", string(p[:n]))
	pw.Close()
}

func TestReset(t *testing.T) {
	d := NewReader(bufio.NewReader(strings.NewReader("a\nb\r\n.\r\n")))
	d.MaxLineLength = 10
	assert.ErrorIs(t, d.Drain(), ErrBareLineEnding)
	d.Reset(bufio.NewReader(strings.NewReader("..ok\r\n.\r\n")))
	assert.Equal(t, 10, d.MaxLineLength, "settings kept")
	body, err := io.ReadAll(d)
	require.NoError(t, err)
	assert.Equal(t, ".ok\r\n", string(body))
}
