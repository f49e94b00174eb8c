package smtp

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestErrorText(t *testing.T) {
	for _, tt := range []struct {
		e    Error
		want string
	}{
		{Error{Code: 550, Enhanced: EnhancedCode{5, 1, 1}, Message: "no such user"}, "550 5.1.1 no such user"},
		{Error{Code: 451, Enhanced: EnhancedCode{4, 3, 0}}, "451 4.3.0"},
		{Error{Code: 421, Message: "bye"}, "421 bye"},
		{Error{Code: 554, Enhanced: EnhancedCode{5, 100, 999}, Message: "x"}, "554 5.100.999 x"},
	} {
		assert.Equal(t, tt.want, tt.e.Error())
	}
}
