package textproto

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	strict  = ParseOptions{}
	lenient = ParseOptions{Lenient: true}
	utf8opt = ParseOptions{SMTPUTF8: true}
)

// mailbox builds local@domain where the domain is made of 63-octet labels
// and a last label to reach exactly n octets.
func domainOf(n int) string {
	var b strings.Builder
	for b.Len() < n {
		left := n - b.Len()
		if b.Len() > 0 {
			b.WriteByte('.')
			left--
		}
		take := min(left, 63)
		if left-take == 1 { // leave room for a label after the next dot
			take--
		}
		b.WriteString(strings.Repeat("d", take))
	}
	return b.String()
}

func TestDomainOf(t *testing.T) {
	for _, n := range []int{1, 63, 64, 65, 66, 127, 128, 189, 190, 252, 255, 256} {
		d := domainOf(n)
		require.Len(t, d, n)
		require.True(t, validDomain(d), "%d", n)
	}
}

func TestParseMailValid(t *testing.T) {
	tests := []struct {
		args   string
		opt    ParseOptions
		local  string
		domain string
		null   bool
	}{
		{"FROM:<>", strict, "", "", true},
		{"from:<>", strict, "", "", true},
		{"From:<a@b.example>", strict, "a", "b.example", false},
		{"FROM:<first.last+tag@sub.example.org>", strict, "first.last+tag", "sub.example.org", false},
		{"FROM:<!#$%&'*+-/=?^_`{|}~@x>", strict, "!#$%&'*+-/=?^_`{|}~", "x", false},
		{`FROM:<"john doe"@example.org>`, strict, "john doe", "example.org", false},
		{`FROM:<"a\"b\\c"@example.org>`, strict, `a"b\c`, "example.org", false},
		{`FROM:<""@example.org>`, strict, "", "example.org", false},
		{`FROM:<"a@b>"@example.org>`, strict, "a@b>", "example.org", false},
		{`FROM:<"\ "@example.org>`, strict, " ", "example.org", false},
		{"FROM:<user@[192.0.2.1]>", strict, "user", "[192.0.2.1]", false},
		{"FROM:<user@[255.255.255.255]>", strict, "user", "[255.255.255.255]", false},
		{"FROM:<user@[010.0.0.1]>", strict, "user", "[010.0.0.1]", false},
		{"FROM:<user@[IPv6:2001:db8::1]>", strict, "user", "[IPv6:2001:db8::1]", false},
		{"FROM:<user@[ipv6:::1]>", strict, "user", "[ipv6:::1]", false},
		{"FROM:<user@[IPv6:::ffff:192.0.2.1]>", strict, "user", "[IPv6:::ffff:192.0.2.1]", false},
		{"FROM:<user@[IPv6:2001:db8:0:0:0:0:0:1]>", strict, "user", "[IPv6:2001:db8:0:0:0:0:0:1]", false},
		{"FROM:<user@[x-tag:some-content!]>", strict, "user", "[x-tag:some-content!]", false},
		{"FROM:<@relay.example:user@x.example>", strict, "user", "x.example", false},
		{"FROM:<@a.example,@b.example:user@x.example>", strict, "user", "x.example", false},
		{"FROM:<a@xn--bcher-kva.example>", strict, "a", "xn--bcher-kva.example", false},
		{"FROM:<a@1.2.3>", strict, "a", "1.2.3", false},
		{"FROM:<a@a-b--c.d9>", strict, "a", "a-b--c.d9", false},
		{"FROM:<a@b> ", lenient, "a", "b", false},
		{"FROM: <a@b>", lenient, "a", "b", false},
		{"FROM:   <a@b>", lenient, "a", "b", false},
		{"FROM:a@b", lenient, "a", "b", false},
		{"FROM: a@b", lenient, "a", "b", false},
		{"FROM:<jösé@bücher.example> SMTPUTF8", utf8opt, "jösé", "xn--bcher-kva.example", false},
		{"FROM:<\"jö sé\"@example> SMTPUTF8", utf8opt, "jö sé", "example", false},
		{"FROM:<用户@例子.广告> SMTPUTF8", utf8opt, "用户", "xn--fsqu00a.xn--4rr70v", false},
		{"FROM:<a@BÜCHER.example> SMTPUTF8", utf8opt, "a", "xn--bcher-kva.example", false},
		{"FROM:<" + strings.Repeat("l", 64) + "@x>", strict, strings.Repeat("l", 64), "x", false},
		{"FROM:<a@" + domainOf(255) + ">", strict, "", "", false}, // path 259 > 256: checked below
	}
	for _, tt := range tests[:len(tests)-1] {
		t.Run(tt.args, func(t *testing.T) {
			p, params, err := ParseMail([]byte(tt.args), tt.opt)
			require.NoError(t, err)
			assert.Equal(t, Path{Null: tt.null, Local: tt.local, Domain: tt.domain}, Path{Null: p.Null, Local: p.Local, Domain: p.Domain})
			if strings.HasSuffix(tt.args, " SMTPUTF8") {
				assert.Equal(t, Params{{"SMTPUTF8", "", false}}, params)
			} else {
				assert.Nil(t, params)
			}
		})
	}
}

