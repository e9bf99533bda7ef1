#!/usr/bin/env bash
# Document-list benchmark: GET /api/documents for an account with 10 000 documents on
# PostgreSQL, at a fixed rate and closed-loop, against a release `docuvault`.
#
#   bench/list/run.sh                         # 200 req/s for 30 s, then closed loop
#   RATE=100 DURATION=10 bench/list/run.sh
#   NO_BUILD=1 bench/list/run.sh              # reuse target/release/docuvault as it is
#   BACKEND=sqlite bench/list/run.sh          # the same on the embedded SQLite database
#                                             # (documents written with Python's sqlite3)
#
# Needs: PostgreSQL reachable as PG_BASE (default postgres://postgres@127.0.0.1:5432, trust
# auth; the script creates and drops its own database docuvault_bench_list_<pid>), psql,
# and oha (load generator). When oha is not on PATH nor given as OHA=/path it is installed
# with `cargo install oha --locked --version $OHA_VERSION` (about 6 min on 2 cores).
#
# What it does:
#   1. cargo build --release (skipped with NO_BUILD=1)
#   2. creates a fresh database, starts the release binary (no arguments = serve; it
#      migrates the database) on a free port with a temp data dir, a clean environment,
#      DATABASE_URL, local storage and the rate limiter off
#   3. registers one account through the API (POST /api/auth/register) and bulk-INSERTs
#      DOCS (10 000) 'classified' documents for it with psql: unique object keys
#      '{user}/{id}/{uuid}.pdf', created_at spread over about a year, random sizes,
#      EXTRACTED_TEXT_BYTES (4096) of random extracted text each, every DUP_EVERY-th (50th)
#      document a copy of the one before (same SHA-256); quota used_bytes = their
#      sum; VACUUM ANALYZE (what autovacuum does soon after such an insert). Checks every list variant answers 200 with total = DOCS
#   4. fixed rate, RATE (200) req/s, oha with --latency-correction (coordinated omission:
#      latency counted from when each request was due), bearer token:
#        GET /health for DURATION (30) s                               <- baseline
#        GET /api/documents?page=1&per_page=20 for DURATION (30) s     <- the target
#        other pages (middle, last), sort=created_at asc, sort=name asc (page 1) and
#        desc (last page), sort=size desc (page 1) and asc (middle page), per_page=100,
#        EXTRA_DURATION (10) s each
#   5. closed loop, MAX_DURATION (10) s each with CONNECTIONS ("1 4 16 64") connections on
#      page 1, and /health at the largest: the maximum throughput without errors
#   6. bulk edit: POST /api/documents/bulk with BULK_IDS (1 000) of the account's ids, one
#      request at a time, BULK_REPS (40) timed requests per action after a warm-up: move
#      (alternating between two folders), add_topics / remove_topics (alternating), trash /
#      restore (alternating); p50/p95/max each (BULK_REPS=0 skips it;
#      BULK_ONLY=1 runs only this section)
#   7. prints p50/p99/max, status codes, the CPU split (server / postgres / oha + other
#      jobs), the targets with PASS/FAIL:
#        page 1 at RATE req/s: p99 < 20 ms and 0 errors (the same is checked for the others)
#        each bulk action: p95 < 50 ms and 0 errors (every id succeeded)
#      and writes the same report to bench/out/list.txt (list-sqlite.txt; git-ignored).
#
# Knobs: DOCS RATE DURATION EXTRA_DURATION MAX_DURATION CONNECTIONS EXTRACTED_TEXT_BYTES
#        DUP_EVERY TRASH_EVERY (every n-th other document in the trash; 0) BULK_IDS BULK_REPS
#        PG_BASE OHA OHA_VERSION SERVER_ENV="K=V .." KEEP_WORK=1 (temp dir + server log)
#        KEEP_DB=1 (leave the database for inspection) BACKEND=postgres|sqlite.
# oha runs on the same 2 cores as the server and PostgreSQL; the report shows its share.
# Exit code: 0 = all targets met, 2 = a target missed, 1 = the benchmark itself failed.
# Runs only on loopback; every run is bounded (oha -z, 60 s start, psql timeouts).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
NAME=list
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
export PATH="$HOME/.cargo/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/docuvault"
OUT_DIR="$ROOT/bench/out"
BACKEND="${BACKEND:-postgres}"
export BACKEND
if [[ "$BACKEND" == sqlite ]]; then OUT="$OUT_DIR/list-sqlite.txt"; else OUT="$OUT_DIR/list.txt"; fi
OHA_VERSION="${OHA_VERSION:-1.16.0}"
mkdir -p "$OUT_DIR"
[[ "$BACKEND" == sqlite ]] || command -v psql >/dev/null || { echo "list bench: psql missing (apt-get install -y postgresql-client)" >&2; exit 1; }

OHA="${OHA:-$(command -v oha || true)}"
if [[ -z "$OHA" ]]; then
  echo "== cargo install oha --locked --version $OHA_VERSION (about 6 min on 2 cores) =="
  cargo install oha --locked --version "$OHA_VERSION" || { echo "list bench: installing oha failed" >&2; exit 1; }
  OHA="$(command -v oha)"
fi

bench_build_release
bench_describe_commit

bench_work_dir_with_binary
status=0
python3 "$ROOT/bench/list/list.py" "$WORK/docuvault" "$WORK" "$OUT" "$OHA" || status=$?
exit "$status"
