package textproto

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseNotify(t *testing.T) {
	for _, tt := range []struct {
		v    string
		want []DSNNotify
	}{
		{"NEVER", []DSNNotify{DSNNotifyNever}},
		{"never", []DSNNotify{DSNNotifyNever}},
		{"SUCCESS", []DSNNotify{DSNNotifySuccess}},
		{"SUCCESS,FAILURE", []DSNNotify{DSNNotifySuccess, DSNNotifyFailure}},
		{"delay,Success,FAILURE", []DSNNotify{DSNNotifyDelayed, DSNNotifySuccess, DSNNotifyFailure}},
	} {
		got, err := ParseNotify(nil, tt.v)
		require.NoError(t, err, tt.v)
		assert.Equal(t, tt.want, got, tt.v)
	}
	for _, v := range []string{
		"", ",", "SUCCESS,", ",SUCCESS", "SUCCESS,,FAILURE", "ALWAYS", "SUCCESS,SUCCESS",
		"NEVER,FAILURE", "FAILURE,NEVER", "NEVER,NEVER", "SUCCESS FAILURE", "DELAYED",
	} {
		got, err := ParseNotify(nil, v)
		requireBadValue(t, err, "NOTIFY")
		assert.Empty(t, got, v)
	}
}

func TestParseNotifyAppends(t *testing.T) {
	var buf [4]DSNNotify
	dst := append(buf[:0], DSNNotifyNever) // something before: kept, and not compared with
	got, err := ParseNotify(dst, "SUCCESS,DELAY")
	require.NoError(t, err)
	assert.Equal(t, []DSNNotify{DSNNotifyNever, DSNNotifySuccess, DSNNotifyDelayed}, got)
	got, err = ParseNotify(got, "FAILURE,FAILURE")
	require.Error(t, err)
	assert.Len(t, got, 3, "dst comes back as it was")

	allocs := testing.AllocsPerRun(100, func() {
		_, _ = ParseNotify(buf[:0], "SUCCESS,FAILURE,DELAY")
	})
	assert.Zero(t, allocs, "a buffer of 4 holds every legal list")
}

func TestAppendNotify(t *testing.T) {
	b, err := AppendNotify(nil, []DSNNotify{DSNNotifySuccess, DSNNotifyDelayed})
	require.NoError(t, err)
	assert.Equal(t, " NOTIFY=SUCCESS,DELAY", string(b))
	b, err = AppendNotify(nil, []DSNNotify{DSNNotifyNever})
	require.NoError(t, err)
	assert.Equal(t, " NOTIFY=NEVER", string(b))
	for _, bad := range [][]DSNNotify{
		nil,
		{DSNNotifyNever, DSNNotifyFailure},
		{DSNNotifyFailure, DSNNotifyNever},
		{DSNNotifyFailure, DSNNotifyFailure},
		{"ALWAYS"},
		{"success"},
	} {
		b, err := AppendNotify([]byte("x"), bad)
		require.Error(t, err, "%v", bad)
		assert.Equal(t, "x", string(b))
	}
}

func TestParseORCPT(t *testing.T) {
	for _, tt := range []struct {
		v    string
		typ  DSNAddressType
		addr string
	}{
		{"rfc822;b+2Bx@example.org", DSNAddressTypeRFC822, "b+x@example.org"},
		{"RFC822;b@example.org", DSNAddressTypeRFC822, "b@example.org"},
		{"rfc822;not+20an+20address", DSNAddressTypeRFC822, "not an address"}, // not held to the type's syntax (RFC 3461 section 4.2)
		{"utf-8;\\x{3B4}@example.org", DSNAddressTypeUTF8, "δ@example.org"},
		{"UTF-8;a\\x{20}b@x", DSNAddressTypeUTF8, "a b@x"},
	} {
		typ, addr, err := ParseORCPT(tt.v)
		require.NoError(t, err, tt.v)
		assert.Equal(t, tt.typ, typ, tt.v)
		assert.Equal(t, tt.addr, addr, tt.v)
	}
	for _, v := range []string{
		"", "b@example.org", ";b@example.org", "x400;foo", "rfc822;", "utf-8;",
		"rfc822;b+zz", "rfc822;+C3+A9@example.org", // non-ASCII in an rfc822 address (RFC 3461 section 4.2)
		"rfc822;a+0Db", "utf-8;\\x{80}@x", "utf-8;δ@example.org", "utf-8;a\\x{D800}",
	} {
		_, _, err := ParseORCPT(v)
		requireBadValue(t, err, "ORCPT")
	}
}

func TestAppendORCPT(t *testing.T) {
	b, err := AppendORCPT(nil, DSNAddressTypeRFC822, "b+x@example.org")
	require.NoError(t, err)
	assert.Equal(t, " ORCPT=rfc822;b+2Bx@example.org", string(b))
	b, err = AppendORCPT(nil, "rfc822", "b@example.org")
	require.NoError(t, err, "the type in any case")
	assert.Equal(t, " ORCPT=rfc822;b@example.org", string(b))
	b, err = AppendORCPT(nil, DSNAddressTypeUTF8, "δοκιμή@example.org")
	require.NoError(t, err)
	assert.Equal(t, ` ORCPT=utf-8;\x{3B4}\x{3BF}\x{3BA}\x{3B9}\x{3BC}\x{3AE}@example.org`, string(b))
	for _, tt := range []struct {
		typ  DSNAddressType
		addr string
	}{
		{DSNAddressTypeRFC822, ""},
		{DSNAddressTypeRFC822, "é@example.org"},
		{DSNAddressTypeRFC822, "b@x\r\nDATA"},
		{DSNAddressTypeUTF8, "b@x\r\nDATA"},
		{DSNAddressTypeUTF8, "a\u0085b@x"}, // C1 control: utf-8-addr-xtext cannot carry it
		{DSNAddressTypeUTF8, "a\xffb@x"},
		{"", "b@example.org"},
		{"x400", "b@example.org"},
	} {
		b, err := AppendORCPT([]byte("x"), tt.typ, tt.addr)
		require.Error(t, err, "%q %q", tt.typ, tt.addr)
		assert.Equal(t, "x", string(b))
	}
}

func TestParseORCPTAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		_, _, _ = ParseORCPT("rfc822;b@example.org")
	})
	assert.Zero(t, allocs)
}
