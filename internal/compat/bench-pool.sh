#!/usr/bin/env bash
# The pool benchmark's full run: 10,000 messages of 1 KiB from 50
# goroutines into the same server, through Postwire's Pool, nodemailer's
# pooled transport and go-smtp with one client per goroutine, plain (into
# Postfix's smtp-sink) and with STARTTLS (into examples/server -discard),
# five runs; prints the medians of messages a second and of the client's
# CPU per message (TestPoolBenchmark in bench_pool_test.go). Needs root
# for smtp-sink, and nodemailer from install-peers.sh.
#
# usage: internal/compat/bench-pool.sh
#   POOL_BENCH_MESSAGES (default 10000) and POOL_BENCH_RUNS (default 5) may be set.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin"
export POOL_BENCH_MESSAGES=${POOL_BENCH_MESSAGES:-10000}
export POOL_BENCH_RUNS=${POOL_BENCH_RUNS:-5}
go test -count=1 -run='^TestPoolBenchmark$' -v -timeout=60m . | sed -n '/messages of/,/^ *$/p; /^ok/p; /FAIL/p'
