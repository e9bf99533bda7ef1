#!/usr/bin/env bash
# Full-text search benchmark: GET /api/documents?q=… over 100 000 documents of realistic
# text (10 users x 10 000), on PostgreSQL and on SQLite, against a release `docuvault`.
#
#   bench/search/run.sh                       # both backends, 100 000 documents
#   BACKENDS=sqlite DOCS=20000 bench/search/run.sh
#   NO_BUILD=1 bench/search/run.sh            # reuse target/release/docuvault as it is
#
# Needs: /usr/share/dict/words (Debian `wamerican`; installed with apt-get when missing
# and running as root), PostgreSQL reachable as PG_BASE (default
# postgres://postgres@127.0.0.1:5432, trust auth; the script creates and drops its own
# database docuvault_bench_search_<pid>) and psql, python3.
#
# What it does (details in bench/search/search.py):
#   1. cargo build --release (skipped with NO_BUILD=1)
#   2. generates the corpus deterministically (seed SEED): Zipf-distributed dictionary
#      words behind English function words, sentences, log-normal document lengths
#   3. per backend: fresh database, release binary on a free port (workers off, rate
#      limiter off), USERS accounts through the API, DOCS documents bulk-inserted with SQL
#      (psql \copy + VACUUM ANALYZE; SQLite executemany in one transaction, the FTS
#      triggers indexing each row)
#   4. a mix of 100 queries (very common / common / medium / rare / absent words, 2 and
#      3 words, phrases, exclusions, file-name words), each user searching their own
#      documents, per_page=20: sequential (ROUNDS passes after a warm-up) and with
#      CONCURRENCY keep-alive connections for CONC_SECS s; the same list request without
#      q measured the same way is the baseline
#   5. prints p50/p95/p99/max per category and overall, hits per category, throughput,
#      the ratio to the baseline, and the target per backend:
#        search p95 < 50 ms, sequential and concurrent, 0 errors
#      and writes the report to bench/out/search.txt (git-ignored).
#
# Knobs: DOCS USERS SEED ROUNDS CONCURRENCY CONC_SECS BACKENDS PG_BASE WORDS_FILE
#        KEEP_WORK=1 (temp dir + server logs) KEEP_DB=1.
# Exit code: 0 = all targets met, 2 = a target missed, 1 = the benchmark itself failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
NAME=search
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
export PATH="$HOME/.cargo/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/docuvault"
OUT_DIR="$ROOT/bench/out"
OUT="$OUT_DIR/search.txt"
mkdir -p "$OUT_DIR"

WORDS_FILE="${WORDS_FILE:-/usr/share/dict/words}"
if [[ ! -r "$WORDS_FILE" ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "== apt-get install -y wamerican (word list for the corpus) =="
    apt-get install -y wamerican >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wamerican >/dev/null; }
  fi
  [[ -r "$WORDS_FILE" ]] || { echo "search bench: $WORDS_FILE missing (apt-get install -y wamerican)" >&2; exit 1; }
fi
export WORDS_FILE
if [[ " ${BACKENDS:-postgres sqlite} " == *" postgres "* ]]; then
  command -v psql >/dev/null || { echo "search bench: psql missing (apt-get install -y postgresql-client)" >&2; exit 1; }
fi

bench_build_release
bench_describe_commit

bench_work_dir_with_binary
status=0
python3 "$ROOT/bench/search/search.py" "$WORK/docuvault" "$WORK" "$OUT" || status=$?
exit "$status"
