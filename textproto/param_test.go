package textproto

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseParams(t *testing.T) {
	tests := []struct {
		args string
		opt  ParseOptions
		want Params
	}{
		{"FROM:<a@b> SIZE=1000", strict, Params{{"SIZE", "1000", true}}},
		{"FROM:<a@b> size=1000 body=8bitmime", strict, Params{{"SIZE", "1000", true}, {"BODY", "8bitmime", true}}},
		{"FROM:<a@b> SMTPUTF8", strict, Params{{"SMTPUTF8", "", false}}},
		{"FROM:<a@b> smtputf8 REQUIRETLS", strict, Params{{"SMTPUTF8", "", false}, {"REQUIRETLS", "", false}}},
		{"FROM:<> RET=HDRS ENVID=QQ314159", strict, Params{{"RET", "HDRS", true}, {"ENVID", "QQ314159", true}}},
		{"FROM:<a@b> mt-priority=-4", strict, Params{{"MT-PRIORITY", "-4", true}}},
		{"FROM:<a@b> X-Custom-1=a+b~c", strict, Params{{"X-CUSTOM-1", "a+b~c", true}}},
		{"FROM:<a@b> x-foo", strict, Params{{"X-FOO", "", false}}},
		{"FROM:<a@b> 8BIT=1", strict, Params{{"8BIT", "1", true}}},
		{"FROM:<a@b> AUTH=<>", strict, Params{{"AUTH", "<>", true}}},
		{"FROM:<a@b> V=!\"#$%&'()*+,-./0123456789:;<>?@[\\]^_`{|}~", strict, Params{{"V", "!\"#$%&'()*+,-./0123456789:;<>?@[\\]^_`{|}~", true}}},
		{"FROM:<a@b>  SIZE=1   BODY=7BIT", lenient, Params{{"SIZE", "1", true}, {"BODY", "7BIT", true}}},
		{"FROM:<a@b> ENVID=é SMTPUTF8", utf8opt, Params{{"ENVID", "é", true}, {"SMTPUTF8", "", false}}},
		{"TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@c", strict, Params{{"NOTIFY", "SUCCESS,FAILURE", true}, {"ORCPT", "rfc822;a+2Bb@c", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			parse := ParseMail
			if tt.args[0] == 'T' {
				parse = ParseRcpt
			}
			_, params, err := parse([]byte(tt.args), tt.opt)
			require.NoError(t, err)
			assert.Equal(t, tt.want, params)
		})
	}
}

func TestParseParamsErrors(t *testing.T) {
	for _, tt := range []struct {
		args string
		opt  ParseOptions
	}{
		{"FROM:<a@b> ", strict},
		{"FROM:<a@b>  SIZE=1", strict},
		{"FROM:<a@b> SIZE=1 ", strict},
		{"FROM:<a@b> SIZE=", strict},
		{"FROM:<a@b> =1", strict},
		{"FROM:<a@b> -X=1", strict},
		{"FROM:<a@b> SI_ZE=1", strict},
		{"FROM:<a@b> SIZE=1=2", strict},
		{"FROM:<a@b> SIZE==", strict},
		{"FROM:<a@b> SIZE=1 size=2", strict},
		{"FROM:<a@b> SMTPUTF8 SMTPUTF8", strict},
		{"FROM:<a@b> ENVID=é", strict},
		{"FROM:<a@b> ENVID=\xff", utf8opt},
		{"FROM:<a@b> ENVID=\xc2\x9b", utf8opt},
		{"FROM:<a@b> ENVID=a\x00", strict},
		{"FROM:<a@b> KÉY=1", utf8opt},
	} {
		t.Run(tt.args, func(t *testing.T) {
			_, _, err := ParseMail([]byte(tt.args), tt.opt)
			var pe *ParseError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, 501, pe.Code, pe.Msg)
			assert.Equal(t, EnhancedCode{5, 5, 4}, pe.Enhanced)
			assert.Equal(t, -1, indexControl(pe.Msg))
		})
	}
}

func TestParamsGet(t *testing.T) {
	ps := Params{{"SIZE", "10", true}, {"SMTPUTF8", "", false}}
	v, ok := ps.Get("size")
	assert.True(t, ok)
	assert.Equal(t, "10", v)
	v, ok = ps.Get("SmtpUtf8")
	assert.True(t, ok)
	assert.Empty(t, v)
	_, ok = ps.Get("BODY")
	assert.False(t, ok)
	_, ok = Params(nil).Get("SIZE")
	assert.False(t, ok)
}

func TestParameterErrors(t *testing.T) {
	e := ErrUnknownParameter("X-FOO")
	assert.Equal(t, 555, e.Code)
	assert.Equal(t, EnhancedCode{5, 5, 4}, e.Enhanced)
	assert.Contains(t, e.Msg, "X-FOO")
	e = ErrBadParameterValue("SIZE")
	assert.Equal(t, 501, e.Code)
	assert.Equal(t, EnhancedCode{5, 5, 4}, e.Enhanced)
	e = ErrUnknownParameter("A\r\nB" + string(make([]byte, 100)))
	assert.Equal(t, -1, indexControl(e.Msg))
	assert.Less(t, len(e.Msg), 80)
	r := e.Reply()
	assert.Equal(t, 555, r.Code)
	assert.Equal(t, []string{e.Msg}, r.Lines)
}
