#!/usr/bin/env bash
# Pipeline benchmark: real PDFs through upload -> classified/unclassified on a release
# `docuvault`, and our text extraction against pdftotext on the same files.
#
#   bench/pipeline/run.sh                  # 200 PDFs, 2 extraction rounds
#   DOCS=50 ROUNDS=1 bench/pipeline/run.sh # quicker
#   NO_BUILD=1 bench/pipeline/run.sh       # reuse target/release/docuvault as it is
#
# What it does:
#   1. cargo build --release (skipped with NO_BUILD=1)
#   2. fetches the real-document corpus (.ci/fetch-corpus.sh: the 11 PDFs of Debian's
#      texlive-fonts-recommended-doc, cached) and copies them to DOCS (200) files with
#      distinct names, in turn; installs poppler-utils (pdftotext) with apt-get if missing
#   3. extraction, before the server starts (nothing else of ours running): ROUNDS (2)
#      rounds, alternating which tool goes first, each tool once per file and sequentially,
#      one process per file as the pipeline runs it:
#        docuvault extract-worker  (JSON header + bytes on stdin, JSON text on stdout;
#                                   the sandbox's rlimits are not set here)
#        pdftotext FILE OUT.txt    <- baseline
#      prints both medians, the ratio (target <= 2x) and words extracted per distinct file
#   4. end to end: starts the release binary (no arguments = serve) on a free port with a
#      clean environment and a temp data dir: embedded defaults (SQLite, local storage,
#      in-process queue, jobs.concurrency 2, builtin classifier) but the rate limiter off
#      and quota / pending-upload limits raised; registers one account, creates 4 topics
#      (Fonts, Currency, Mathematics, Symbols, with one-line descriptions); then one client
#      uploads all DOCS files (upload-url, PUT, confirm) while the workers already run,
#      and the list is polled (50 ms) until every document is classified, unclassified or
#      failed: documents per second = DOCS / (first upload-url .. last document terminal)
#   5. prints the report with PASS/FAIL:
#        extraction ratio docuvault / pdftotext <= 2.0
#        every document terminal, none failed
#      and writes it to bench/out/pipeline.txt (git-ignored).
#
# Knobs: DOCS (200) ROUNDS (2) CONCURRENCY (jobs.concurrency; default: embedded default)
#        SERVER_ENV="K=V .." (extra server environment) KEEP_WORK=1 (keep the temp dir with
#        the server log). Exit code: 0 targets met, 2 a target missed, 1 the benchmark
#        itself failed. Runs only on loopback; every wait is bounded.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
NAME=pipeline
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
export PATH="$HOME/.cargo/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/docuvault"
OUT_DIR="$ROOT/bench/out"
mkdir -p "$OUT_DIR"
export BENCH_OUT="$OUT_DIR/pipeline.txt"

bench_build_release

if ! command -v pdftotext >/dev/null; then
  echo "== installing poppler-utils (pdftotext, the baseline) =="
  apt-get install -y -q poppler-utils >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q poppler-utils >/dev/null; } \
    || { echo "pipeline bench: cannot install poppler-utils" >&2; exit 1; }
fi
echo "baseline: $(pdftotext -v 2>&1 | head -n1)"

CORPUS="$(bash .ci/fetch-corpus.sh)" || { echo "pipeline bench: corpus fetch failed" >&2; exit 1; }

bench_describe_commit
export BENCH_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"

bench_work_dir_with_binary

status=0
python3 "$ROOT/bench/pipeline/pipeline.py" "$WORK/docuvault" "$CORPUS" "$WORK" || status=$?
[[ $status -eq 1 && -f "$WORK/server.log" ]] && { echo "--- server log (last 40 lines) ---" >&2; tail -n 40 "$WORK/server.log" >&2; }
[[ -f "$BENCH_OUT" && $status -ne 1 ]] && echo "report written to $BENCH_OUT"
exit "$status"
