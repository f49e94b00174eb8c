package extensions

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func set(t *testing.T, lines ...string) Set {
	t.Helper()
	s, err := Parse(lines)
	require.NoError(t, err)
	return s
}

func TestParamAllowed(t *testing.T) {
	postfix := set(t, postfixEHLO[1:]...)
	tests := []struct {
		name  string
		s     Set
		mail  map[string]bool
		rcpt  map[string]bool
		body  map[string]bool
		limit [2]int
	}{
		{
			name:  "nothing advertised",
			s:     Set{},
			mail:  map[string]bool{"SIZE": false, "BODY": false, "AUTH": false, "RET": false, "SMTPUTF8": false},
			rcpt:  map[string]bool{"NOTIFY": false, "ORCPT": false},
			body:  map[string]bool{"7BIT": false, "8BITMIME": false},
			limit: [2]int{512, 512},
		},
		{
			name: "Postfix",
			s:    postfix,
			mail: map[string]bool{
				"SIZE": true, "size": true, "BODY": true, "AUTH": true, "RET": true, "ENVID": true, "SMTPUTF8": true,
				"BY": false, "REQUIRETLS": false, "MT-PRIORITY": false, "NOTIFY": false, "ORCPT": false, "XFOO": false, "": false,
			},
			rcpt: map[string]bool{"NOTIFY": true, "orcpt": true, "SIZE": false, "RET": false, "BODY": false},
			body: map[string]bool{"7BIT": true, "8bitmime": true, "BINARYMIME": false, "X": false},
			// SIZE 26 + AUTH 500 + 8BITMIME 14 + DSN 100 + SMTPUTF8 10; DSN 500 on RCPT.
			limit: [2]int{512 + 26 + 500 + 14 + 100 + 10, 512 + 500},
		},
		{
			name: "the rest",
			s:    set(t, "REQUIRETLS", "MT-PRIORITY MIXER", "DELIVERBY 60", "BINARYMIME", "CHUNKING", "LIMITS RCPTMAX=5"),
			mail: map[string]bool{"REQUIRETLS": true, "MT-PRIORITY": true, "BY": true, "BODY": true, "SIZE": false, "AUTH": false},
			rcpt: map[string]bool{"NOTIFY": false},
			body: map[string]bool{"7BIT": true, "8BITMIME": false, "BINARYMIME": true},
			// REQUIRETLS 11 + MT-PRIORITY 15 + DELIVERBY 17 + BINARYMIME 16.
			limit: [2]int{512 + 11 + 15 + 17 + 16, 512},
		},
		{
			name: "BINARYMIME without CHUNKING",
			s:    set(t, "BINARYMIME"),
			mail: map[string]bool{"BODY": true},
			body: map[string]bool{"BINARYMIME": false},
			// BINARYMIME 16.
			limit: [2]int{512 + 16, 512},
		},
		{
			name:  "unknown keywords add nothing",
			s:     set(t, "XFOO", "X-EXPS GSSAPI", "SIZE 100"),
			mail:  map[string]bool{"XFOO": false, "SIZE": true},
			limit: [2]int{512 + 26, 512},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, want := range tt.mail {
				assert.Equal(t, want, tt.s.MailParamAllowed(k), "MAIL %s", k)
			}
			for k, want := range tt.rcpt {
				assert.Equal(t, want, tt.s.RcptParamAllowed(k), "RCPT %s", k)
			}
			for v, want := range tt.body {
				assert.Equal(t, want, tt.s.BodyAllowed(v), "BODY=%s", v)
			}
			mail, rcpt := tt.s.CommandLineLimits()
			assert.Equal(t, tt.limit, [2]int{mail, rcpt})
		})
	}
}

