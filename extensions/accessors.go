package extensions

import (
	"strconv"
	"strings"
	"time"

	"github.com/postwire/postwire/internal/ascii"
)

// LimitsInfo holds the limits a server announces with LIMITS (RFC 9422
// section 4). A zero field means the server announced no such limit.
type LimitsInfo struct {
	RcptMax       int // RCPTMAX: recipients per transaction
	MailMax       int // MAILMAX: transactions per session
	RcptDomainMax int // RCPTDOMAINMAX: recipient domains per transaction
}

// Limits returns the limits of LIMITS and whether LIMITS was advertised.
// Names are case-insensitive; a limit with an unknown name or a value that
// is not a positive decimal number is ignored, as RFC 9422 section 4 asks
// of clients.
func (s Set) Limits() (LimitsInfo, bool) {
	params, ok := s.Params(Limits)
	if !ok {
		return LimitsInfo{}, false
	}
	var l LimitsInfo
	for _, p := range ascii.Fields(params) {
		name, value, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		n, ok := positive(value)
		if !ok {
			continue
		}
		switch ascii.ToUpper(name) {
		case "RCPTMAX":
			l.RcptMax = n
		case "MAILMAX":
			l.MailMax = n
		case "RCPTDOMAINMAX":
			l.RcptDomainMax = n
		}
	}
	return l, true
}

// FormatLimits returns the parameter text of LIMITS for l, leaving out zero
// fields, for a server to Add.
func FormatLimits(l LimitsInfo) string {
	var parts []string
	for _, f := range []struct {
		name string
		n    int
	}{{"RCPTMAX", l.RcptMax}, {"MAILMAX", l.MailMax}, {"RCPTDOMAINMAX", l.RcptDomainMax}} {
		if f.n > 0 {
			parts = append(parts, f.name+"="+strconv.Itoa(f.n))
		}
	}
	return strings.Join(parts, " ")
}

// DeliverByMin returns the min-by-time of DELIVERBY (RFC 2852 section 4):
// the shortest BY time the server accepts, 0 when it names none (or names
// one that is not a number). ok is false when DELIVERBY was not advertised.
func (s Set) DeliverByMin() (min time.Duration, ok bool) {
	params, ok := s.Params(DeliverBy)
	if !ok {
		return 0, false
	}
	n, valid := positive(firstField(params))
	if !valid {
		return 0, true
	}
	return time.Duration(n) * time.Second, true
}

// MTPriorityProfile returns the priority assignment policy named by
// MT-PRIORITY (RFC 6710 section 3), upper-cased ("MIXER", "STANAG4406",
// "NSEP", ...), or "" when the server names none. ok is false when
// MT-PRIORITY was not advertised.
func (s Set) MTPriorityProfile() (profile string, ok bool) {
	params, ok := s.Params(MTPriority)
	if !ok {
		return "", false
	}
	return ascii.ToUpper(firstField(params)), true
}

// positive parses a decimal number above zero that fits an int.
func positive(s string) (int, bool) {
	if s == "" || s[0] < '0' || s[0] > '9' {
		return 0, false // no sign, no space
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
