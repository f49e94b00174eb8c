package textproto

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendReply(t *testing.T) {
	tests := []struct {
		name string
		r    Reply
		want string
	}{
		{"one line", Reply{250, EnhancedCode{}, []string{"OK"}}, "250 OK\r\n"},
		{"enhanced", Reply{250, EnhancedCode{2, 1, 0}, []string{"Sender OK"}}, "250 2.1.0 Sender OK\r\n"},
		{"multi", Reply{250, EnhancedCode{}, []string{"mx.example", "PIPELINING", "8BITMIME"}},
			"250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n"},
		{"multi enhanced", Reply{550, EnhancedCode{5, 7, 1}, []string{"no", "really"}},
			"550-5.7.1 no\r\n550 5.7.1 really\r\n"},
		{"no lines", Reply{354, EnhancedCode{}, nil}, "354 \r\n"},
		{"no lines enhanced", Reply{250, EnhancedCode{2, 0, 0}, nil}, "250 2.0.0\r\n"},
		{"empty line in the middle", Reply{250, EnhancedCode{}, []string{"a", "", "b"}}, "250-a\r\n250-\r\n250 b\r\n"},
		{"CRLF injection", Reply{250, EnhancedCode{}, []string{"OK\r\n250 fake"}}, "250 OK  250 fake\r\n"},
		{"bare LF and CR", Reply{250, EnhancedCode{}, []string{"a\nb\rc"}}, "250 a b c\r\n"},
		{"control bytes", Reply{451, EnhancedCode{4, 3, 0}, []string{"x\x00y\x1bz\x7f\t"}}, "451 4.3.0 x y z  \r\n"},
		{"bad enhanced class left out", Reply{250, EnhancedCode{3, 0, 0}, []string{"OK"}}, "250 OK\r\n"},
		{"bad enhanced part left out", Reply{250, EnhancedCode{2, 1000, 0}, []string{"OK"}}, "250 OK\r\n"},
		{"UTF-8 kept", Reply{250, EnhancedCode{}, []string{"grüße"}}, "250 grüße\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, string(AppendReply(nil, &tt.r)))
			if len(tt.r.Lines) == 1 {
				assert.Equal(t, tt.want, string(AppendReplyLine(nil, tt.r.Code, tt.r.Enhanced, tt.r.Lines[0])))
			}
		})
	}
}

// splitWire splits encoded replies into lines, checking each ends in CRLF
// and is at most MaxReplyLine octets.
func splitWire(t *testing.T, b []byte) []string {
	t.Helper()
	require.True(t, bytes.HasSuffix(b, []byte("\r\n")))
	lines := strings.SplitAfter(string(b), "\r\n")
	lines = lines[:len(lines)-1]
	for _, l := range lines {
		require.LessOrEqual(t, len(l), MaxReplyLine)
		require.Equal(t, -1, strings.IndexAny(l[:len(l)-2], "\r\n"))
	}
	return lines
}

