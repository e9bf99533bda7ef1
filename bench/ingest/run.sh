#!/usr/bin/env bash
# Watched-folder benchmark: FILES (1 000) real documents dropped at once into one
# account's drop folder, until every one is a document; each imported exactly once.
#
#   bench/ingest/run.sh                      # 1 000 files
#   FILES=200 bench/ingest/run.sh            # quicker
#   NO_BUILD=1 bench/ingest/run.sh           # reuse target/release/docuvault as it is
#   BIN=target/debug/docuvault NO_BUILD=1 bench/ingest/run.sh   # a debug build (say so)
#
# What it does:
#   1. cargo build --release (skipped with NO_BUILD=1)
#   2. fetches the real-document corpus (.ci/fetch-corpus.sh: PDFs, DOCX, ODT, cached) and
#      makes FILES distinct files of it, in turn: a PDF gets a comment line with its number
#      appended, a DOCX/ODT a zip comment with it, so no two have the same bytes (the
#      duplicate check would only flag them, but each must be a document of its own)
#   3. baseline: starts the binary (no arguments = serve) on a free port with a clean
#      environment and a temp data dir (embedded defaults: SQLite, local storage,
#      in-process queue; rate limiter off, quota and pending-upload limits raised,
#      jobs.concurrency JOBS (1), no watched folder), registers one account and uploads
#      every file through the API (upload-url, PUT, confirm) from 4 client threads (the
#      watched folder's own concurrency): seconds until the last confirm answered 200
#   4. watched folder: a fresh server with the same settings plus ingest.watch_dir (poll
#      1 s, stable 1 s, after = move), registers the account, then renames all FILES
#      files at once into {watch_dir}/{handle}/Batch 0..9/ (same filesystem: each appears
#      whole); polls GET /api/documents (total counts confirmed documents) every 100 ms:
#      seconds from the drop until all FILES are documents, and until every file is in
#      .done/; then checks in the database: FILES documents, FILES `ingest_files` rows all
#      `imported` with distinct paths and distinct document ids, none left in the drop
#      folder, nothing in .failed/
#   5. prints both times, files per second and the ratio watched folder / API upload, the
#      targets with PASS/FAIL:
#        every file imported once (counts above)
#        watched folder time <= 2 x API upload time + poll_secs + stable_secs
#      and writes the report to bench/out/ingest.txt (git-ignored).
#
# Knobs: FILES (1000) JOBS (jobs.concurrency, 1) SERVER_ENV="K=V .." KEEP_WORK=1
# Exit code: 0 targets met, 2 a target missed, 1 the benchmark itself failed. Runs only
# on loopback; every wait is bounded (60 s start, 900 s per phase).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
NAME=ingest
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
export PATH="$HOME/.cargo/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${BIN:-$TARGET_DIR/release/docuvault}"
OUT_DIR="$ROOT/bench/out"
mkdir -p "$OUT_DIR"
export BENCH_OUT="$OUT_DIR/ingest.txt"

bench_build_release
CORPUS="$(bash .ci/fetch-corpus.sh)" || { echo "ingest bench: corpus fetch failed" >&2; exit 1; }
bench_describe_commit
export BENCH_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
bench_work_dir_with_binary

status=0
python3 "$ROOT/bench/ingest/ingest.py" "$WORK/docuvault" "$CORPUS" "$WORK" || status=$?
[[ $status -eq 1 && -f "$WORK/server.log" ]] && { echo "--- server log (last 40 lines) ---" >&2; tail -n 40 "$WORK/server.log" >&2; }
exit "$status"
