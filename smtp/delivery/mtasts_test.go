package delivery

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSTSRecord(t *testing.T) {
	for _, tc := range []struct {
		txt, id string
		ok      bool
	}{
		{"v=STSv1; id=20160831085700Z", "20160831085700Z", true},
		{"v=STSv1;id=abc;", "abc", true},
		{"v=STSv1; id=abc; ext=1", "abc", true},
		{"v=STSv1; id=" + strings.Repeat("a", 32), strings.Repeat("a", 32), true},
		{"v=STSv1; id=" + strings.Repeat("a", 33), "", false},
		{"v=STSv1; id=a-b", "", false},
		{"v=STSv1", "", false},
		{"v=STSv2; id=abc", "", false},
		{"id=abc; v=STSv1", "", false},
		{"v=STSv1; id=a; id=b", "", false},
		{"v=STSv1; junk", "", false},
	} {
		id, err := ParseSTSRecord(tc.txt)
		if tc.ok {
			assert.NoError(t, err, tc.txt)
			assert.Equal(t, tc.id, id, tc.txt)
		} else {
			assert.Error(t, err, tc.txt)
		}
	}
}

func TestSelectSTSRecord(t *testing.T) {
	id, err := selectSTSRecord([]string{"v=spf1 -all", "v=STSv1; id=one"})
	require.NoError(t, err)
	assert.Equal(t, "one", id)
	_, err = selectSTSRecord([]string{"v=STSv1; id=one", "v=STSv1; id=two"})
	assert.Error(t, err, "two records mean no policy")
	_, err = selectSTSRecord([]string{"something else"})
	assert.ErrorIs(t, err, errNoSTSRecord)
}