func TestKnownTable(t *testing.T) {
	keywords := []string{Pipelining, EightBitMIME, Size, EnhancedStatusCodes, StartTLS, Auth, Chunking,
		BinaryMIME, SMTPUTF8, DSN, RequireTLS, MTPriority, DeliverBy, Limits, VRFY, EXPN, Help, ETRN, XClient}
	all := Known()
	require.Len(t, all, len(keywords))
	for i, k := range keywords {
		assert.Equal(t, k, all[i].Keyword)
		e, ok := Lookup(k)
		require.True(t, ok, k)
		assert.NotEmpty(t, e.RFC, k)
		assert.True(t, ValidKeyword(e.Keyword), k)
		// Each parameter is allowed by its own extension alone, and
		// extends the line when it exists.
		var s Set
		s.Add(k, "")
		for _, p := range e.MailParams {
			assert.True(t, s.MailParamAllowed(p), "%s brings MAIL %s", k, p)
			assert.Positive(t, e.MailLineIncrement, "%s lengthens MAIL", k)
		}
		for _, p := range e.RcptParams {
			assert.True(t, s.RcptParamAllowed(p), "%s brings RCPT %s", k, p)
			assert.Positive(t, e.RcptLineIncrement, "%s lengthens RCPT", k)
		}
		mail, rcpt := s.CommandLineLimits()
		assert.Equal(t, CommandLineBase+e.MailLineIncrement, mail, k)
		assert.Equal(t, CommandLineBase+e.RcptLineIncrement, rcpt, k)
	}
	_, ok := Lookup("XFOO")
	assert.False(t, ok)

	e, ok := Lookup("dsn")
	require.True(t, ok)
	assert.Equal(t, []string{"RET", "ENVID"}, e.MailParams)
	assert.Equal(t, []string{"NOTIFY", "ORCPT"}, e.RcptParams)
	e.MailParams[0] = "CHANGED"
	all[0].Keyword = "CHANGED"
	again, _ := Lookup(DSN)
	assert.Equal(t, "RET", again.MailParams[0], "Lookup returns a copy")
	assert.Equal(t, Pipelining, Known()[0].Keyword, "Known returns a copy")
}

func TestLimits(t *testing.T) {
	tests := []struct {
		line string
		want LimitsInfo
		ok   bool
	}{
		{"PIPELINING", LimitsInfo{}, false},
		{"LIMITS", LimitsInfo{}, true},
		{"LIMITS RCPTMAX=20", LimitsInfo{RcptMax: 20}, true},
		{"LIMITS RCPTMAX=20 MAILMAX=10 RCPTDOMAINMAX=5", LimitsInfo{RcptMax: 20, MailMax: 10, RcptDomainMax: 5}, true},
		{"limits rcptmax=3 MailMax=4", LimitsInfo{RcptMax: 3, MailMax: 4}, true},
		{"LIMITS RCPTMAX=0 MAILMAX=-1 RCPTDOMAINMAX=x", LimitsInfo{}, true},
		{"LIMITS RCPTMAX=+5 MAILMAX= FOO=3 RCPTMAX", LimitsInfo{}, true},
		{"LIMITS RCPTMAX=99999999999999999999999", LimitsInfo{}, true},
		{"LIMITS FUTUREMAX=9 RCPTMAX=7", LimitsInfo{RcptMax: 7}, true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, ok := set(t, tt.line).Limits()
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.ok, ok)
		})
	}
}

func TestFormatLimits(t *testing.T) {
	assert.Equal(t, "", FormatLimits(LimitsInfo{}))
	l := LimitsInfo{RcptMax: 100, MailMax: 0, RcptDomainMax: 3}
	assert.Equal(t, "RCPTMAX=100 RCPTDOMAINMAX=3", FormatLimits(l))
	var s Set
	s.Add(Limits, FormatLimits(l))
	got, ok := s.Limits()
	assert.True(t, ok)
	assert.Equal(t, l, got, "FormatLimits and Limits agree")
}

func TestDeliverByMin(t *testing.T) {
	tests := []struct {
		line string
		want time.Duration
		ok   bool
	}{
		{"PIPELINING", 0, false},
		{"DELIVERBY", 0, true},
		{"DELIVERBY 120", 2 * time.Minute, true},
		{"deliverby 1", time.Second, true},
		{"DELIVERBY -5", 0, true},
		{"DELIVERBY soon", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, ok := set(t, tt.line).DeliverByMin()
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.ok, ok)
		})
	}
}

func TestMTPriorityProfile(t *testing.T) {
	tests := []struct {
		line string
		want string
		ok   bool
	}{
		{"PIPELINING", "", false},
		{"MT-PRIORITY", "", true},
		{"MT-PRIORITY MIXER", "MIXER", true},
		{"mt-priority stanag4406", "STANAG4406", true},
		{"MT-PRIORITY NSEP extra", "NSEP", true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, ok := set(t, tt.line).MTPriorityProfile()
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.ok, ok)
		})
	}
}