// With SMTPUTF8 offered, MAIL may carry a UTF-8 reverse-path only when its
// own parameters ask for SMTPUTF8 (RFC 6531 section 3.4); otherwise the
// path is 553 5.6.7 (section 3.5), as when SMTPUTF8 is not offered at all.
// The word SMTPUTF8 inside the path asks for nothing.
func TestParseMailSMTPUTF8Requested(t *testing.T) {
	for _, tt := range []struct {
		args string
		ok   bool
	}{
		{`FROM:<"é SMTPUTF8"@example.org>`, false},
		{`FROM:<é@example.org>`, false},
		{`FROM:<é@example.org> SIZE=10`, false},
		{`FROM:<a@bücher.example> BODY=8BITMIME`, false},
		{`FROM:<"é SMTPUTF8"@example.org> SMTPUTF8`, true},
		{`FROM:<é@example.org> smtputf8`, true},
		{`FROM:<é@example.org> SIZE=10 SMTPUTF8`, true},
		{`FROM:<a@example.org>`, true},
		{`FROM:<"a SMTPUTF8"@example.org>`, true},
	} {
		t.Run(tt.args, func(t *testing.T) {
			p, _, err := ParseMail([]byte(tt.args), utf8opt)
			if tt.ok {
				require.NoError(t, err)
				assert.NotEmpty(t, p.Local)
				return
			}
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, 553, pe.Code)
			assert.Equal(t, EnhancedCode{5, 6, 7}, pe.Enhanced, pe.Msg)
			// The same error as when SMTPUTF8 is not offered.
			_, _, err2 := ParseMail([]byte(tt.args), strict)
			assert.Equal(t, err2, err)
		})
	}
}

// A UTF-8 parameter value on MAIL needs SMTPUTF8 among the parameters too:
// 501 5.5.4 for the value, as without SMTPUTF8 offered.
func TestParseMailUTF8ValueNeedsSMTPUTF8(t *testing.T) {
	_, _, err := ParseMail([]byte("FROM:<a@example.org> ENVID=é"), utf8opt)
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 501, pe.Code)
	assert.Contains(t, pe.Msg, "ENVID")
	_, params, err := ParseMail([]byte("FROM:<a@example.org> ENVID=é SMTPUTF8"), utf8opt)
	require.NoError(t, err)
	assert.Equal(t, "é", params[0].Value)
}