func TestParseSTSPolicy(t *testing.T) {
	p, err := ParseSTSPolicy("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.Example.net\r\nmax_age: 604800\r\n")
	require.NoError(t, err)
	assert.Equal(t, &STSPolicy{Mode: STSEnforce, MX: []string{"mail.example.com", "*.example.net"}, MaxAge: 604800 * time.Second}, p)

	p, err = ParseSTSPolicy("version: STSv1\nmode: none\nmax_age: 0\nextension_key: anything")
	require.NoError(t, err, "LF endings, no mx in mode none, unknown keys ignored")
	assert.Equal(t, STSNone, p.Mode)

	for _, bad := range []string{
		"",
		"mode: enforce\nversion: STSv1\nmx: a.test\nmax_age: 1\n",
		"version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1\n",
		"version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nmax_age: 1\n",
		"version: STSv1\nmode: testing\nmx: a.test\n",
		"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557601\n",
		"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 12345678901\n",
		"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1\n",
		"version: STSv1\nmode: enforce\nmode: testing\nmx: a.test\nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nmx: a..test\nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nmx: *.*.test\nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nno colon here\nmax_age: 1\n",
	} {
		_, err := ParseSTSPolicy(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestSTSPolicyMatchMX(t *testing.T) {
	p := &STSPolicy{MX: []string{"mail.example.com", "*.example.net"}}
	for host, want := range map[string]bool{
		"mail.example.com":   true,
		"MAIL.example.com.":  true,
		"other.example.com":  false,
		"mx1.example.net":    true,
		"example.net":        false,
		"a.b.example.net":    false,
		".example.net":       false,
		"mx1.example.net.uk": false,
	} {
		assert.Equal(t, want, p.MatchMX(host), host)
	}
}

func TestSTSFetch(t *testing.T) {
	n := newTestNet(t)
	f := n.https.fetcher()
	ctx := context.Background()
	good := "version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 86400\n"

	n.https.set("ok.test", testPolicy{body: good})
	p, err := f.Fetch(ctx, "ok.test")
	require.NoError(t, err)
	assert.Equal(t, STSEnforce, p.Mode)

	for _, tc := range []struct {
		domain string
		tp     testPolicy
		want   ResultType
	}{
		{"missing.test", testPolicy{status: http.StatusNotFound, body: good}, ResultSTSPolicyFetchError},
		{"redirect.test", testPolicy{redirect: "https://mta-sts.ok.test/.well-known/mta-sts.txt"}, ResultSTSPolicyFetchError},
		{"html.test", testPolicy{contentType: "text/html", body: good}, ResultSTSPolicyInvalid},
		{"big.test", testPolicy{body: good + "x: " + strings.Repeat("y", STSMaxPolicySize) + "\n"}, ResultSTSPolicyInvalid},
		{"syntax.test", testPolicy{body: "version: STSv1\nmode: sometimes\n"}, ResultSTSPolicyInvalid},
		{"badcert.test", testPolicy{body: good}, ResultSTSWebPKIInvalid},
	} {
		n.https.set(tc.domain, tc.tp)
		_, err := f.Fetch(ctx, tc.domain)
		var tf *TLSFailure
		require.ErrorAs(t, err, &tf, tc.domain)
		assert.Equal(t, tc.want, tf.Result, "%s: %v", tc.domain, err)
	}
	assert.Equal(t, 0, n.https.fetchCount("ok.test")-1, "the redirect was not followed")
}

func TestSTSFetchTimeout(t *testing.T) {
	n := newTestNet(t)
	n.https.set("slow.test", testPolicy{hang: true})
	f := n.https.fetcher()
	f.Timeout = 100 * time.Millisecond

	_, err := f.Fetch(context.Background(), "slow.test")

	var tf *TLSFailure
	require.ErrorAs(t, err, &tf)
	assert.Equal(t, ResultSTSPolicyFetchError, tf.Result)
}

// stsCase is one row of the MTA-STS decision table.
type stsCase struct {
	name    string
	txt     string // "" means no _mta-sts TXT record
	policy  *testPolicy
	mxCert  string // "valid", "mismatch", "expired", "untrusted", "none" (no STARTTLS)
	want    Status
	policyT PolicyType
	mode    STSMode
	failure ResultType
	stored  bool // the MX host got the message
}

func TestMTASTSDecisions(t *testing.T) {
	enforce := &testPolicy{body: "version: STSv1\nmode: enforce\nmx: *.example.test\nmax_age: 86400\n"}
	enforceOther := &testPolicy{body: "version: STSv1\nmode: enforce\nmx: mx.elsewhere.test\nmax_age: 86400\n"}
	testing_ := &testPolicy{body: "version: STSv1\nmode: testing\nmx: *.example.test\nmax_age: 86400\n"}
	none := &testPolicy{body: "version: STSv1\nmode: none\nmax_age: 86400\n"}
	missing := &testPolicy{status: http.StatusNotFound}
	for _, tc := range []stsCase{
		{name: "no TXT record", mxCert: "mismatch", want: Delivered, policyT: PolicyNotFound, stored: true},
		{name: "fetch failure", txt: "v=STSv1; id=1", policy: missing, mxCert: "mismatch", want: Delivered, policyT: PolicySTS, failure: ResultSTSPolicyFetchError, stored: true},
		{name: "enforce, MX matches, valid certificate", txt: "v=STSv1; id=1", policy: enforce, mxCert: "valid", want: Delivered, policyT: PolicySTS, mode: STSEnforce, stored: true},
		{name: "enforce, MX not listed", txt: "v=STSv1; id=1", policy: enforceOther, mxCert: "valid", want: TemporaryFailure, policyT: PolicySTS, mode: STSEnforce, failure: ResultValidationFailure},
		{name: "enforce, certificate mismatch", txt: "v=STSv1; id=1", policy: enforce, mxCert: "mismatch", want: TemporaryFailure, policyT: PolicySTS, mode: STSEnforce, failure: ResultCertificateHostMismatch},
		{name: "enforce, no STARTTLS", txt: "v=STSv1; id=1", policy: enforce, mxCert: "none", want: TemporaryFailure, policyT: PolicySTS, mode: STSEnforce, failure: ResultSTARTTLSNotSupported},
		{name: "enforce, certificate expired", txt: "v=STSv1; id=1", policy: enforce, mxCert: "expired", want: TemporaryFailure, policyT: PolicySTS, mode: STSEnforce, failure: ResultCertificateExpired},
		{name: "enforce, certificate from an unknown CA", txt: "v=STSv1; id=1", policy: enforce, mxCert: "untrusted", want: TemporaryFailure, policyT: PolicySTS, mode: STSEnforce, failure: ResultCertificateNotTrusted},
		{name: "testing, MX not listed", txt: "v=STSv1; id=1", policy: &testPolicy{body: "version: STSv1\nmode: testing\nmx: mx.elsewhere.test\nmax_age: 86400\n"}, mxCert: "valid", want: Delivered, policyT: PolicySTS, mode: STSTesting, failure: ResultValidationFailure, stored: true},
		{name: "testing, certificate mismatch", txt: "v=STSv1; id=1", policy: testing_, mxCert: "mismatch", want: Delivered, policyT: PolicySTS, mode: STSTesting, failure: ResultCertificateHostMismatch, stored: true},
		{name: "testing, no STARTTLS", txt: "v=STSv1; id=1", policy: testing_, mxCert: "none", want: Delivered, policyT: PolicySTS, mode: STSTesting, failure: ResultSTARTTLSNotSupported, stored: true},
		{name: "mode none", txt: "v=STSv1; id=1", policy: none, mxCert: "mismatch", want: Delivered, policyT: PolicyNotFound, stored: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newTestNet(t)
			var o mxOpts
			switch tc.mxCert {
			case "valid":
				c := n.ca.valid(t, "mx.example.test")
				o.cert = &c
			case "mismatch":
				c := n.ca.valid(t, "someone.else.test")
				o.cert = &c
			case "expired":
				c := n.ca.leaf(t, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour), "mx.example.test")
				o.cert = &c
			case "untrusted":
				c := newTestCA(t, "Unknown CA").valid(t, "mx.example.test")
				o.cert = &c
			}
			m := n.addMX("mx.example.test", o)
			n.dns.MX("example.test", 10, "mx.example.test")
			if tc.txt != "" {
				n.dns.TXT("_mta-sts.example.test", tc.txt)
			}
			if tc.policy != nil {
				n.https.set("example.test", *tc.policy)
			}
			d := n.deliverer()
			d.Resolver = netResolverFor(n.dns.Addr) // no DNSSEC: MTA-STS alone

			rep := deliver(t, d, message("x@example.test"))

			r := rep.Results[0]
			assert.Equal(t, tc.want, r.Status, "%v", r.Err)
			assert.Equal(t, tc.policyT, r.TLS.Policy)
			assert.Equal(t, tc.mode, r.TLS.STSMode)
			assert.Equal(t, tc.failure, r.TLS.Failure, r.TLS.Detail)
			assert.Equal(t, tc.mode == STSEnforce, r.TLS.Enforced)
			if tc.want == Delivered && tc.mode != "" && tc.failure == "" {
				assert.True(t, r.TLS.Verified)
			}
			assert.Equal(t, tc.stored, len(m.messages()) == 1)
		})
	}
}

func TestMTASTSCache(t *testing.T) {
	n := newTestNet(t)
	c := n.ca.valid(t, "mx.example.test")
	m := n.addMX("mx.example.test", mxOpts{cert: &c})
	n.dns.MX("example.test", 10, "mx.example.test")
	n.dns.TXT("_mta-sts.example.test", "v=STSv1; id=1")
	n.https.set("example.test", testPolicy{body: "version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 3600\n"})
	now := time.Now()
	d := n.deliverer()
	d.Now = func() time.Time { return now }
	d.Resolver = netResolverFor(n.dns.Addr)
	send := func() Result { return deliver(t, d, message("x@example.test")).Results[0] }

	require.Equal(t, Delivered, send().Status)
	require.Equal(t, Delivered, send().Status)
	assert.Equal(t, 1, n.https.fetchCount("example.test"), "the same id is served from the cache")

	n.dns.ReplaceTXT("_mta-sts.example.test", "v=STSv1; id=2")
	n.https.set("example.test", testPolicy{body: "version: STSv1\nmode: enforce\nmx: other.example.test\nmax_age: 3600\n"})
	r := send()
	assert.Equal(t, 2, n.https.fetchCount("example.test"), "a new id means a fetch")
	assert.Equal(t, TemporaryFailure, r.Status, "the new policy no longer lists the MX host")

	n.dns.Remove("_mta-sts.example.test")
	r = send()
	assert.Equal(t, TemporaryFailure, r.Status, "without a TXT record the cached policy still applies")
	assert.Equal(t, 2, n.https.fetchCount("example.test"))

	now = now.Add(2 * time.Hour)
	r = send()
	assert.Equal(t, Delivered, r.Status, "the cached policy expired: no policy")
	assert.Equal(t, PolicyNotFound, r.TLS.Policy)
	assert.Len(t, m.messages(), 3)
}

func TestMemorySTSCacheExpiry(t *testing.T) {
	now := time.Now()
	c := &MemorySTSCache{Now: func() time.Time { return now }}
	c.Put(context.Background(), "example.test", &CachedSTSPolicy{Policy: &STSPolicy{MaxAge: time.Minute}, ID: "1", Fetched: now})
	_, ok := c.Get(context.Background(), "example.test")
	assert.True(t, ok)
	now = now.Add(time.Minute)
	_, ok = c.Get(context.Background(), "example.test")
	assert.False(t, ok, "max_age has passed")
}
