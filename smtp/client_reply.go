package smtp

import (
	"bytes"
	"context"

	"github.com/postwire/postwire/textproto"
)

// readStatus reads one reply for the hot path of a transaction. A
// single-line 2xx or 3xx reply that is already buffered is taken without
// allocating: r has only its Code, and text (valid until the next read)
// its text without the enhanced code. Anything else, including every
// error reply and every multi-line reply, goes through
// textproto.ReplyReader, which enforces the whole grammar; text is then
// nil and r complete. The fast path accepts only what ReadReply accepts:
// code 200 to 399, SP or nothing after it, a line within the length cap.
func (c *Client) readStatus(ctx context.Context) (r textproto.Reply, text []byte, err error) {
	if code, t, ok := c.fastStatus(); ok {
		return textproto.Reply{Code: code}, t, nil
	}
	r, err = c.readReply(ctx)
	return r, nil, err
}

func (c *Client) fastStatus() (int, []byte, bool) {
	if c.br.Buffered() < 4 {
		// Wait for the reply; an error is left for ReadReply to report.
		if _, err := c.br.Peek(4); err != nil {
			return 0, nil, false
		}
	}
	n := c.br.Buffered()
	max := c.opts.MaxReplyLineLength
	if max <= 0 {
		max = textproto.DefaultMaxReplyLineLength
	}
	buf, _ := c.br.Peek(min(n, max))
	i := bytes.IndexByte(buf, '\n')
	if i < 0 {
		return 0, nil, false
	}
	line := buf[:i]
	if k := len(line); k > 0 && line[k-1] == '\r' {
		line = line[:k-1]
	}
	if len(line) < 3 || line[0] < '2' || line[0] > '3' ||
		line[1] < '0' || line[1] > '9' || line[2] < '0' || line[2] > '9' ||
		len(line) > 3 && line[3] != ' ' {
		return 0, nil, false
	}
	code := int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	text := line[min(4, len(line)):]
	text = clientCutEnhanced(text, line[0])
	c.br.Discard(i + 1)
	return code, text, true
}

// clientCutEnhanced removes a leading enhanced status code of class
// (RFC 3463 section 2, RFC 2034 section 4) from text.
func clientCutEnhanced(text []byte, class byte) []byte {
	if len(text) < 5 || text[0] != class || text[1] != '.' {
		return text
	}
	i := 2
	for part := 0; part < 2; part++ {
		start := i
		for i < len(text) && i-start < 3 && text[i] >= '0' && text[i] <= '9' {
			i++
		}
		if i == start {
			return text
		}
		if part == 0 {
			if i >= len(text) || text[i] != '.' {
				return text
			}
			i++
		}
	}
	if i == len(text) {
		return text[i:]
	}
	if text[i] != ' ' {
		return text
	}
	return text[i+1:]
}

// statusText returns the text of a reply read by readStatus.
func clientStatusText(r textproto.Reply, text []byte) string {
	if text != nil {
		return string(text)
	}
	return clientJoin(r.Lines)
}