// RCPT has no SMTPUTF8 parameter: ParseOptions.SMTPUTF8 there means the
// transaction asked for it, and a UTF-8 path is accepted as it is.
func TestParseRcptSMTPUTF8InForce(t *testing.T) {
	p, _, err := ParseRcpt([]byte("TO:<é@example.org>"), utf8opt)
	require.NoError(t, err)
	assert.Equal(t, "é", p.Local)
	_, _, err = ParseRcpt([]byte("TO:<é@example.org>"), strict)
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, EnhancedCode{5, 6, 7}, pe.Enhanced)
}

func TestParseMailUTF8Allocs(t *testing.T) {
	args := []byte("FROM:<a@b.example> SIZE=1000")
	allocs := testing.AllocsPerRun(100, func() {
		_, _, _ = ParseMail(args, utf8opt)
	})
	assert.LessOrEqual(t, allocs, 2.0, "SMTPUTF8 offered costs nothing for ASCII arguments")
}

func TestParseRcpt(t *testing.T) {
	tests := []struct {
		args string
		opt  ParseOptions
		want Path
	}{
		{"TO:<Postmaster>", strict, Path{Local: "Postmaster"}},
		{"to:<POSTMASTER>", strict, Path{Local: "Postmaster"}},
		{"TO:<postmaster@example.org>", strict, Path{Local: "postmaster", Domain: "example.org"}},
		{"TO:postmaster", lenient, Path{Local: "Postmaster"}},
		{"TO: <b@c.example>", lenient, Path{Local: "b", Domain: "c.example"}},
		{"TO:<@hop:b@c.example>", strict, Path{Local: "b", Domain: "c.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			p, _, err := ParseRcpt([]byte(tt.args), tt.opt)
			require.NoError(t, err)
			assert.Equal(t, tt.want, p)
		})
	}
}

