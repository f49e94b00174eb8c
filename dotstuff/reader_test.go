package dotstuff

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReaderTable(t *testing.T) {
	const next = "NOOP\r\n" // the command after the body, never to be read
	tests := []struct {
		name  string
		input string // without next
		body  string // what strict mode delivers
		err   error  // from strict mode's Read (nil: clean io.EOF)
		// loose is what AllowBareLineEndings delivers, if different.
		loose *string
	}{
		{name: "empty body", input: ".\r\n", body: ""},
		{name: "one line", input: "Subject: hi\r\n.\r\n", body: "Subject: hi\r\n"},
		{name: "two lines", input: "a\r\nb\r\n.\r\n", body: "a\r\nb\r\n"},
		{name: "empty line", input: "\r\n.\r\n", body: "\r\n"},
		{name: "empty lines", input: "\r\n\r\n\r\n.\r\n", body: "\r\n\r\n\r\n"},
		{name: "stuffed dot alone", input: "..\r\n.\r\n", body: ".\r\n"},
		{name: "stuffed dot text", input: "..x\r\n.\r\n", body: ".x\r\n"},
		{name: "unstuffed leading dot dropped", input: ".x\r\n.\r\n", body: "x\r\n"},
		{name: "three dots", input: "...\r\n.\r\n", body: "..\r\n"},
		{name: "dot mid line kept", input: "a.b\r\n.\r\n", body: "a.b\r\n"},
		{name: "dot after first line", input: "a\r\n..\r\nb\r\n.\r\n", body: "a\r\n.\r\nb\r\n"},
		{name: "dot line last", input: "a\r\n..x\r\n.\r\n", body: "a\r\n.x\r\n"},
		{name: "dot space", input: ". \r\n.\r\n", body: " \r\n"},
		{name: "nul and high octets", input: "\x00\xff\x7f\r\n.\r\n", body: "\x00\xff\x7f\r\n"},
		{name: "bare LF", input: "a\nb\r\n.\r\n", body: "", err: ErrBareLineEnding, loose: ptr("a\nb\r\n")},
		{name: "bare CR", input: "a\rb\r\n.\r\n", body: "", err: ErrBareLineEnding, loose: ptr("a\rb\r\n")},
		{name: "CR CRLF", input: "a\r\r\n.\r\n", body: "", err: ErrBareLineEnding, loose: ptr("a\r\r\n")},
		{name: "LF at start", input: "\n.\r\n.\r\n", body: "", err: ErrBareLineEnding, loose: ptr("\n.\r\n")},
		{name: "CR at start", input: "\r.\r\n.\r\n", body: "", err: ErrBareLineEnding, loose: ptr("\r.\r\n")},
		{name: "LFCR", input: "a\n\r\n.\r\n", body: "", err: ErrBareLineEnding, loose: ptr("a\n\r\n")},
		{name: "dot LF", input: ".\n\r\n.\r\n", body: "", err: ErrBareLineEnding, loose: ptr("\n\r\n")},
		{name: "dot CR x", input: ".\rx\r\n.\r\n", body: "", err: ErrBareLineEnding, loose: ptr("\rx\r\n")},
		{name: "dot CR CRLF", input: ".\r\r\n.\r\n", body: "", err: ErrBareLineEnding, loose: ptr("\r\r\n")},
		{name: "good line then bare LF", input: "good\r\nba\nd\r\n.\r\n", body: "good\r\n", err: ErrBareLineEnding, loose: ptr("good\r\nba\nd\r\n")},
		{name: "bare LF after dot line", input: "..\r\n\n\r\n.\r\n", body: ".\r\n", err: ErrBareLineEnding, loose: ptr(".\r\n\n\r\n")},
		{name: "no terminator", input: "abc", body: "abc", err: io.ErrUnexpectedEOF},
		{name: "nothing", input: "", body: "", err: io.ErrUnexpectedEOF},
		{name: "cut after CRLF", input: "abc\r\n", body: "abc\r\n", err: io.ErrUnexpectedEOF},
		{name: "cut after dot", input: "abc\r\n.", body: "abc\r\n", err: io.ErrUnexpectedEOF},
		{name: "cut after dot CR", input: "abc\r\n.\r", body: "abc\r\n", err: io.ErrUnexpectedEOF},
		{name: "cut after CR", input: "abc\r", body: "abc", err: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		for _, allow := range []bool{false, true} {
			wantBody, wantErr := tt.body, tt.err
			if allow && tt.loose != nil {
				wantBody, wantErr = *tt.loose, nil
			}
			for _, s := range setups {
				name := tt.name + "/" + s.name
				if allow {
					name += "/allow"
				}
				t.Run(name, func(t *testing.T) {
					input := tt.input
					if !errors.Is(tt.err, io.ErrUnexpectedEOF) {
						input += next
					}
					got := decodeWith(t, s, []byte(input), allow, 0)
					if errors.Is(wantErr, ErrBareLineEnding) {
						// Strict mode delivers the lines before the
						// faulty one, perhaps the clean start of that
						// one, and never a bare CR or LF.
						assert.True(t, strings.HasPrefix(got.body, wantBody), "body %q", got.body)
						assert.True(t, strings.HasPrefix(*tt.loose, got.body), "body %q", got.body)
						assert.False(t, hasBare(got.body), "body %q", got.body)
					} else {
						assert.Equal(t, wantBody, got.body)
					}
					assert.Equal(t, wantErr, got.err)
					if errors.Is(tt.err, io.ErrUnexpectedEOF) {
						assert.Equal(t, io.ErrUnexpectedEOF, got.drainErr)
						assert.Empty(t, got.rest)
						return
					}
					assert.Equal(t, wantErr, got.drainErr, "Drain")
					assert.Equal(t, next, got.rest, "left for the next command")
				})
			}
		}
	}
}

// hasBare reports whether s holds a CR or LF that is not part of a CRLF.
func hasBare(s string) bool {
	return strings.Count(s, "\r") != strings.Count(s, "\r\n") || strings.Count(s, "\n") != strings.Count(s, "\r\n")
}

func ptr(s string) *string { return &s }
