package sasl

import (
	"crypto/sha256"
	"testing"
)

func BenchmarkPlainServer(b *testing.B) {
	msg := []byte("\x00tim\x00tanstaaftanstaaf")
	check := func(_, _, _ string) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, done, err := NewPlainServer(check).Next(msg); !done || err != nil {
			b.Fatal(done, err)
		}
	}
}

// BenchmarkScramSHA256Exchange is one whole exchange at 4096 iterations:
// the client's PBKDF2 dominates; the server only computes HMACs.
func BenchmarkScramSHA256Exchange(b *testing.B) {
	creds, err := NewScramCredentials(sha256.New, "pencil", []byte("saltsaltsaltsalt"), 4096)
	if err != nil {
		b.Fatal(err)
	}
	lookup := func(string) (ScramCredentials, error) { return creds, nil }
	b.ReportAllocs()
	for b.Loop() {
		c, s := NewScramSHA256Client("user", "pencil", ""), NewScramSHA256Server(lookup)
		_, resp, _ := c.Start()
		for {
			chal, done, err := s.Next(resp)
			if err != nil {
				b.Fatal(err)
			}
			if done {
				break
			}
			if resp, err = c.Next(chal); err != nil {
				b.Fatal(err)
			}
		}
	}
}