func TestParsePathErrors(t *testing.T) {
	l64, l65 := strings.Repeat("l", 64), strings.Repeat("l", 65)
	tests := []struct {
		rcpt bool
		args string
		opt  ParseOptions
		code int
	}{
		// shape of the arguments: 501 5.5.4
		{false, "", strict, 501},
		{false, "FROM", strict, 501},
		{false, "FRO:<>", strict, 501},
		{false, "TO:<a@b>", strict, 501},
		{true, "FROM:<a@b>", strict, 501},
		{false, "FROM: <a@b>", strict, 501},
		{false, "FROM:a@b", strict, 501},
		{false, "FROM:", strict, 501},
		{false, "FROM:", lenient, 501},
		{false, "FROM:<a@b", strict, 501},
		{false, "FROM:<a@b>x", strict, 501},
		{false, "FROM:<a@b>>", strict, 501},
		{false, "FROM:<a@b>\tSIZE=1", strict, 501},
		{false, "FROM:<a@b\x00>", strict, 501},
		{false, "FROM:<a\r\n@b>", strict, 501},
		{false, "FROM:<>\x7f", strict, 501},
		// the address itself: 553 5.1.3
		{true, "TO:<>", strict, 553},
		{true, "TO:<user>", strict, 553},
		{true, "TO:<Postmaster@>", strict, 553},
		{false, "FROM:<Postmaster>", strict, 553},
		// "Postmaster" is case-insensitive in ASCII only: U+017F is not s.
		{true, "TO:<po\u017ftmaster>", utf8opt, 553},
		{true, "TO:po\u017ftmaster", ParseOptions{SMTPUTF8: true, Lenient: true}, 553},
		{false, "FROM:<@>", strict, 553},
		{false, "FROM:<a@>", strict, 553},
		{false, "FROM:<@b>", strict, 553},
		{false, "FROM:<.a@b>", strict, 553},
		{false, "FROM:<a.@b>", strict, 553},
		{false, "FROM:<a..b@c>", strict, 553},
		{false, "FROM:<a b@c>", strict, 553},
		{false, "FROM:<a(b)@c>", strict, 553},
		{false, "FROM:<a@b@c>", strict, 553},
		{false, `FROM:<"abc@d>`, strict, 553},
		{false, `FROM:<"a"b@d>`, strict, 553},
		{false, `FROM:<"a\`, strict, 553},
		{false, "FROM:<a@-b.example>", strict, 553},
		{false, "FROM:<a@b-.example>", strict, 553},
		{false, "FROM:<a@b..example>", strict, 553},
		{false, "FROM:<a@.example>", strict, 553},
		{false, "FROM:<a@example.>", strict, 553},
		{false, "FROM:<a@b_c.example>", strict, 553},
		{false, "FROM:<a@" + strings.Repeat("x", 64) + ".example>", strict, 553},
		{false, "FROM:<a@[192.0.2.256]>", strict, 553},
		{false, "FROM:<a@[192.0.2]>", strict, 553},
		{false, "FROM:<a@[192.0.2.1.5]>", strict, 553},
		{false, "FROM:<a@[1920.0.2.1]>", strict, 553},
		{false, "FROM:<a@[192..2.1]>", strict, 553},
		{false, "FROM:<a@[]>", strict, 553},
		{false, "FROM:<a@[IPv6:2001:db8::g]>", strict, 553},
		{false, "FROM:<a@[IPv6:192.0.2.1]>", strict, 553},
		{false, "FROM:<a@[IPv6:fe80::1%eth0]>", strict, 553},
		{false, "FROM:<a@[IPv6:1:2:3:4:5:6:7:8:9]>", strict, 553},
		{false, "FROM:<a@[tag:]>", strict, 553},
		{false, "FROM:<a@[tag-:x]>", strict, 553},
		{false, "FROM:<a@[:x]>", strict, 553},
		{false, "FROM:<a@[a[b]>", strict, 553},
		{false, "FROM:<a@[192.0.2.1>", strict, 553},
		{false, "FROM:<@a.example:>", strict, 553},
		{false, "FROM:<@a.example,b.example:u@x>", strict, 553},
		{false, "FROM:<@a.example u@x>", strict, 553},
		{false, "FROM:<@[192.0.2.1]:u@x>", strict, 553},
		{false, "FROM:<@:u@x>", strict, 553},
		{false, "FROM:a b@c", lenient, 553},
		// limits of RFC 5321 section 4.5.3.1
		{false, "FROM:<" + l65 + "@x>", strict, 553},
		{false, `FROM:<"` + l64[2:] + `\a"@x>`, strict, 553}, // 65 octets as sent, 63 unquoted
		{false, "FROM:<a@" + domainOf(256) + ">", strict, 553},
		{false, "FROM:<" + l64 + "@" + domainOf(190) + ">", strict, 553},
		{false, "FROM:<@r:" + l64 + "@" + domainOf(187) + ">", strict, 553},
		{false, "FROM:" + l64 + "@" + domainOf(190), lenient, 553},
		// octets above 0x7F
		{false, "FROM:<jösé@example>", strict, 553},
		{false, "FROM:<a@bücher.example>", strict, 553},
		{false, "FROM:<\"jö\"@example>", strict, 553},
		{false, "FROM:<a\xff@example>", utf8opt, 553},
		{false, "FROM:<a\xc3@example>", utf8opt, 553},
		{false, "FROM:<a\xc2\x85@example>", utf8opt, 553}, // U+0085, a C1 control
		{false, "FROM:<a@b\xff.example>", utf8opt, 553},
		{false, "FROM:<a@xn--a.example\xc3\xa9>", utf8opt, 553},
		{false, "FROM:<a@b\u200d.example>", utf8opt, 553}, // ZWJ: rejected by IDNA
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			parse := ParseMail
			if tt.rcpt {
				parse = ParseRcpt
			}
			_, _, err := parse([]byte(tt.args), tt.opt)
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.code, pe.Code, pe.Msg)
			if tt.code == 553 && !tt.opt.SMTPUTF8 && !isASCII(tt.args) {
				// RFC 6531 section 4.2: X.6.7 for non-ASCII without SMTPUTF8.
				assert.Equal(t, EnhancedCode{5, 6, 7}, pe.Enhanced)
			} else if tt.code == 553 {
				assert.Equal(t, EnhancedCode{5, 1, 3}, pe.Enhanced)
			} else {
				assert.Equal(t, EnhancedCode{5, 5, 4}, pe.Enhanced)
			}
			assert.Equal(t, -1, indexControl(pe.Msg))
			assert.NotContains(t, pe.Msg, "\x7f")
		})
	}
}

func TestPathLimitsExact(t *testing.T) {
	l64 := strings.Repeat("l", 64)
	// "<" + 64 + "@" + 190 + ">" = 256: the longest path.
	p, _, err := ParseMail([]byte("FROM:<"+l64+"@"+domainOf(189)+">"), strict)
	require.NoError(t, err)
	assert.Len(t, p.Local, 64)
	assert.Len(t, p.Domain, 189)
	// The same with a 255-octet domain and a short local part is too long a path.
	_, _, err = ParseMail([]byte("FROM:<a@"+domainOf(252)+">"), strict)
	require.NoError(t, err)
	var pe *ParseError
	_, _, err = ParseMail([]byte("FROM:<ab@"+domainOf(252)+">"), strict)
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "path too long", pe.Msg)
	// A bare mailbox may take the 254 octets that a path leaves inside its brackets.
	m, err := ParseMailbox("a@"+domainOf(252), strict)
	require.NoError(t, err)
	assert.Len(t, m.Domain, 252)
	_, err = ParseMailbox("ab@"+domainOf(252), strict)
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "address too long", pe.Msg)
	// Domain limit on its own, via a source route.
	_, _, err = ParseMail([]byte("FROM:<@"+domainOf(256)+":a@b>"), strict)
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "domain too long", pe.Msg)
	_, _, err = ParseMail([]byte("FROM:<"+strings.Repeat("l", 65)+"@b>"), strict)
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "local part too long", pe.Msg)
	_, _, err = ParseMail([]byte(`FROM:<"`+strings.Repeat("l", 62)+`"@b>`), strict)
	require.NoError(t, err, "64 octets with the quotes")
}

func TestParseMailbox(t *testing.T) {
	p, err := ParseMailbox(`"a b"@example.org`, strict)
	require.NoError(t, err)
	assert.Equal(t, Path{Local: "a b", Domain: "example.org"}, p)
	for _, bad := range []string{"", "a", "a@", "<a@b>", "a@b ", "a@b\r\n", "a@b>"} {
		_, err := ParseMailbox(bad, strict)
		var pe *ParseError
		require.ErrorAs(t, err, &pe, bad)
		assert.Equal(t, 553, pe.Code)
	}
}

func TestPathString(t *testing.T) {
	tests := []struct {
		p    Path
		want string
	}{
		{Path{Null: true}, ""},
		{Path{Local: "Postmaster"}, "Postmaster"},
		{Path{Local: "a.b", Domain: "x.example"}, "a.b@x.example"},
		{Path{Local: "a b", Domain: "x"}, `"a b"@x`},
		{Path{Local: `a"b\c`, Domain: "x"}, `"a\"b\\c"@x`},
		{Path{Local: "", Domain: "x"}, `""@x`},
		{Path{Local: ".a", Domain: "x"}, `".a"@x`},
		{Path{Local: "a..b", Domain: "x"}, `"a..b"@x`},
		{Path{Local: "jösé", Domain: "x"}, "jösé@x"},
		{Path{Local: "a", Domain: "[192.0.2.1]"}, "a@[192.0.2.1]"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.p.String())
		if tt.p.Domain != "" {
			back, err := ParseMailbox(tt.want, utf8opt)
			require.NoError(t, err, tt.want)
			assert.Equal(t, tt.p, back)
		}
	}
}

func TestParseMailAllocs(t *testing.T) {
	args := []byte("FROM:<a@b.example> SIZE=1000")
	allocs := testing.AllocsPerRun(100, func() {
		_, _, _ = ParseMail(args, strict)
	})
	assert.LessOrEqual(t, allocs, 2.0, "one copy of the arguments and the Params slice")
}

func BenchmarkParseMail(b *testing.B) {
	args := []byte("FROM:<a@b.example> SIZE=1000")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseMail(args, strict); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseMail(f *testing.F) {
	for _, s := range []string{
		"FROM:<>", "FROM:<a@b> SIZE=1 BODY=8BITMIME", `FROM:<"a\"b"@[IPv6:::1]>`,
		"FROM:<@r1,@r2:a@[192.0.2.1]>", "FROM: a@b", "FROM:<jö@bü.example> SMTPUTF8",
		"TO:<Postmaster>", "TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@c",
		"FROM:<a@[x:y]>", "FROM:<a@b> KEY= ", `FROM:<"é SMTPUTF8"@example.org>`,
	} {
		f.Add([]byte(s), false, false)
		f.Add([]byte(s), true, true)
	}
	f.Fuzz(func(t *testing.T, args []byte, smtputf8, lenient bool) {
		opt := ParseOptions{SMTPUTF8: smtputf8, Lenient: lenient}
		for k, parse := range []func([]byte, ParseOptions) (Path, Params, error){ParseMail, ParseRcpt} {
			p, params, err := parse(args, opt)
			if err != nil {
				var pe *ParseError
				require.ErrorAs(t, err, &pe)
				require.Contains(t, []int{501, 553}, pe.Code)
				continue
			}
			if k == 0 && !isASCII(string(args)) {
				// Non-ASCII on MAIL only where offered and asked for (RFC 6531 section 3.4).
				_, asked := params.Get("SMTPUTF8")
				require.True(t, smtputf8 && asked, "%q", args)
			}
			require.Equal(t, -1, indexControl(p.Local))
			require.Equal(t, -1, indexControl(p.Domain))
			require.LessOrEqual(t, len(p.Domain), MaxDomain)
			for _, prm := range params {
				require.NotEmpty(t, prm.Keyword)
				require.Equal(t, strings.ToUpper(prm.Keyword), prm.Keyword)
				require.Equal(t, prm.HasValue, prm.Value != "")
			}
			if p.Null || p.Domain == "" {
				continue
			}
			// A parsed mailbox prints as a mailbox that parses back the same.
			back, err := ParseMailbox(p.String(), ParseOptions{SMTPUTF8: true})
			require.NoError(t, err, p.String())
			require.Equal(t, p.Local, back.Local)
		}
	})
}

// A domain written with U-labels keeps its written form in UDomain, and
// Sent gives the mailbox as written while String gives its A-label form.
func TestPathKeepsUDomain(t *testing.T) {
	utf8opt := ParseOptions{SMTPUTF8: true}
	for _, tt := range []struct {
		args, sent, alabels string
	}{
		{"TO:<bob@bücher.example>", "bob@bücher.example", "bob@xn--bcher-kva.example"},
		{"TO:<bob@BÜCHER.example>", "bob@BÜCHER.example", "bob@xn--bcher-kva.example"},
		{"TO:<bob@xn--bcher-kva.example>", "bob@xn--bcher-kva.example", "bob@xn--bcher-kva.example"},
		{"TO:<bob@Example.ORG>", "bob@Example.ORG", "bob@Example.ORG"},
	} {
		p, _, err := ParseRcpt([]byte(tt.args), utf8opt)
		require.NoError(t, err, tt.args)
		assert.Equal(t, tt.sent, p.Sent(), tt.args)
		assert.Equal(t, tt.alabels, p.String(), tt.args)
	}
	m, err := ParseMailbox("bob@bücher.example", utf8opt)
	require.NoError(t, err)
	assert.Equal(t, "bücher.example", m.UDomain)
}
