package delivery

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// STSMode is the mode of an MTA-STS policy (RFC 8461 section 3.2).
type STSMode string

// MTA-STS modes.
const (
	// STSEnforce: deliver only to matching MX hosts over TLS with a
	// PKIX-valid certificate for the host name.
	STSEnforce STSMode = "enforce"
	// STSTesting: check as in enforce mode, report failures, deliver
	// anyway.
	STSTesting STSMode = "testing"
	// STSNone: the domain has no active policy.
	STSNone STSMode = "none"
)

// STSMaxAge is the largest max_age of a policy, one year in seconds (RFC
// 8461 section 3.2).
const STSMaxAge = 31557600

// STSPolicy is a parsed MTA-STS policy (RFC 8461 section 3.2).
type STSPolicy struct {
	Mode STSMode
	// MX holds the patterns of the "mx" fields: a host name, or
	// "*." and a domain for any host one label below it (section 4.1).
	MX     []string
	MaxAge time.Duration
}

// ParseSTSRecord parses the TXT record of _mta-sts.<domain> (RFC 8461
// section 3.1): "v=STSv1; id=<1 to 32 letters and digits>", with other
// fields ignored. It returns the id.
func ParseSTSRecord(txt string) (id string, err error) {
	fields := strings.Split(txt, ";")
	for i, f := range fields {
		f = strings.Trim(f, " \t")
		if f == "" && i == len(fields)-1 && i > 0 {
			break // a trailing ";"
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return "", fmt.Errorf("mta-sts record: field %q is not key=value", f)
		}
		switch {
		case i == 0:
			if k != "v" || v != "STSv1" {
				return "", errors.New("mta-sts record: does not start with v=STSv1")
			}
		case k == "id":
			if id != "" {
				return "", errors.New("mta-sts record: two id fields")
			}
			if !validSTSID(v) {
				return "", fmt.Errorf("mta-sts record: id %q is not 1 to 32 letters and digits", v)
			}
			id = v
		}
	}
	if id == "" {
		return "", errors.New("mta-sts record: no id")
	}
	return id, nil
}

// validSTSID reports whether id is 1*32(ALPHA / DIGIT).
func validSTSID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// selectSTSRecord applies RFC 8461 section 3.1 to the TXT records of
// _mta-sts.<domain>: those not starting with "v=STSv1;" are discarded, and
// unless exactly one remains and parses, the domain has no policy.
func selectSTSRecord(txts []string) (id string, err error) {
	var cands []string
	for _, t := range txts {
		if strings.HasPrefix(t, "v=STSv1;") || t == "v=STSv1" {
			cands = append(cands, t)
		}
	}
	switch len(cands) {
	case 0:
		return "", errNoSTSRecord
	case 1:
		return ParseSTSRecord(cands[0])
	}
	return "", fmt.Errorf("mta-sts record: %d records start with v=STSv1", len(cands))
}

var errNoSTSRecord = errors.New("mta-sts: no record")

// ParseSTSPolicy parses a policy file (RFC 8461 section 3.2) strictly:
// lines "key: value" ended by CRLF or LF; "version: STSv1" first; "mode"
// one of enforce, testing, none; "max_age" 0 to 31557600 seconds, at most
// 10 digits; at least one "mx" unless the mode is none. The version, mode
// and max_age fields may not repeat; other keys are extensions and are
// ignored.
func ParseSTSPolicy(text string) (*STSPolicy, error) {
	p := &STSPolicy{}
	var haveMode, haveAge bool
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, line := range lines {
		k, v, ok := strings.Cut(line, ":")
		if !ok || !validSTSKey(k) {
			return nil, fmt.Errorf("mta-sts policy: line %d is not \"key: value\"", i+1)
		}
		v = strings.Trim(v, " \t")
		if i == 0 && k != "version" {
			return nil, errors.New("mta-sts policy: the first field is not version")
		}
		switch k {
		case "version":
			if i != 0 || v != "STSv1" {
				return nil, fmt.Errorf("mta-sts policy: version %q, want STSv1 on the first line", v)
			}
		case "mode":
			if haveMode {
				return nil, errors.New("mta-sts policy: two mode fields")
			}
			haveMode = true
			switch STSMode(v) {
			case STSEnforce, STSTesting, STSNone:
				p.Mode = STSMode(v)
			default:
				return nil, fmt.Errorf("mta-sts policy: unknown mode %q", v)
			}
		case "max_age":
			if haveAge {
				return nil, errors.New("mta-sts policy: two max_age fields")
			}
			haveAge = true
			n, err := parseMaxAge(v)
			if err != nil {
				return nil, err
			}
			p.MaxAge = time.Duration(n) * time.Second
		case "mx":
			if !validMXPattern(v) {
				return nil, fmt.Errorf("mta-sts policy: mx %q is not a host name or *.domain", v)
			}
			p.MX = append(p.MX, normalizeName(v))
		}
	}
	switch {
	case len(lines) == 0:
		return nil, errors.New("mta-sts policy: empty")
	case !haveMode:
		return nil, errors.New("mta-sts policy: no mode")
	case !haveAge:
		return nil, errors.New("mta-sts policy: no max_age")
	case len(p.MX) == 0 && p.Mode != STSNone:
		return nil, errors.New("mta-sts policy: no mx")
	}
	return p, nil
}

// validSTSKey reports whether k is a policy field name: letters, digits
// and "_" or "-" (RFC 8461 section 3.2, sts-policy-ext-name).
func validSTSKey(k string) bool {
	if k == "" || len(k) > 32 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// parseMaxAge parses 1*10DIGIT up to STSMaxAge.
func parseMaxAge(v string) (int64, error) {
	if v == "" || len(v) > 10 {
		return 0, fmt.Errorf("mta-sts policy: max_age %q is not 1 to 10 digits", v)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, fmt.Errorf("mta-sts policy: max_age %q is not 1 to 10 digits", v)
		}
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	if n > STSMaxAge {
		return 0, fmt.Errorf("mta-sts policy: max_age %d is over %d", n, STSMaxAge)
	}
	return n, nil
}

// validMXPattern reports whether v is a domain name, optionally with "*."
// as its leftmost label (RFC 8461 section 3.2).
func validMXPattern(v string) bool {
	v = strings.TrimPrefix(v, "*.")
	v = strings.TrimSuffix(v, ".")
	if v == "" || len(v) > 253 {
		return false
	}
	for _, label := range strings.Split(v, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// MatchMX reports whether the MX host matches one of the policy's mx
// patterns (RFC 8461 section 4.1): equal without regard to case, or, for
// "*.d", host is one label followed by ".d" (the wildcard covers exactly
// the leftmost label, so "*.example.com" matches "mx.example.com" but
// neither "example.com" nor "a.b.example.com").
func (p *STSPolicy) MatchMX(host string) bool {
	host = normalizeName(host)
	for _, pat := range p.MX {
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			label, parent, found := strings.Cut(host, ".")
			if found && label != "" && parent == rest {
				return true
			}
			continue
		}
		if host == pat {
			return true
		}
	}
	return false
}
