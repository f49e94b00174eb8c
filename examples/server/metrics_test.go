package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/smtp"
)

// What the hooks report comes out on /metrics in Prometheus text format,
// server and client apart, and on /debug/vars as JSON beside expvar's own
// variables.
func TestMetricsFromHooks(t *testing.T) {
	m := &metrics{}
	sh := m.serverHooks()
	sh.ConnOpened(nil)
	sh.Command(nil, "MAIL", 250, time.Second)
	sh.Command(nil, "RCPT", 550, time.Second/2)
	sh.Auth(nil, "PLAIN", "alice", errors.New("bad"))
	sh.Message(nil, smtp.MessageEvent{Recipients: 2, Size: 1234, Accepted: true, Code: 250, Took: 2 * time.Second})
	sh.ConnClosed(nil, 3*time.Second)
	ch := m.clientHooks()
	ch.Command(nil, "EHLO", 250, 0)
	ch.Message(nil, smtp.ClientMessageEvent{Recipients: 1, Accepted: 0, Size: 10, Err: errors.New("refused")})

	rec := httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	assert.Equal(t, "text/plain; version=0.0.4; charset=utf-8", rec.Header().Get("Content-Type"))
	out := rec.Body.String()
	for _, line := range []string{
		"# TYPE postwire_server_commands_total counter",
		`postwire_server_commands_total{verb="MAIL"} 1`,
		`postwire_server_commands_total{verb="RCPT"} 1`,
		`postwire_server_replies_total{class="2xx"} 1`,
		`postwire_server_replies_total{class="5xx"} 1`,
		"postwire_server_command_seconds_total 1.5",
		`postwire_server_auth_total{result="failed"} 1`,
		`postwire_server_messages_total{result="accepted"} 1`,
		"postwire_server_message_bytes_total 1234",
		"postwire_server_message_recipients_total 2",
		"postwire_server_connections_opened_total 1",
		"postwire_server_connection_seconds_total 3",
		`postwire_client_commands_total{verb="EHLO"} 1`,
		`postwire_client_messages_total{result="refused"} 1`,
		"postwire_client_message_bytes_total 10",
	} {
		assert.Contains(t, strings.Split(out, "\n"), line)
	}

	rec = httptest.NewRecorder()
	m.handler().ServeHTTP(rec, httptest.NewRequest("GET", "/debug/vars", nil))
	var vars map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &vars), rec.Body.String())
	assert.Contains(t, vars, "memstats")
	var pw map[string]map[string]float64
	require.NoError(t, json.Unmarshal(vars["postwire"], &pw))
	assert.Equal(t, 1234.0, pw["server_message_bytes_total"][""])
	assert.Equal(t, 1.0, pw["client_commands_total"]["EHLO"])
}

// With -metrics the running server counts what it serves: a message sent
// shows on /metrics with its size as stored less the trace fields.
func TestServeMetricsFlag(t *testing.T) {
	srv := startServer(t, "-metrics", "127.0.0.1:0")
	msg := testMessage("metrics")
	_, err := send(t, srv.addr, how{}, msg)
	require.NoError(t, err)
	srv.storedOne(t, msg)

	logs := srv.log.String()
	_, rest, ok := strings.Cut(logs, `msg="serving metrics on /debug/vars and /metrics" addr=`)
	require.True(t, ok, logs)
	addr, _, _ := strings.Cut(rest, "\n")
	out := httpGet(t, "http://"+addr+"/metrics")
	lines := strings.Split(out, "\n")
	assert.Contains(t, lines, `postwire_server_messages_total{result="accepted"} 1`, out)
	assert.Contains(t, lines, "postwire_server_message_bytes_total "+strconv.Itoa(len(msg)), out)
	assert.Contains(t, lines, `postwire_server_commands_total{verb="MAIL"} 1`, out)
	assert.Contains(t, httpGet(t, "http://"+addr+"/debug/vars"), `"postwire": {`)
}

// httpGet returns the body of a GET that must answer 200.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
