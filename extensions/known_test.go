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
			// SIZE 26 + AUTH 500 + 8BITMIME 14 + DSN 110 + SMTPUTF8 10; DSN 530 on RCPT.
			limit: [2]int{512 + 26 + 500 + 14 + 110 + 10, 512 + 530},
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

// TestLineIncrementsAreTheRFCs pins each extension's MAIL and RCPT line
// increment to the figure of its RFC, quoted beside it, or, where the RFC
// gives none, to the length of the parameter's longest form.
func TestLineIncrementsAreTheRFCs(t *testing.T) {
	tests := []struct {
		keyword    string
		mail, rcpt int
	}{
		// RFC 1870 section 3 item (5): "the maximum length of a MAIL FROM
		// command line is increased by 26 characters by the possible
		// addition of the SIZE keyword and value".
		{Size, 26, 0},
		// RFC 4954 section 3 item 5: "An optional parameter using the
		// keyword "AUTH" is added to the MAIL FROM command, and extends
		// the maximum line length of the MAIL FROM command by 500
		// characters."
		{Auth, 500, 0},
		// RFC 3030 section 3 item 8: "The maximum length of a MAIL FROM
		// command line is increased by 16 characters by the possible
		// addition of the BODY=BINARYMIME keyword and value".
		{BinaryMIME, 16, 0},
		// RFC 6531 section 3.1 item 5: "The maximum length of a MAIL
		// command line is increased by 10 characters to accommodate the
		// possible addition of the SMTPUTF8 parameter."
		{SMTPUTF8, 10, 0},
		// RFC 8689 section 2 item 5: "The maximum length of a MAIL FROM
		// command line is increased by 11 octets by the possible addition
		// of a space and the REQUIRETLS keyword."
		{RequireTLS, 11, 0},
		// RFC 3461 section 5.4: "A conforming MTA MUST accept ESMTP
		// parameters of at least the following sizes: (a) ENVID parameter:
		// 100 characters. (b) NOTIFY parameter: 28 characters. (c) ORCPT
		// parameter: 500 characters. (d) RET parameter: 8 characters." and
		// "... (530 characters for the ORCPT and NOTIFY parameters of the
		// RCPT command, in addition to the 512 characters required by
		// [1])". MAIL has no figure of its own: ENVID and RET, each with
		// the space before it.
		{DSN, (1 + 100) + (1 + 8), 530},
		// No figure in the RFC: the longest form, space included.
		{EightBitMIME, len(" BODY=8BITMIME"), 0},
		{MTPriority, len(" MT-PRIORITY=-9"), 0},
		{DeliverBy, len(" BY=-999999999;RT"), 0},
	}
	for _, tt := range tests {
		e, ok := Lookup(tt.keyword)
		require.True(t, ok, tt.keyword)
		assert.Equal(t, tt.mail, e.MailLineIncrement, "%s on MAIL", tt.keyword)
		assert.Equal(t, tt.rcpt, e.RcptLineIncrement, "%s on RCPT", tt.keyword)
	}

	// The DSN sizes of section 5.4 count the keyword and "=": these are
	// the longest NOTIFY and RET parameters, and they make 28 and 8.
	assert.Len(t, "NOTIFY=SUCCESS,FAILURE,DELAY", 28)
	assert.Len(t, "RET=FULL", 8)

	// Every other known extension brings no parameter and no increment.
	pinned := map[string]bool{}
	for _, tt := range tests {
		pinned[tt.keyword] = true
	}
	for _, e := range Known() {
		if !pinned[e.Keyword] {
			assert.Zero(t, e.MailLineIncrement+e.RcptLineIncrement, e.Keyword)
		}
	}
}

func TestKnownTable(t *testing.T) {
	keywords := []string{Pipelining, EightBitMIME, Size, EnhancedStatusCodes, StartTLS, Auth, Chunking,
		BinaryMIME, SMTPUTF8, DSN, RequireTLS, MTPriority, DeliverBy, Limits, VRFY, EXPN, Help, ETRN, ATRN, XClient}
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
