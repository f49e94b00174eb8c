package textproto

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/postwire/postwire/internal/ascii"
)

// paramCodec is one keyword's pair of functions, typed loosely so that one
// fuzz target can drive them all.
type paramCodec struct {
	kw     string
	rcpt   bool // a RCPT parameter (else MAIL)
	parse  func(v string) (any, error)
	append func(dst []byte, x any) ([]byte, error)
	// client builds a value a client might ask to send from fuzz input;
	// canonical is what that value reads back as, when AppendXxx takes it.
	client    func(s string, n int64) any
	canonical func(x any) any
}

type orcpt struct {
	Type DSNAddressType
	Addr string
}

func same(x any) any { return x }

func pick[T any](n int64, vs ...T) T { return vs[uint64(n)%uint64(len(vs))] }

var paramCodecs = []paramCodec{
	{kw: "SIZE",
		parse:  func(v string) (any, error) { return ParseSize(v) },
		append: func(d []byte, x any) ([]byte, error) { return AppendSize(d, x.(int64)) },
		client: func(_ string, n int64) any { return n }, canonical: same},
	{kw: "BODY",
		parse:  func(v string) (any, error) { return ParseBody(v) },
		append: func(d []byte, x any) ([]byte, error) { return AppendBody(d, x.(BodyType)) },
		client: func(s string, n int64) any {
			return pick(n, Body7Bit, Body8BitMIME, BodyBinaryMIME, BodyType(s))
		}, canonical: same},
	{kw: "SMTPUTF8",
		parse:  func(v string) (any, error) { return struct{}{}, ParseFlag("SMTPUTF8", v) },
		append: func(d []byte, _ any) ([]byte, error) { return AppendFlag(d, "SMTPUTF8"), nil },
		client: func(string, int64) any { return struct{}{} }, canonical: same},
	{kw: "REQUIRETLS",
		parse:  func(v string) (any, error) { return struct{}{}, ParseFlag("REQUIRETLS", v) },
		append: func(d []byte, _ any) ([]byte, error) { return AppendFlag(d, "REQUIRETLS"), nil },
		client: func(string, int64) any { return struct{}{} }, canonical: same},
	{kw: "RET",
		parse:  func(v string) (any, error) { return ParseRet(v) },
		append: func(d []byte, x any) ([]byte, error) { return AppendRet(d, x.(DSNReturn)) },
		client: func(s string, n int64) any {
			return pick(n, DSNReturnFull, DSNReturnHeaders, DSNReturn(s))
		}, canonical: same},
	{kw: "ENVID",
		parse:  func(v string) (any, error) { return ParseEnvID(v) },
		append: func(d []byte, x any) ([]byte, error) { return AppendEnvID(d, x.(string)) },
		client: func(s string, _ int64) any { return s }, canonical: same},
	{kw: "AUTH",
		parse:  func(v string) (any, error) { return ParseMailAuth(v) },
		append: func(d []byte, x any) ([]byte, error) { return AppendMailAuth(d, x.(string)) },
		client: func(s string, _ int64) any { return s }, canonical: same},
	{kw: "MT-PRIORITY",
		parse:  func(v string) (any, error) { return ParseMTPriority(v) },
		append: func(d []byte, x any) ([]byte, error) { return AppendMTPriority(d, x.(int)) },
		client: func(_ string, n int64) any { return int(n % 16) }, canonical: same},
	{kw: "BY",
		parse:  func(v string) (any, error) { return ParseDeliverBy(v) },
		append: func(d []byte, x any) ([]byte, error) { return AppendDeliverBy(d, x.(DeliverBy)) },
		client: func(s string, n int64) any {
			return DeliverBy{Time: time.Duration(n), Mode: pick(n>>1, DeliverByNotify, DeliverByReturn, DeliverByMode(s)), Trace: n&1 == 1}
		},
		// The wire carries whole seconds.
		canonical: func(x any) any { by := x.(DeliverBy); by.Time = by.Time.Truncate(time.Second); return by }},
	{kw: "NOTIFY", rcpt: true,
		parse:  func(v string) (any, error) { return ParseNotify(nil, v) },
		append: func(d []byte, x any) ([]byte, error) { return AppendNotify(d, x.([]DSNNotify)) },
		client: func(s string, _ int64) any {
			var ns []DSNNotify
			for v := range strings.SplitSeq(s, ",") {
				ns = append(ns, DSNNotify(v))
			}
			return ns
		}, canonical: same},
	{kw: "ORCPT", rcpt: true,
		parse: func(v string) (any, error) {
			typ, addr, err := ParseORCPT(v)
			return orcpt{typ, addr}, err
		},
		append: func(d []byte, x any) ([]byte, error) { o := x.(orcpt); return AppendORCPT(d, o.Type, o.Addr) },
		client: func(s string, n int64) any {
			return orcpt{pick(n, DSNAddressTypeRFC822, DSNAddressTypeUTF8, "rfc822", "utf-8", DSNAddressType(s)), s}
		},
		canonical: func(x any) any {
			o := x.(orcpt)
			if ascii.EqualFold(string(o.Type), string(DSNAddressTypeUTF8)) {
				o.Type = DSNAddressTypeUTF8
			} else {
				o.Type = DSNAddressTypeRFC822
			}
			return o
		}},
}

