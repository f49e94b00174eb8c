package sasl

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPrecisProfiles(t *testing.T) {
	tests := []struct {
		name           string
		in             string
		casePreserved  string
		caseMapped     string
		usernameRefuse bool
	}{
		{"ascii", "Tim", "Tim", "tim", false},
		{"full-width mapped", "Ｔｉｍ", "Tim", "tim", false},
		{"NFC", "Jue\u0301rgen", "Juérgen", "juérgen", false},
		{"email", "Tim@Example.COM", "Tim@Example.COM", "tim@example.com", false},
		{"space", "two words", "", "", true},
		{"empty", "", "", "", true},
		{"control", "a\u0007b", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			preserved, err1 := PrepareUsername(tt.in)
			mapped, err2 := PrepareUsernameCaseMapped(tt.in)
			if tt.usernameRefuse {
				assert.ErrorIs(t, err1, ErrMalformed)
				assert.ErrorIs(t, err2, ErrMalformed)
				return
			}
			assert.NoError(t, err1)
			assert.NoError(t, err2)
			assert.Equal(t, tt.casePreserved, preserved)
			assert.Equal(t, tt.caseMapped, mapped)
		})
	}
}

func TestPreparePassword(t *testing.T) {
	for in, want := range map[string]string{
		"pencil":         "pencil",
		"Correct Horse":  "Correct Horse",
		"pass\u00a0word": "pass word", // non-ASCII space to U+0020
		"Jue\u0301rgen":  "Juérgen",   // NFC
		"ＴＥＳＴ":           "ＴＥＳＴ",      // width is not mapped in OpaqueString
	} {
		got, err := PreparePassword(in)
		assert.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "a\x00b", "tab\there"} {
		_, err := PreparePassword(bad)
		assert.ErrorIs(t, err, ErrMalformed, "%q", bad)
		if err != nil && bad != "" {
			assert.NotContains(t, err.Error(), bad)
		}
	}
}
