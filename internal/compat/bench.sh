#!/usr/bin/env bash
# Runs Postwire's side-by-side benchmarks (internal/compat) against go-smtp
# and net/textproto in one run, then prints benchstat's table (impl= as the
# columns) and the median ratio other/ours for each benchmark with its
# target from issue 6.
#
# usage: internal/compat/bench.sh [-count N] [extra go test flags]
#   COUNT (default 6) and BENCH (default: all compat benchmarks) may be set.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin"
count=${COUNT:-6}
bench=${BENCH:-'^Benchmark(DataDecoder|Server|Client)'}
out=${OUT:-$(mktemp /tmp/postwire-bench.XXXXXX)}

echo "== go test -bench '$bench' -count=$count -benchmem (raw output: $out)"
go test -run='^$' -bench="$bench" -count="$count" -benchmem -timeout=60m "$@" . | tee "$out"

echo
echo "== benchstat -col /impl"
benchstat=(go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da)
if command -v benchstat >/dev/null; then benchstat=(benchstat); fi
"${benchstat[@]}" -col /impl "$out" || echo "(benchstat unavailable; ratios below)"

echo
echo "== median ratios, other/ours (higher is better for Postwire)"
go run ./cmd/benchratio < "$out"
