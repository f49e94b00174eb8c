package smtp

import (
	"bufio"
	"crypto/tls"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTranscripts replays every testdata/transcripts/*.txt against an
// in-process server with the recording backend of server_test.go. The
// format is described in testdata/transcripts/README.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "transcripts", "*.txt"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			t.Parallel()
			runTranscript(t, f)
		})
	}
}

type transcript struct {
	t       *testing.T
	file    string
	lineNo  int
	c       *srvClient
	b       *srvBackend
	out     []byte // client lines not yet sent
	inReply bool   // some lines of a multi-line reply were read
	tlsCli  *tls.Config
}

func (tr *transcript) failf(format string, args ...any) {
	tr.t.Helper()
	tr.t.Fatalf("%s:%d: "+format, append([]any{tr.file, tr.lineNo}, args...)...)
}

func runTranscript(t *testing.T, file string) {
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	tr := &transcript{t: t, file: file, b: &srvBackend{}}

	// The header: @ directives before the first C: or S: line.
	var settings []func(*Server)
	body := 0
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		tr.lineNo = i + 1
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if !strings.HasPrefix(l, "@") {
			body = i
			break
		}
		settings = append(settings, tr.directive(l))
	}
	proxy := false
	_, addr := srvStart(t, tr.b, func(s *Server) {
		for _, f := range settings {
			if f != nil {
				f(s)
			}
		}
		proxy = s.ProxyProtocol
	})
	tr.c = srvDial(t, addr)
	// The harness reads the greeting itself unless the transcript does, or
	// the server waits for a PROXY header first.
	if first := strings.TrimSpace(lines[body]); !strings.HasPrefix(first, "S") && !proxy {
		tr.lineNo = body + 1
		if g := tr.readLine(); !strings.HasPrefix(g, "220 ") {
			tr.failf("greeting %q, want 220", g)
		}
	}
	for i := body; i < len(lines); i++ {
		tr.lineNo = i + 1
		tr.step(strings.TrimRight(lines[i], "\r"))
	}
	tr.flush()
}

// directive applies one header line.
func (tr *transcript) directive(l string) func(*Server) {
	fields := strings.Fields(l)
	switch fields[0] {
	case "@backend":
		for _, f := range fields[1:] {
			switch f {
			case "auth":
				tr.b.auth = true
			case "verify":
				tr.b.verify = true
			case "lmtp":
				tr.b.lmtp = true
			case "earlystop":
				tr.b.earlyStop = true
			case "etrn":
				tr.b.etrn = true
			case "odmr":
				tr.b.odmr = true
			default:
				tr.failf("unknown backend feature %q", f)
			}
		}
		return nil
	case "@tls":
		srvCfg, cliCfg := srvTLSConfig(tr.t)
		tr.tlsCli = cliCfg
		return func(s *Server) { s.TLSConfig = srvCfg }
	case "@proxy-trusted", "@xclient-trusted":
		var prefixes []netip.Prefix
		for _, f := range fields[1:] {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				tr.failf("%v", err)
			}
			prefixes = append(prefixes, p)
		}
		if fields[0] == "@proxy-trusted" {
			return func(s *Server) { s.ProxyTrusted = prefixes }
		}
		return func(s *Server) { s.XCLIENTTrusted = prefixes }
	case "@server":
		var sets []func(*Server)
		for _, kv := range fields[1:] {
			name, value, ok := strings.Cut(kv, "=")
			if !ok {
				tr.failf("@server wants Field=value, got %q", kv)
			}
			sets = append(sets, tr.setField(name, value))
		}
		return func(s *Server) {
			for _, f := range sets {
				f(s)
			}
		}
	}
	tr.failf("unknown directive %q", fields[0])
	return nil
}

// setField returns a function setting the Server field name to value.
func (tr *transcript) setField(name, value string) func(*Server) {
	f, ok := reflect.TypeOf(Server{}).FieldByName(name)
	if !ok || !f.IsExported() {
		tr.failf("no Server field %q", name)
	}
	var v reflect.Value
	switch {
	case f.Type == reflect.TypeOf(time.Duration(0)):
		d, err := time.ParseDuration(value)
		if err != nil {
			tr.failf("%s: %v", name, err)
		}
		v = reflect.ValueOf(d)
	case f.Type.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			tr.failf("%s: %v", name, err)
		}
		v = reflect.ValueOf(b)
	case f.Type.Kind() == reflect.Int || f.Type.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			tr.failf("%s: %v", name, err)
		}
		v = reflect.ValueOf(n).Convert(f.Type)
	case f.Type.Kind() == reflect.String:
		v = reflect.ValueOf(value)
	default:
		tr.failf("cannot set field %s of type %s", name, f.Type)
	}
	return func(s *Server) { reflect.ValueOf(s).Elem().FieldByIndex(f.Index).Set(v) }
}

// flush sends the client lines gathered so far in one write: consecutive
// C: lines form one pipelined group.
func (tr *transcript) flush() {
	if len(tr.out) == 0 {
		return
	}
	if _, err := tr.c.nc.Write(tr.out); err != nil {
		tr.failf("write: %v", err)
	}
	tr.out = tr.out[:0]
}

// readLine reads one reply line, failing the transcript on error.
func (tr *transcript) readLine() string {
	l := tr.readRawLine()
	if len(l) < 3 || len(l) > 3 && l[3] != ' ' && l[3] != '-' {
		tr.failf("malformed reply line %q", l)
	}
	tr.inReply = len(l) > 3 && l[3] == '-'
	return l
}

// readRawLine reads one line the server sent, without its CRLF.
func (tr *transcript) readRawLine() string {
	l, err := tr.c.r.ReadString('\n')
	if err != nil {
		tr.failf("reading a reply: %v (got %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		tr.failf("reply line %q does not end with CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// wholeReply reads a whole reply, which must start here.
func (tr *transcript) wholeReply() []string {
	if tr.inReply {
		tr.failf("S+/S- must start at a reply's first line")
	}
	var lines []string
	for {
		lines = append(lines, tr.readLine())
		if !tr.inReply {
			return lines
		}
	}
}

func (tr *transcript) step(l string) {
	if l == "" || strings.HasPrefix(l, "#") {
		return
	}
	kind, arg, _ := strings.Cut(l, " ")
	switch kind {
	case "C:":
		tr.out = append(append(tr.out, arg...), '\r', '\n')
	case "R:":
		s, err := strconv.Unquote(arg)
		if err != nil {
			tr.failf("R: wants a Go-quoted string: %v", err)
		}
		tr.out = append(tr.out, s...)
	case "S:":
		tr.flush()
		if got := tr.readLine(); !strings.HasPrefix(got, arg) {
			tr.failf("got %q, want a line starting with %q", got, arg)
		}
	case "S>":
		// After ATRN the server is the client (RFC 2645 section 5.3): the
		// next line it sends, a command or a body line, is exactly arg.
		tr.flush()
		if got := tr.readRawLine(); got != arg {
			tr.failf("got %q, want the line %q", got, arg)
		}
	case "S*":
		tr.flush()
		got := tr.readLine()
		for tr.inReply {
			got = tr.readLine()
		}
		if !strings.HasPrefix(got, arg) {
			tr.failf("reply ends with %q, want a line starting with %q", got, arg)
		}
	case "S+", "S-":
		tr.flush()
		lines := tr.wholeReply()
		found := false
		for _, rl := range lines {
			found = found || strings.Contains(rl, arg)
		}
		if found != (kind == "S+") {
			tr.failf("reply %q: %s %q", lines, map[bool]string{true: "has", false: "lacks"}[found], arg)
		}
	case "!closed":
		tr.flush()
		tr.c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if l, err := tr.c.r.ReadString('\n'); err == nil || l != "" {
			tr.failf("want the connection closed, got %q (%v)", l, err)
		}
	case "!starttls":
		tr.flush()
		if tr.tlsCli == nil {
			tr.failf("!starttls needs @tls")
		}
		if tr.c.r.Buffered() != 0 {
			tr.failf("server sent octets after its 220 to STARTTLS")
		}
		tc := tls.Client(tr.c.nc, tr.tlsCli)
		if err := tc.Handshake(); err != nil {
			tr.failf("TLS handshake: %v", err)
		}
		tr.c.nc, tr.c.r = tc, bufio.NewReader(tc)
	case "!messages":
		tr.flush()
		n, err := strconv.Atoi(arg)
		if err != nil {
			tr.failf("!messages wants a number")
		}
		if got := len(tr.b.Messages()); got != n {
			tr.failf("backend has %d messages, want %d", got, n)
		}
	case "!hangup":
		// The server must close the connection; what it sent before
		// (a TLS alert after a failed handshake) does not matter.
		tr.flush()
		tr.c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, tr.c.r); err != nil && !isReset(err) {
			tr.failf("want the connection closed, got %v", err)
		}
	case "!rcpts":
		tr.flush()
		n, err := strconv.Atoi(arg)
		if err != nil {
			tr.failf("!rcpts wants a number")
		}
		if got := len(tr.lastMessage(kind).To); got != n {
			tr.failf("the last message has %d recipients, want %d", got, n)
		}
	case "!body", "!from", "!to", "!mailopts", "!rcptopts", "!identity",
		"!remote", "!local", "!helo", "!login", "!esmtp", "!etrn", "!delivered":
		tr.flush()
		want, err := strconv.Unquote(arg)
		if err != nil {
			tr.failf("%s wants a Go-quoted string: %v", kind, err)
		}
		got := tr.observe(kind)
		ok := got == want
		if kind == "!remote" || kind == "!local" {
			ok = strings.HasPrefix(got, want) // ports may be random
		}
		if !ok {
			tr.failf("%s is %q, want %q", kind, got, want)
		}
	case "!sleep":
		tr.flush()
		d, err := time.ParseDuration(arg)
		if err != nil {
			tr.failf("!sleep: %v", err)
		}
		time.Sleep(d)
	default:
		tr.failf("unknown line %q", l)
	}
}

// observe returns, as text, what a check line names: a field of the
// message the backend accepted last (!body, !from, !to, !mailopts,
// !rcptopts) or an attribute of the backend's last Conn: RemoteAddr,
// LocalAddr, Hostname, the authentication identity (!identity as
// "<mechanism> <authorization>;<authentication>", !login its
// authentication alone) and ESMTP ("true" or "false").
func (tr *transcript) observe(kind string) string {
	switch kind {
	case "!body":
		return tr.lastMessage(kind).Body
	case "!from":
		return tr.lastMessage(kind).From
	case "!to":
		return strings.Join(tr.lastMessage(kind).To, ",")
	case "!mailopts":
		return formatMailOptions(&tr.lastMessage(kind).Opts)
	case "!rcptopts":
		var each []string
		for _, o := range tr.lastMessage(kind).RcptOpts {
			each = append(each, formatRcptOptions(&o))
		}
		return strings.Join(each, " | ")
	case "!etrn":
		return strings.Join(tr.b.ETRNNodes(), ",")
	case "!delivered":
		return strings.Join(tr.b.Delivered(), ",")
	}
	c := tr.b.LastConn()
	if c == nil {
		tr.failf("%s: no session yet", kind)
	}
	switch kind {
	case "!remote":
		return c.RemoteAddr().String()
	case "!local":
		return c.LocalAddr().String()
	case "!helo":
		return c.Hostname()
	case "!identity":
		if id, mech, ok := c.AuthIdentity(); ok {
			return mech + " " + id.Authorization + ";" + id.Authentication
		}
		return ""
	case "!login":
		id, _, _ := c.AuthIdentity()
		return id.Authentication
	case "!esmtp":
		return strconv.FormatBool(c.ESMTP())
	}
	tr.failf("nothing to observe for %s", kind)
	return ""
}

// lastMessage returns the message the backend accepted last.
func (tr *transcript) lastMessage(kind string) *srvMessage {
	msgs := tr.b.Messages()
	if len(msgs) == 0 {
		tr.failf("%s: no message", kind)
	}
	return &msgs[len(msgs)-1]
}

// formatMailOptions writes the typed MAIL parameters a session got back as
// parameters, in a fixed order, for !mailopts.
func formatMailOptions(o *MailOptions) string {
	var f []string
	add := func(cond bool, s string) {
		if cond {
			f = append(f, s)
		}
	}
	add(o.Body != "", "BODY="+string(o.Body))
	add(o.Size != 0, "SIZE="+strconv.FormatInt(o.Size, 10))
	add(o.RequireTLS, "REQUIRETLS")
	add(o.UTF8, "SMTPUTF8")
	add(o.Return != "", "RET="+string(o.Return))
	add(o.EnvelopeID != "", "ENVID="+strconv.Quote(o.EnvelopeID))
	if o.Auth != nil {
		f = append(f, "AUTH="+strconv.Quote(*o.Auth))
	}
	if o.MTPriority != nil {
		f = append(f, "MT-PRIORITY="+strconv.Itoa(*o.MTPriority))
	}
	if by := o.DeliverBy; by != nil {
		s := "BY=" + by.Time.String() + ";" + string(by.Mode)
		if by.Trace {
			s += "T"
		}
		f = append(f, s)
	}
	return strings.Join(f, " ")
}

// formatRcptOptions does the same for one recipient's parameters, for
// !rcptopts.
func formatRcptOptions(o *RcptOptions) string {
	var f []string
	if o.Notify != nil {
		n := make([]string, len(o.Notify))
		for i, v := range o.Notify {
			n[i] = string(v)
		}
		f = append(f, "NOTIFY="+strings.Join(n, ","))
	}
	if o.OriginalRecipientType != "" || o.OriginalRecipient != "" {
		f = append(f, "ORCPT="+string(o.OriginalRecipientType)+";"+strconv.Quote(o.OriginalRecipient))
	}
	return strings.Join(f, " ")
}
