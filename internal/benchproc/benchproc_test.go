package benchproc

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestChildProcess is not a test: TestStartServe runs the test binary with
// BENCHPROC_CHILD set to have a child that serves nothing and prints it.
func TestChildProcess(t *testing.T) {
	addr := os.Getenv("BENCHPROC_CHILD")
	if addr == "" {
		t.Skip("helper process for TestStartServe")
	}
	require.NoError(t, Serve(addr, ""))
}

// TestStartServe starts a child, reads what it printed, and reads its CPU
// time while it runs; the child must end when the test does, or the
// cleanup that waits for it hangs.
func TestStartServe(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	c := Start(t, "TestChildProcess", "BENCHPROC_CHILD=127.0.0.1:2525")
	require.Equal(t, "127.0.0.1:2525", c.Addr)
	require.NotEqual(t, os.Getpid(), c.PID)
	CPU(t, c.PID) // fails the test when the child's stat cannot be read
}

// TestCPUAdvances checks that CPU counts this process's work.
func TestCPUAdvances(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("needs /proc")
	}
	before := CPU(t, os.Getpid())
	x := 0
	for i := range 200_000_000 {
		x ^= i * i
	}
	require.Greater(t, CPU(t, os.Getpid()), before, "no CPU time counted for a busy loop (%d)", x)
}