func TestAppendReplyWraps(t *testing.T) {
	word := strings.Repeat("w", 99)
	words := strings.TrimSpace(strings.Repeat(word+" ", 12)) // 1199 octets
	out := AppendReplyLine(nil, 250, EnhancedCode{2, 0, 0}, words)
	lines := splitWire(t, out)
	require.Len(t, lines, 3)
	// "250-2.0.0 " is 10 octets: 500 octets of text fit, that is 5 words
	// (499 octets), cut at the SP after the fifth.
	assert.Equal(t, "250-2.0.0 "+strings.TrimSpace(strings.Repeat(word+" ", 5))+"\r\n", lines[0])
	assert.Equal(t, "250-2.0.0 "+strings.TrimSpace(strings.Repeat(word+" ", 5))+"\r\n", lines[1])
	assert.Equal(t, "250 2.0.0 "+word+" "+word+"\r\n", lines[2])

	// No SP to cut at: hard cut at exactly 512 octets.
	long := strings.Repeat("x", 1200)
	lines = splitWire(t, AppendReplyLine(nil, 550, EnhancedCode{}, long))
	require.Len(t, lines, 3)
	assert.Len(t, lines[0], MaxReplyLine)
	assert.Len(t, lines[1], MaxReplyLine)
	assert.Equal(t, "550 "+strings.Repeat("x", 1200-2*506)+"\r\n", lines[2])

	// A text of exactly the room left fits on one line.
	exact := strings.Repeat("y", MaxReplyLine-2-len("250 2.0.0 "))
	lines = splitWire(t, AppendReplyLine(nil, 250, EnhancedCode{2, 0, 0}, exact))
	require.Len(t, lines, 1)
	assert.Len(t, lines[0], MaxReplyLine)
	lines = splitWire(t, AppendReplyLine(nil, 250, EnhancedCode{2, 0, 0}, exact+"y"))
	require.Len(t, lines, 2)

	// A hard cut never splits a UTF-8 character.
	utf := strings.Repeat("é", 600)
	lines = splitWire(t, AppendReplyLine(nil, 250, EnhancedCode{}, utf))
	var text strings.Builder
	for _, l := range lines {
		body := l[4 : len(l)-2]
		require.True(t, strings.HasPrefix(body, "é") && strings.HasSuffix(body, "é"), "a line must hold whole characters")
		text.WriteString(body)
	}
	assert.Equal(t, utf, text.String())
}

func TestAppendReplyZeroAlloc(t *testing.T) {
	buf := make([]byte, 0, 1024)
	r := &Reply{Code: 250, Enhanced: EnhancedCode{2, 1, 5}, Lines: []string{"Recipient OK"}}
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		buf = AppendReplyLine(buf[:0], 250, EnhancedCode{2, 0, 0}, "OK")
	}))
	assert.Equal(t, "250 2.0.0 OK\r\n", string(buf))
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		buf = AppendReply(buf[:0], r)
	}))
	assert.Equal(t, "250 2.1.5 Recipient OK\r\n", string(buf))
}

func TestAppendEnhancedCode(t *testing.T) {
	for _, tt := range []struct {
		c    EnhancedCode
		want string
	}{
		{EnhancedCode{2, 0, 0}, "2.0.0"},
		{EnhancedCode{5, 1, 1}, "5.1.1"},
		{EnhancedCode{4, 10, 99}, "4.10.99"},
		{EnhancedCode{5, 100, 999}, "5.100.999"},
		{EnhancedCode{5, 7, 10}, "5.7.10"},
		// Out of range: written in full, not clamped or cut.
		{EnhancedCode{5, 1000, -1}, "5.1000.-1"},
		{EnhancedCode{12, 0, 0}, "12.0.0"},
	} {
		assert.Equal(t, "x "+tt.want, string(AppendEnhancedCode([]byte("x "), tt.c)))
	}
	buf := make([]byte, 0, 16)
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendEnhancedCode(buf[:0], EnhancedCode{5, 123, 45})
	})
	assert.Zero(t, allocs)
}

func TestEnhancedCodeString(t *testing.T) {
	assert.Equal(t, "", EnhancedCode{}.String())
	assert.Equal(t, "5.7.1", EnhancedCode{5, 7, 1}.String())
	assert.Equal(t, "4.123.999", EnhancedCode{4, 123, 999}.String())
}

func BenchmarkAppendReplyLine(b *testing.B) {
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendReplyLine(buf[:0], 250, EnhancedCode{2, 1, 0}, "Sender OK")
	}
}

func BenchmarkAppendReplyMultiline(b *testing.B) {
	r := &Reply{Code: 250, Lines: []string{
		"mx.example.org greets client.example", "PIPELINING", "SIZE 35882577", "8BITMIME",
		"ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING", "STARTTLS", "AUTH PLAIN LOGIN",
	}}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendReply(buf[:0], r)
	}
}
