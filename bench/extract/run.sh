#!/usr/bin/env bash
# Extraction benchmark: 2 MB hostile HTML, DOCX and ODT through the extractor the pipeline
# runs, each against a benign 2 MB document of the same format measured in the same run.
#
#   bench/extract/run.sh                   # release build, 3 rounds
#   PROFILE=debug bench/extract/run.sh     # target/debug/docuvault (cargo build, no --release)
#   NO_BUILD=1 bench/extract/run.sh        # reuse the binary as it is
#   ROUNDS=5 bench/extract/run.sh          # more rounds (the median is reported)
#
# What it does:
#   1. cargo build [--release] --bin docuvault (skipped with NO_BUILD=1)
#   2. generates, in a temp dir, about 2 MiB each (extract.py):
#        HTML  unterminated tags (<a<a<a…), unterminated <div …, an unterminated quoted
#              attribute full of tags, 2 MB of nested <div><span>, one 2 MB attribute value,
#              block tags separated by spaces; baseline: ordinary paragraphs of prose
#        DOCX  (parts stored, not deflated, so 2 MB of XML reach the parser) 2 MB of one-letter
#              runs, unterminated <w:t, one 2 MB attribute, nesting until the depth cap,
#              9 000 zip entries; baseline: ordinary paragraphs
#        ODT   one-letter spans, 180 000 attributes on one element, unterminated spans;
#              baseline: ordinary paragraphs
#   3. ROUNDS (3) times, for every file, one `docuvault extract-worker` process per file, as
#      the pipeline runs it (JSON header line + bytes on stdin, JSON result on stdout; the
#      sandbox's rlimits are not set here): wall time from spawn to exit
#   4. prints per file the median, the outcome (characters of text, or the failure reason),
#      and for hostile files the ratio to the benign baseline of the same format; target:
#      every hostile file under 1 s. The report also goes to bench/out/extract.txt (git-ignored).
#
# Exit code: 0 target met, 2 a hostile file took 1 s or more, 1 the benchmark itself failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
PROFILE="${PROFILE:-release}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/$PROFILE/docuvault"
OUT_DIR="$ROOT/bench/out"
mkdir -p "$OUT_DIR"
export BENCH_OUT="$OUT_DIR/extract.txt"

if [[ "${NO_BUILD:-}" != 1 ]]; then
  if [[ "$PROFILE" == release ]]; then
    echo "== cargo build --release (about 7 min from clean) =="
    cargo build --release --bin docuvault || { echo "extract bench: cargo build failed" >&2; exit 1; }
  else
    echo "== cargo build ($PROFILE) =="
    cargo build --bin docuvault || { echo "extract bench: cargo build failed" >&2; exit 1; }
  fi
fi
[[ -x "$BIN" ]] || { echo "extract bench: $BIN missing" >&2; exit 1; }

WORK="$(mktemp -d -t docuvault-extract-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
# Run a private copy: other builds may replace the binary meanwhile.
cp "$BIN" "$WORK/docuvault"
export BENCH_BIN_DESC="$BIN ($PROFILE build, $(date -r "$BIN" '+%Y-%m-%d %H:%M:%S')), run from a copy"
export BENCH_COMMIT="$(git log -1 --format='%h %s' 2>/dev/null | cut -c1-100 || true)"
export BENCH_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"

status=0
python3 "$ROOT/bench/extract/extract.py" "$WORK/docuvault" "$WORK" || status=$?
[[ -f "$BENCH_OUT" && $status -ne 1 ]] && echo "report written to $BENCH_OUT"
exit "$status"
