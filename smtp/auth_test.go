package smtp

import (
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func srvAuthServer(t *testing.T) (*srvBackend, *srvClient) {
	b := &srvBackend{auth: true}
	_, addr := srvStart(t, b, func(s *Server) { s.AllowInsecureAuth = true; s.MaxAuthFailures = 10 })
	c := srvGreeted(t, addr)
	return b, c
}

func srvB64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// "=" is an empty initial response, different from none (RFC 4954 section 4).
func TestAuthInitialResponses(t *testing.T) {
	b, c := srvAuthServer(t)
	c.cmd("AUTH X-TEST =", "535 5.7.8")
	c.cmd("AUTH X-TEST "+srvB64("nope"), "535 5.7.8")
	c.cmd("AUTH X-TEST", "334 "+srvB64("go"))
	c.cmd(srvB64("ok"), "235 2.7.0")
	b.mu.Lock()
	defer b.mu.Unlock()
	require.Len(t, b.authResp, 4)
	assert.NotNil(t, b.authResp[0], `"=" must reach the mechanism as an empty, non-nil response`)
	assert.Empty(t, b.authResp[0])
	assert.Equal(t, "nope", string(b.authResp[1]))
	assert.Nil(t, b.authResp[2], "no initial response must reach the mechanism as nil")
	assert.Equal(t, "ok", string(b.authResp[3]))
}

// Data with success goes out as a 334 answered with an empty line.
func TestAuthAdditionalDataWithSuccess(t *testing.T) {
	_, c := srvAuthServer(t)
	c.cmd("AUTH X-TEST "+srvB64("final"), "334 "+srvB64("bye"))
	c.cmd("", "235 2.7.0")
	c.cmd("AUTH PLAIN "+srvB64("\x00user\x00pass"), "503 5.5.1")
}

func TestAuthErrors(t *testing.T) {
	_, c := srvAuthServer(t)
	c.cmd("AUTH", "501 5.5.4")
	c.cmd("AUTH X-BROKEN", "454 4.7.0")
	c.cmd("AUTH X-TEST", "334 ")
	c.cmd("not base64!", "501 5.5.2")
	c.cmd("AUTH LOGIN", "334 ")
	c.cmd("*", "501 5.0.0")
	c.cmd("AUTH plain "+srvB64("\x00user\x00pass"), "235 2.7.0") // mechanism names in any case
}

// Responses of up to 12288 octets are taken (RFC 4954 section 4); longer
// ones are 500 5.5.6.
func TestAuthLongResponses(t *testing.T) {
	_, c := srvAuthServer(t)
	c.cmd("AUTH X-TEST", "334 ")
	long := srvB64(strings.Repeat("x", 9000)) // 12000 octets of base64
	require.LessOrEqual(t, len(long), 12288)
	c.cmd(long, "535 5.7.8") // read, decoded and refused by the mechanism
	c.cmd("AUTH X-TEST", "334 ")
	c.cmd(strings.Repeat("A", 13000), "500 5.5.6")
	c.cmd("NOOP", "250")
}

// Without TLS, AUTH is not offered and is refused before any credentials
// are read: no 334.
func TestAuthPlaintextRefused(t *testing.T) {
	b := &srvBackend{auth: true}
	_, addr := srvStart(t, b, nil)
	c := srvDial(t, addr)
	c.expect("220 ")
	for _, l := range c.cmd("EHLO client.test", "250 ") {
		assert.NotContains(t, l, "AUTH")
	}
	c.cmd("AUTH LOGIN", "538 5.7.11")
	c.cmd("NOOP", "250")
	b.mu.Lock()
	defer b.mu.Unlock()
	assert.Empty(t, b.authResp)
}

func TestAuthWithoutAuthSession(t *testing.T) {
	_, addr := srvStart(t, &srvBackend{}, func(s *Server) { s.AllowInsecureAuth = true })
	c := srvGreeted(t, addr)
	c.cmd("AUTH PLAIN "+srvB64("\x00user\x00pass"), "502 5.5.1")
}

// Each failed AUTH is logged at Info with the connection id, the client's
// address, the mechanism and the user name tried, never the password; so
// is the 421 after too many, so that fail2ban-style tools can act.
func TestAuthFailuresLogged(t *testing.T) {
	log := &lockedBuffer{}
	b := &srvBackend{auth: true}
	_, addr := srvStart(t, b, func(s *Server) {
		s.AllowInsecureAuth = true
		s.Logger = slog.New(slog.NewJSONHandler(log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	c := srvGreeted(t, addr)
	c.cmd("AUTH PLAIN "+srvB64("\x00user\x00wrong-secret-1"), "535 5.7.8")
	c.cmd("AUTH LOGIN", "334 ")
	c.cmd(srvB64("mallory"), "334 ")
	c.cmd(srvB64("wrong-secret-2"), "535 5.7.8")
	c.send("AUTH PLAIN " + srvB64("\x00user\x00wrong-secret-3"))
	c.expect("535 5.7.8")
	c.expect("421 4.7.0")
	c.expectClosed()

	var failures []map[string]any
	closing := 0
	for line := range strings.SplitSeq(strings.TrimSpace(log.String()), "\n") {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
		switch rec["msg"] {
		case "smtp: AUTH failed":
			failures = append(failures, rec)
		case "smtp: too many AUTH failures, closing connection":
			closing++
		}
	}
	require.Len(t, failures, 3, log.String())
	assert.Equal(t, 1, closing, "the 421 is logged")
	for i, want := range []struct{ mech, user string }{{"PLAIN", "user"}, {"LOGIN", "mallory"}, {"PLAIN", "user"}} {
		assert.Equal(t, "INFO", failures[i]["level"])
		assert.Equal(t, want.mech, failures[i]["mechanism"])
		assert.Equal(t, want.user, failures[i]["user"])
		assert.Equal(t, c.nc.LocalAddr().String(), failures[i]["remote"])
		assert.NotEmpty(t, failures[i]["conn"])
	}
	assert.Equal(t, b.LastConn().ID(), failures[0]["conn"])
	assert.NotContains(t, log.String(), "wrong-secret")
}
