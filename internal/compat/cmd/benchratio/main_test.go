package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseBothShapes(t *testing.T) {
	in := `goos: linux
BenchmarkServerPipelined/impl=postwire-2   100  1000 ns/op  10 B/op  1 allocs/op
BenchmarkServerPipelined/impl=postwire-2   100  3000 ns/op  10 B/op  1 allocs/op
BenchmarkServerPipelined/impl=postwire-2   100  2000 ns/op  10 B/op  1 allocs/op
BenchmarkServerPipelined/impl=gosmtp-2     100  5000 ns/op  10 B/op  1 allocs/op
BenchmarkServerPipelinedCPU-2  2000  90000 ns/op  13.0 floor-cpu-µs/op  33.0 gosmtp-cpu-µs/op  15.0 postwire-cpu-µs/op
BenchmarkServerPipelinedCPU-2  2000  90000 ns/op  13.5 floor-cpu-µs/op  35.0 gosmtp-cpu-µs/op  16.0 postwire-cpu-µs/op
BenchmarkClient/sink=gosmtp/impl=postwire-many-2  1  7 ns/op  3 msgs/s
PASS
`
	runs, order := parse(strings.NewReader(in))
	require.Equal(t, []string{"ServerPipelined", "ServerPipelinedCPU", "Client/sink=gosmtp"}, order)
	require.Equal(t, 2000.0, median(runs["ServerPipelined"]["postwire"]["ns/op"]))
	require.Equal(t, []float64{5000}, runs["ServerPipelined"]["gosmtp"]["ns/op"])
	require.Equal(t, []float64{15, 16}, runs["ServerPipelinedCPU"]["postwire"]["cpu-µs/op"])
	require.Equal(t, 34.0, median(runs["ServerPipelinedCPU"]["gosmtp"]["cpu-µs/op"]))
	require.Equal(t, []float64{13, 13.5}, runs["ServerPipelinedCPU"]["floor"]["cpu-µs/op"])
	require.Empty(t, runs["ServerPipelinedCPU"]["postwire"]["ns/op"], "a paired benchmark's ns/op is no one's")
	require.Equal(t, []float64{7}, runs["Client/sink=gosmtp"]["postwire-many"]["ns/op"])
}

func TestRowTargetVerdict(t *testing.T) {
	met := row("ServerPipelined", "ns/op", "postwire", "gosmtp", 1000, 5000)
	require.Contains(t, met, "5.00x")
	require.True(t, strings.HasSuffix(met, ">= 2.2 met"), met)

	missed := row("ServerLargeBody", "ns/op", "postwire", "gosmtp", 1000, 1500)
	require.True(t, strings.HasSuffix(missed, ">= 2 MISSED by 25%"), missed)

	noTarget := row("ServerPipelinedCPU/conns=1", "cpu-µs/op", "postwire", "floor", 15, 13)
	require.True(t, strings.HasSuffix(noTarget, "0.87x  "), noTarget)

	zero := row("ServerPipelinedCPU/conns=1", "cpu-µs/op", "postwire", "gosmtp", 0, 0)
	require.True(t, strings.HasSuffix(zero, "-  (too short a run to measure)"), zero)
}
