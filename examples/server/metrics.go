package main

import (
	"crypto/tls"
	"errors"
	"expvar"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/postwire/postwire/smtp"
)

// metrics counts what the server's hooks (smtp.ServerHooks) and a
// client's (smtp.ClientHooks) report, and serves the counts as expvar's
// JSON on /debug/vars and in Prometheus's text exposition format on
// /metrics. Each counter is an expvar.Map from a label value ("" for a
// counter without label) to its count, all under one map.
type metrics struct {
	mu   sync.Mutex // makes each counter once
	root expvar.Map
}

// metricLabels names the label of each labelled counter, for /metrics.
var metricLabels = map[string]string{
	"commands_total": "verb", "replies_total": "class", "tls_handshakes_total": "result",
	"auth_total": "result", "messages_total": "result",
}

// metricHelp describes each counter, for /metrics; the names are the same
// for the server and the client side.
var metricHelp = map[string]string{
	"connections_opened_total": "Connections opened.",
	"connections_closed_total": "Connections closed.",
	"connection_seconds_total": "Time connections were open.",
	"tls_handshakes_total":     "TLS handshakes by result.",
	"auth_total":               "AUTH exchanges by result.",
	"commands_total":           "Commands answered, by verb.",
	"replies_total":            "Replies by class (2xx, 3xx, 4xx, 5xx).",
	"command_seconds_total":    "Time from command to reply.",
	"messages_total":           "Messages by result.",
	"message_bytes_total":      "Body octets of the messages.",
	"message_recipients_total": "Recipients of the messages.",
	"message_seconds_total":    "Time from DATA or MAIL to the reply to the body.",
}

// add counts delta under side ("server" or "client"), name and label.
func (m *metrics) add(side, name, label string, delta float64) {
	key := side + "_" + name
	v, _ := m.root.Get(key).(*expvar.Map)
	if v == nil {
		m.mu.Lock()
		if v, _ = m.root.Get(key).(*expvar.Map); v == nil {
			v = new(expvar.Map)
			m.root.Set(key, v)
		}
		m.mu.Unlock()
	}
	v.AddFloat(label, delta)
}

// result names a success or a failure.
func result(err error) string {
	if err != nil {
		return "failed"
	}
	return "ok"
}

// serverHooks feeds the server's counters (RFC-agnostic: what the Server
// reports through smtp.ServerHooks).
func (m *metrics) serverHooks() smtp.ServerHooks {
	const s = "server"
	return smtp.ServerHooks{
		ConnOpened: func(*smtp.Conn) { m.add(s, "connections_opened_total", "", 1) },
		ConnClosed: func(_ *smtp.Conn, lasted time.Duration) {
			m.add(s, "connections_closed_total", "", 1)
			m.add(s, "connection_seconds_total", "", lasted.Seconds())
		},
		TLSHandshake: func(_ *smtp.Conn, _ *tls.ConnectionState, err error) {
			m.add(s, "tls_handshakes_total", result(err), 1)
		},
		Auth: func(_ *smtp.Conn, _, _ string, err error) { m.add(s, "auth_total", result(err), 1) },
		Command: func(_ *smtp.Conn, verb string, code int, took time.Duration) {
			m.command(s, verb, code, took)
		},
		Message: func(_ *smtp.Conn, ev smtp.MessageEvent) {
			m.message(s, ev.Accepted, ev.Size, ev.Recipients, ev.Took)
		},
	}
}

// clientHooks feeds the client's counters, for a program that sends with
// smtp.Client (DialOptions.Hooks).
func (m *metrics) clientHooks() smtp.ClientHooks {
	const s = "client"
	return smtp.ClientHooks{
		ConnOpened: func(*smtp.Client) { m.add(s, "connections_opened_total", "", 1) },
		ConnClosed: func(_ *smtp.Client, lasted time.Duration) {
			m.add(s, "connections_closed_total", "", 1)
			m.add(s, "connection_seconds_total", "", lasted.Seconds())
		},
		TLSHandshake: func(_ *smtp.Client, _ *tls.ConnectionState, err error) {
			m.add(s, "tls_handshakes_total", result(err), 1)
		},
		Auth: func(_ *smtp.Client, _ string, err error) { m.add(s, "auth_total", result(err), 1) },
		Command: func(_ *smtp.Client, verb string, code int, took time.Duration) {
			m.command(s, verb, code, took)
		},
		Message: func(_ *smtp.Client, ev smtp.ClientMessageEvent) {
			m.message(s, ev.Err == nil, ev.Size, ev.Recipients, ev.Took)
		},
	}
}

func (m *metrics) command(side, verb string, code int, took time.Duration) {
	m.add(side, "commands_total", verb, 1)
	if code >= 200 && code < 600 {
		m.add(side, "replies_total", strconv.Itoa(code/100)+"xx", 1)
	}
	m.add(side, "command_seconds_total", "", took.Seconds())
}

func (m *metrics) message(side string, accepted bool, size int64, rcpts int, took time.Duration) {
	outcome := "refused"
	if accepted {
		outcome = "accepted"
	}
	m.add(side, "messages_total", outcome, 1)
	m.add(side, "message_bytes_total", "", float64(size))
	m.add(side, "message_recipients_total", "", float64(rcpts))
	m.add(side, "message_seconds_total", "", took.Seconds())
}

// handler serves /debug/vars (expvar's JSON: the process's published
// variables, memstats and cmdline among them, and "postwire") and
// /metrics (Prometheus text format 0.0.4).
func (m *metrics) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/vars", m.serveVars)
	mux.HandleFunc("GET /metrics", m.servePrometheus)
	return mux
}

func (m *metrics) serveVars(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	fmt.Fprintf(w, "{\n%q: %s", "postwire", m.root.String())
	expvar.Do(func(kv expvar.KeyValue) { fmt.Fprintf(w, ",\n%q: %s", kv.Key, kv.Value) })
	fmt.Fprintf(w, "\n}\n")
}

func (m *metrics) servePrometheus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.writePrometheus(w)
}

// writePrometheus writes every counter as postwire_<side>_<name>, with
// its HELP and TYPE lines, in the order of the names.
func (m *metrics) writePrometheus(w io.Writer) {
	m.root.Do(func(kv expvar.KeyValue) {
		name := "postwire_" + kv.Key
		_, base, _ := strings.Cut(kv.Key, "_")
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", name, metricHelp[base], name)
		kv.Value.(*expvar.Map).Do(func(v expvar.KeyValue) {
			label := ""
			if v.Key != "" {
				label = "{" + metricLabels[base] + "=" + strconv.Quote(v.Key) + "}"
			}
			fmt.Fprintf(w, "%s%s %s\n", name, label, v.Value)
		})
	})
}

// serveMetrics serves m on addr until the listener is closed; it returns
// the listener so that the caller can close it.
func serveMetrics(m *metrics, addr string, log *slog.Logger) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: m.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(l); err != nil && !errors.Is(err, net.ErrClosed) {
			log.Error("metrics server failed", "error", err)
		}
	}()
	log.Info("serving metrics on /debug/vars and /metrics", "addr", l.Addr().String())
	return l, nil
}