// wireValue returns the value of the one parameter appended after a path,
// as a server's ParseMail or ParseRcpt finds it.
func wireValue(t *testing.T, c paramCodec, appended []byte) string {
	t.Helper()
	parse, prefix := ParseMail, "FROM:<>"
	if c.rcpt {
		parse, prefix = ParseRcpt, "TO:<a@b>"
	}
	_, params, err := parse([]byte(prefix+string(appended)), strict)
	require.NoError(t, err, "%s: appended %q does not parse as a parameter", c.kw, appended)
	require.Len(t, params, 1, "%q", appended)
	require.Equal(t, c.kw, params[0].Keyword)
	return params[0].Value
}

// sentValue reports whether v can reach the codec from the wire as the
// value of c's keyword, and the value the parser gives ("" for none).
func sentValue(c paramCodec, v string) (string, bool) {
	line := c.kw
	if v != "" {
		line += "=" + v
	}
	parse, prefix := ParseMail, "FROM:<> SMTPUTF8 "
	if c.rcpt {
		parse, prefix = ParseRcpt, "TO:<a@b> "
	} else if c.kw == "SMTPUTF8" {
		prefix = "FROM:<> "
	}
	_, params, err := parse([]byte(prefix+line), ParseOptions{SMTPUTF8: true})
	if err != nil {
		return "", false
	}
	got, ok := params.Get(c.kw)
	return got, ok && got == v
}

// FuzzParamRoundTrip drives the MAIL and RCPT parameter codec from both
// ends, for every keyword:
//
//   - a value a server accepts (as ParseMail or ParseRcpt hands it over)
//     is one a client could have sent: AppendXxx takes what ParseXxx
//     returned, and the server reads that back as the same value;
//   - a value AppendXxx takes reads back, through ParseMail or ParseRcpt
//     and ParseXxx, as the value the client meant.
func FuzzParamRoundTrip(f *testing.F) {
	for _, s := range []string{
		"", "1000", "8bitmime", "hdrs", "QQ+2Bx", "e+3Dmc2@example.org", "<>", "-4", "+3",
		"120;rt", "-10;N", "SUCCESS,DELAY", "NEVER", "rfc822;b+2Bx@example.org",
		`utf-8;\x{3B4}@example.org`, "99999999999999999999", "δοκιμή@example.org", `"a b"@x`,
	} {
		f.Add(s, int64(0))
		f.Add(s, int64(len(s)*7919))
	}
	f.Fuzz(func(t *testing.T, s string, n int64) {
		for _, c := range paramCodecs {
			// Server side first: what it accepts, a client can send.
			if v, ok := sentValue(c, s); ok {
				if x, err := c.parse(v); err == nil {
					b, err := c.append(nil, x)
					require.NoError(t, err, "%s: %q parsed as %#v, which cannot be sent", c.kw, v, x)
					back, err := c.parse(wireValue(t, c, b))
					require.NoError(t, err, "%s: %q", c.kw, b)
					require.Equal(t, x, back, "%s: %q -> %#v -> %q", c.kw, v, x, b)
				} else {
					var pe *ParseError
					require.ErrorAs(t, err, &pe)
					require.Equal(t, 501, pe.Code)
				}
			}

			// Client side: what it sends, the server reads as meant.
			x := c.client(s, n)
			b, err := c.append([]byte("x"), x)
			if err != nil {
				require.Equal(t, "x", string(b), "%s: dst changed on error", c.kw)
				continue
			}
			back, err := c.parse(wireValue(t, c, b[1:]))
			require.NoError(t, err, "%s: %#v appended as %q", c.kw, x, b)
			require.Equal(t, c.canonical(x), back, "%s: %q", c.kw, b)
		}
	})
}
