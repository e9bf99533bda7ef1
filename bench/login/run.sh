#!/usr/bin/env bash
# Login load-shedding benchmark: 200 concurrent wrong-password logins against a release
# `docuvault`, checking that Argon2 hashing is bounded and the server stays responsive.
#
#   bench/login/run.sh                  # 200 clients, 30 s
#   CONCURRENCY=100 DURATION=10 bench/login/run.sh
#   NO_BUILD=1 bench/login/run.sh       # reuse target/release/docuvault as it is
#
# What it does:
#   1. cargo build --release (skipped with NO_BUILD=1)
#   2. starts the release binary (no arguments = serve) on a free port with a temp data
#      dir, the embedded defaults (SQLite), a clean environment,
#      DOCUVAULT__RATE_LIMIT__ENABLED=false (we measure hash load shedding, not the
#      attempt limiter) and DOCUVAULT__LOG__FORMAT=json (its per-request latency log is
#      read back as the server-side figures); registers one account
#   3. baseline in the same run, no login load: RSS, /health p50/p99/max over 5 s,
#      10 sequential wrong-password logins (= uncontended hash time)
#   4. load: CONCURRENCY (200) threads in LOAD_PROCS (4) python processes loop
#      POST /api/auth/login with a wrong password over persistent connections for
#      DURATION (30) s; a separate process polls /health every 20 ms; VmRSS/Threads of
#      the server are sampled every 100 ms. Counts 401 (hashed), 503 service_unavailable
#      (shed) and anything else (other 5xx / connection errors = FAIL)
#   5. prints the figures (client- and server-side latencies, CPU split between server and
#      client, per-5-s windows, loaded/baseline ratios), the targets with PASS/FAIL:
#        RSS growth (peak - before) <= hash permits (nproc) x 19 MiB + 64 MiB
#        /health p99 under load     < 50 ms
#        shed (503) p99             < 100 ms (max printed too)
#      and writes the same report to bench/out/login.txt (git-ignored).
#
# The client is Python stdlib only and runs on the same cores as the server; the report
# says when the client (GIL / CPU) rather than the server limits the figures, and prints
# the server's own per-request latencies (from its log) next to the client-side ones.
# Requests go out in one write with TCP_NODELAY (stock http.client writes head and body
# separately, which adds Nagle/delayed-ACK and scheduling gaps to the measured latency).
#
# Diagnostic knobs (defaults = the plain benchmark above):
#   CLIENT_NICE=19      run the login load processes at that nice value (server gets the CPU
#                       first, approximating a client on other hardware)
#   SERVER_ENV="K=V .." extra server environment, e.g. MALLOC_MMAP_THRESHOLD_=4194304 or
#                       DOCUVAULT__AUTH__HASH_CONCURRENCY=1 (the RSS budget follows it)
#   LOAD_PROCS=4 BASELINE_S=5 HEALTH_INTERVAL_MS=20 BASELINE_LOGINS=10 KEEP_WORK=1 (keep the
#   temp dir with the server log)
# Exit code: 0 = all targets met, 2 = a target missed, 1 = the benchmark itself failed.
# Runs only on loopback; every wait is bounded (30 s start, DURATION + 90 s load).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
NAME=login
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
export PATH="$HOME/.cargo/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/docuvault"
OUT_DIR="$ROOT/bench/out"
OUT="$OUT_DIR/login.txt"
mkdir -p "$OUT_DIR"

bench_build_release

WORK="$(mktemp -d -t docuvault-login-bench.XXXXXX)"
if [[ -n "${KEEP_WORK:-}" ]]; then
  echo "work dir (kept): $WORK"
else
  trap 'rm -rf "$WORK"' EXIT
fi

# `|| status=$?` keeps set -e from exiting before the trap can clean up with the right code.
status=0
python3 "$ROOT/bench/login/load.py" "$BIN" "$WORK" "$OUT" || status=$?
exit "$status"
