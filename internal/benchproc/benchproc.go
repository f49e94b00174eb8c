// Package benchproc runs a benchmark's server in a process of its own (the
// test binary run again, with one test selected) and reads a process's CPU
// time from /proc, so that a CPU benchmark counts that server's work alone:
// not the client's, not the rest of the machine's. It serves the CPU
// benchmarks of smtp and internal/compat and is nobody's API.
//
// The child's side is Serve, called from a test that does nothing unless
// its environment says so; the parent's side is Start. The two speak by the
// child's standard streams: the child prints the address it serves on, and
// ends when its standard input closes.
package benchproc

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Child is a helper process that Start began.
type Child struct {
	Addr string // the address the child printed (Serve)
	PID  int
}

// Start runs this test binary again with only the test named test
// (-test.run=^test$), env added to its environment, and returns the
// address the child printed. The child is ended (its standard input
// closed, then waited for) when tb ends.
func Start(tb testing.TB, test string, env ...string) Child {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("reading the address of %s: %v", test, err)
	}
	return Child{Addr: strings.TrimSpace(addr), PID: cmd.Process.Pid}
}

// Serve is the child's side: it prints addr for Start, serves (the
// caller's goroutines do) until standard input closes, and ends the
// process with status 0. With profile set it writes its CPU profile
// there meanwhile. It returns only the error of starting the profile.
func Serve(addr, profile string) error {
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	fmt.Println(addr)
	io.Copy(io.Discard, os.Stdin) // until the parent closes it
	pprof.StopCPUProfile()
	os.Exit(0)
	return nil
}

// CPU returns the CPU time (user+system) process pid has used, from
// fields 14 and 15 of /proc/<pid>/stat (proc(5)), which count clock ticks
// of 10 ms: a benchmark reading it wants -benchtime=3s or more.
func CPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		tb.Fatal(err)
	}
	// Field 2, the command name, is in parentheses and may hold spaces;
	// the fields after it begin with field 3.
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		tb.Fatalf("/proc/%d/stat has too few fields: %q", pid, s)
	}
	utime, err := strconv.ParseInt(fields[11], 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	stime, err := strconv.ParseInt(fields[12], 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
