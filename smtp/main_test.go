package smtp

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the package's tests when a goroutine running code of
// this package outlives them: a connection, a client's context watcher, a
// fake server, anything a Shutdown or Close should have ended.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if left := leftGoroutines(5 * time.Second); left != "" {
			fmt.Fprintf(os.Stderr, "goroutines of package smtp left behind after the tests:\n\n%s\n", left)
			code = 1
		}
	}
	os.Exit(code)
}

// leftGoroutines waits up to settle for every goroutine running code of
// package smtp, other than the caller's, to end, and returns the stacks
// of those left.
func leftGoroutines(settle time.Duration) string {
	deadline := time.Now().Add(settle)
	for {
		left := smtpGoroutines("")
		if left == "" || time.Now().After(deadline) {
			return left
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// smtpGoroutines returns the stacks of the goroutines with a frame of
// package smtp (of its non-test code when match is "", else containing
// match), leaving out the calling goroutine.
func smtpGoroutines(match string) string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var left []string
	for i, g := range strings.Split(string(buf), "\n\n") {
		if i == 0 {
			continue // the caller
		}
		if match != "" && strings.Contains(g, match) || match == "" && smtpCode(g) {
			left = append(left, g)
		}
	}
	return strings.Join(left, "\n\n")
}

// smtpCode reports whether a goroutine's stack runs a function of the
// package outside its test files.
func smtpCode(stack string) bool {
	// Each frame is a function line, then a tab and its file and line.
	for _, line := range strings.Split(stack, "\n") {
		if strings.HasPrefix(line, "\t") && strings.Contains(line, "/smtp/") && !strings.Contains(line, "_test.go:") {
			return true
		}
	}
	return false
}

// checkNoGoroutines fails t when goroutines whose stacks contain match
// (a function name such as "smtp.(*Conn).serve") are still running after
// a short settle.
func checkNoGoroutines(t testing.TB, match string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := smtpGoroutines(match)
		if left == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left running:\n\n%s", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
