#!/usr/bin/env bash
# OCR benchmark: scans of real pages through the whole pipeline of a release `docuvault`
# against plain `tesseract` on the same page images, in the same run; and thumbnails.
#
#   bench/ocr/run.sh                          # 10 pages + a 50-page scanned PDF
#   PAGES=5 BIG_PAGES=10 bench/ocr/run.sh     # quicker
#   NO_BUILD=1 bench/ocr/run.sh               # reuse target/release/docuvault as it is
#   ONLY=thumbnails bench/ocr/run.sh          # just the thumbnail timing (6.)
#
# What it does:
#   1. cargo build --release (skipped with NO_BUILD=1); checks tesseract (eng), pdftoppm,
#      pdftotext, pdfinfo and ImageMagick's /usr/bin/convert are there
#   2. fetches the real-document corpus (.ci/fetch-corpus.sh) and makes the scans like
#      tests/it/ocr.rs: pages with a text layer of >= 150 words, taken in turn from each
#      PDF, rendered `pdftoppm -r DPI -gray` (200), saved as JPEG quality 70 turned
#      0.5-1.5 degrees; PAGES (10) single-page JPEGs, and BIG_PAGES (50) further pages
#      joined into one PDF without a text layer (written by the driver: each page one
#      /DCTDecode image, the JPEG as is; ImageMagick's PDF writer is blocked by Debian policy)
#   3. pages per second, sequential, one page at a time:
#        tesseract IMG stdout -l eng --psm 3 tsv, OMP_THREAD_LIMIT=1 (the flags of
#          src/extract/ocr.rs)                                   <- baseline
#        the server (release binary, no arguments, clean environment, temp data dir:
#          embedded defaults - SQLite, local storage, in-process queue, jobs.concurrency 2 -
#          but the rate limiter off and the quota raised): upload-url + PUT + confirm of one
#          JPEG, poll GET /api/documents/{id} every 20 ms until terminal, then the next
#          (after one untimed warm-up document)
#      ratio = pipeline pages/s / tesseract pages/s, target >= 0.85 (overhead <= 15 %)
#   4. peak RSS of the OCR jobs: every 20 ms while the jobs of 3. and 5. run, VmHWM of each
#      of the server's descendants (extract-worker, tesseract, pdftoppm) from /proc, and the
#      peak sum of their VmRSS at one moment; target < 400 MiB
#   5. the BIG_PAGES-page scanned PDF end to end: upload -> classified/unclassified,
#      seconds and pages per second; where its page images came from (the embedded JPEG
#      passed through, or rendered; read from the server's SQLite file), the "page i of n"
#      progress the document showed while polled, and how soon after the confirm its
#      thumbnail_url appears (the thumbnail is made before the text)
#   6. thumbnails: the first page of each real corpus PDF through the sandbox worker exactly
#      as the server runs it (`docuvault extract-worker`, the thumbnail request, empty
#      environment, the child's rlimits), THUMB_ROUNDS (5) times each in turn, spawn to
#      answer: p50/p95 against the target p95 < 300 ms
#   prints the report with PASS/FAIL and writes it to bench/out/ocr.txt (git-ignored).
#
# Knobs: PAGES (10) BIG_PAGES (50) DPI (200) SERVER_ENV="K=V .." (extra server environment,
#        e.g. DOCUVAULT__JOBS__CONCURRENCY=1) KEEP_WORK=1 (keep the temp dir with the scans
#        and the server log) THUMB_ROUNDS (5) ONLY=thumbnails (just 6., no server).
#        Exit code: 0 targets met, 2 a target missed, 1 the benchmark itself failed. Runs
#        only on loopback; every wait is bounded.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
NAME=ocr
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
export PATH="$HOME/.cargo/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/docuvault"
OUT_DIR="$ROOT/bench/out"
mkdir -p "$OUT_DIR"
export BENCH_OUT="$OUT_DIR/ocr.txt"

bench_build_release

for tool in tesseract pdftoppm pdftotext pdfinfo; do
  command -v "$tool" >/dev/null || {
    echo "ocr bench: $tool missing (apt-get install -y tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd poppler-utils imagemagick)" >&2
    exit 1
  }
done
tesseract --list-langs 2>/dev/null | grep -qx eng || { echo "ocr bench: tesseract has no eng data" >&2; exit 1; }
[[ -x /usr/bin/convert ]] || command -v convert >/dev/null || { echo "ocr bench: ImageMagick convert missing" >&2; exit 1; }

CORPUS="$(bash .ci/fetch-corpus.sh)" || { echo "ocr bench: corpus fetch failed" >&2; exit 1; }

bench_describe_commit
export BENCH_LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"

bench_work_dir_with_binary

status=0
python3 "$ROOT/bench/ocr/ocr.py" "$WORK/docuvault" "$CORPUS" "$WORK" || status=$?
[[ $status -eq 1 && -f "$WORK/server.log" ]] && { echo "--- server log (last 40 lines) ---" >&2; tail -n 40 "$WORK/server.log" >&2; }
exit "$status"
