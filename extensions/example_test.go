package extensions_test

import (
	"fmt"

	"github.com/postwire/postwire/extensions"
)

func ExampleParse() {
	reply := []string{
		"mail.example.com",
		"PIPELINING",
		"SIZE 10240000",
		"AUTH PLAIN LOGIN",
		"DSN",
	}
	s, err := extensions.Parse(reply[1:])
	if err != nil {
		panic(err)
	}
	size, _ := s.MaxSize()
	fmt.Println(size, s.AuthMechanisms(), s.Has("pipelining"))
	fmt.Println(s.MailParamAllowed("RET"), s.RcptParamAllowed("NOTIFY"), s.MailParamAllowed("SMTPUTF8"))
	fmt.Println(s.CommandLineLimits())
	// Output:
	// 10240000 [PLAIN LOGIN] true
	// true true false
	// 1148 1042
}

func ExampleSet_Add() {
	var s extensions.Set
	s.Add(extensions.Pipelining, "")
	s.Add(extensions.Size, "35882577")
	s.Add(extensions.Limits, extensions.FormatLimits(extensions.LimitsInfo{RcptMax: 100}))
	for _, line := range s.Lines() {
		fmt.Println("250-" + line)
	}
	// Output:
	// 250-PIPELINING
	// 250-SIZE 35882577
	// 250-LIMITS RCPTMAX=100
}
