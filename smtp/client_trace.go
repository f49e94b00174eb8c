package smtp

import (
	"io"
	"net"
	"sync"
)

// clientTraceConn copies the dialogue to w, each line prefixed by who sent
// it ("C: " or "S: "), for DialOptions.Trace.
type clientTraceConn struct {
	net.Conn
	w io.Writer

	mu      sync.Mutex
	hide    bool // SASL in progress: client lines are masked
	midC    bool // the last client bytes did not end a line
	midS    bool
	scratch []byte
}

func (t *clientTraceConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if n > 0 {
		t.log("S: ", &t.midS, p[:n], false)
	}
	return n, err
}

func (t *clientTraceConn) Write(p []byte) (int, error) {
	t.mu.Lock()
	hide := t.hide
	t.mu.Unlock()
	t.log("C: ", &t.midC, p, hide)
	return t.Conn.Write(p)
}

// setHide masks (or unmasks) what the client writes, for credentials.
func (t *clientTraceConn) setHide(h bool) {
	t.mu.Lock()
	t.hide = h
	t.mu.Unlock()
}

// clientAppendMasked appends a line of the SASL exchange with only its
// credentials masked: an AUTH command keeps its verb and mechanism name
// (RFC 4954 section 4), "AUTH PLAIN [credentials hidden]"; a response
// line is all credentials.
func clientAppendMasked(b, p []byte) []byte {
	const mask = "[credentials hidden]\r\n"
	if len(p) < 5 || string(p[:5]) != "AUTH " {
		return append(b, mask...)
	}
	end := 5
	for end < len(p) && p[end] != ' ' && p[end] != '\r' && p[end] != '\n' {
		end++
	}
	b = append(b, p[:end]...)
	if end < len(p) && p[end] == ' ' {
		return append(append(b, ' '), mask...)
	}
	return append(b, '\r', '\n')
}

func (t *clientTraceConn) log(prefix string, mid *bool, p []byte, hide bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.scratch[:0]
	if hide {
		b = append(b, prefix...)
		b = clientAppendMasked(b, p)
		t.w.Write(b)
		t.scratch = b
		return
	}
	for len(p) > 0 {
		if !*mid {
			b = append(b, prefix...)
		}
		i := 0
		for i < len(p) && p[i] != '\n' {
			i++
		}
		if i < len(p) {
			b = append(b, p[:i+1]...)
			p = p[i+1:]
			*mid = false
		} else {
			b = append(b, p...)
			p = nil
			*mid = true
		}
	}
	t.w.Write(b)
	t.scratch = b
}
