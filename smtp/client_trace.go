package smtp

import (
	"io"
	"net"
	"sync"
)

// Directions of the dialogue, for clientTraceConn.
const (
	traceClient = iota
	traceServer
)

// tracePrefixes start a line of each direction; traceResumed start the
// rest of a line cut short because the other direction spoke in its
// middle (a pipelined BDAT chunk being written while a reply arrives), so
// that the two directions never share a line.
var (
	tracePrefixes = [2]string{"C: ", "S: "}
	traceResumed  = [2]string{"C+ ", "S+ "}
)

// clientTraceConn copies the dialogue to w, each line prefixed by who sent
// it ("C: " or "S: "), for DialOptions.Trace. A line one side had not
// finished when the other spoke is ended there and goes on in a line that
// starts "C+ " or "S+ ".
type clientTraceConn struct {
	net.Conn
	w io.Writer

	mu      sync.Mutex
	hide    bool    // SASL in progress: client lines are masked
	mid     [2]bool // the last bytes of the direction did not end a line
	cut     [2]bool // that unfinished line was ended by the other side's
	scratch []byte
}

func (t *clientTraceConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if n > 0 {
		t.log(traceServer, p[:n], false)
	}
	return n, err
}

func (t *clientTraceConn) Write(p []byte) (int, error) {
	t.mu.Lock()
	hide := t.hide
	t.mu.Unlock()
	t.log(traceClient, p, hide)
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

func (t *clientTraceConn) log(dir int, p []byte, hide bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.endOtherLine(t.scratch[:0], dir)
	if hide {
		b = append(b, tracePrefixes[dir]...)
		b = clientAppendMasked(b, p)
		t.w.Write(b)
		t.scratch = b
		return
	}
	for len(p) > 0 {
		b = t.appendPrefix(b, dir)
		i := 0
		for i < len(p) && p[i] != '\n' {
			i++
		}
		if i < len(p) {
			b = append(b, p[:i+1]...)
			p = p[i+1:]
			t.mid[dir] = false
		} else {
			b = append(b, p...)
			p = nil
			t.mid[dir] = true
		}
	}
	t.w.Write(b)
	t.scratch = b
}

// endOtherLine ends the line the other direction left unfinished, so that
// what dir sends starts a line of its own.
func (t *clientTraceConn) endOtherLine(b []byte, dir int) []byte {
	other := 1 - dir
	if !t.mid[other] {
		return b
	}
	t.mid[other] = false
	t.cut[other] = true
	return append(b, '\r', '\n')
}

// appendPrefix starts a line of dir unless one is under way: "C: " or
// "S: ", or "C+ " or "S+ " for the rest of a cut line.
func (t *clientTraceConn) appendPrefix(b []byte, dir int) []byte {
	switch {
	case t.mid[dir]:
		return b
	case t.cut[dir]:
		t.cut[dir] = false
		return append(b, traceResumed[dir]...)
	}
	return append(b, tracePrefixes[dir]...)
}
