#!/usr/bin/env bash
# Runs Postwire's side-by-side benchmarks (internal/compat) against go-smtp
# and net/textproto in one run, then prints benchstat's table (impl= as the
# columns) and the median ratio other/ours for each benchmark with its
# target (the ratios of the Figures table in internal/compat/README.md).
#
# BenchmarkServerPipelinedCPU reads the servers' CPU time from /proc in
# 10 ms ticks, so it runs on its own with a longer -benchtime (CPU_BENCHTIME,
# default 3s); the others run with go test's default or what the extra
# flags say.
#
# usage: internal/compat/bench.sh [extra go test flags]
#   COUNT (default 6), BENCH (default: all compat benchmarks),
#   CPU_BENCHTIME (default 3s) and OUT (the raw output file) may be set.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin"
count=${COUNT:-6}
bench=${BENCH:-'^Benchmark(DataDecoder|Server|Client)'}
cpubench='^BenchmarkServerPipelinedCPU$'
cputime=${CPU_BENCHTIME:-3s}
out=${OUT:-$(mktemp /tmp/postwire-bench.XXXXXX)}

echo "== go test -bench '$bench' -skip '$cpubench' -count=$count -benchmem (raw output: $out)"
go test -run='^$' -bench="$bench" -skip="$cpubench" -count="$count" -benchmem -timeout=60m "$@" . | tee "$out"
if [[ BenchmarkServerPipelinedCPU =~ $bench ]]; then
	echo "== go test -bench '$cpubench' -benchtime=$cputime -count=$count"
	go test -run='^$' -bench="$cpubench" -benchtime="$cputime" -count="$count" -timeout=60m "$@" . | tee -a "$out"
fi

echo
echo "== benchstat -col /impl"
benchstat=(go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da)
if command -v benchstat >/dev/null; then benchstat=(benchstat); fi
"${benchstat[@]}" -col /impl "$out" || echo "(benchstat unavailable; ratios below)"

echo
echo "== median ratios, other/ours (higher is better for Postwire)"
go run ./cmd/benchratio < "$out"
