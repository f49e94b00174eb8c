package compat

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// selfCPU returns this process's CPU time (user+system, all threads), to
// the microsecond.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clientCPUBatch is how many messages a sender sends over one connection
// before the next sender has its turn.
const clientCPUBatch = 200

// BenchmarkClientCPU: the clients' own CPU per 1 KiB message over one
// connection, with the sink in a process of its own so that this process
// runs nothing but the client (BenchmarkClient's wall time also holds the
// sink's work and the round trips, which bound its ratio whatever the
// client does). An op is one message from each sender; the senders take
// turns in batches of clientCPUBatch messages over one connection each
// (dial, EHLO and QUIT included), so that noise from the rest of the
// machine falls on all of them alike. <impl>-cpu-µs/op is that sender's
// CPU time per message, from getrusage.
func BenchmarkClientCPU(b *testing.B) {
	for _, sink := range []string{"postwire", "gosmtp"} {
		b.Run("sink="+sink, func(b *testing.B) {
			addr := startSinkCmd(b, sink).Addr
			cpu := make([]time.Duration, len(senders))
			b.ResetTimer()
			for left := b.N; left > 0; left -= clientCPUBatch {
				n := min(left, clientCPUBatch)
				for i, s := range senders {
					before := selfCPU()
					if err := s.send(addr, n, benchMessage1K); err != nil {
						b.Fatal(s.impl, err)
					}
					cpu[i] += selfCPU() - before
				}
			}
			b.StopTimer()
			for i, s := range senders {
				b.ReportMetric(float64(cpu[i])/float64(b.N)/1e3, s.impl+"-cpu-µs/op")
			}
		})
	}
}

// TestSelfCPUAdvances checks that selfCPU measures this process's work.
func TestSelfCPUAdvances(t *testing.T) {
	before := selfCPU()
	x := 0
	for i := range 50_000_000 {
		x ^= i * i
	}
	require.Greater(t, selfCPU(), before, "no CPU time counted for a busy loop (%d)", x)
}
