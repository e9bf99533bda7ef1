#!/usr/bin/env bash
# Upload benchmark: streaming PUT throughput and server memory of the local storage backend.
#
#   bench/upload/run.sh                       # 1 GiB x 3 vs cp, then 8 x 256 MiB concurrent
#   SIZE_MIB=256 RUNS=5 bench/upload/run.sh   # smaller / more runs
#   NO_BUILD=1 bench/upload/run.sh            # reuse target/release/docuvault as it is
#
# What it does:
#   1. cargo build --release (skipped with NO_BUILD=1)
#   2. makes a temp work dir (under TMPDIR, default /tmp; it needs about 7 GiB free) with a
#      1 GiB and a 256 MiB file from /dev/urandom; every data dir, copy and stored object
#      lives on that same filesystem
#   3. (a) starts the release binary (no arguments = serve) on a free port, clean
#      environment, embedded defaults with the local storage backend, server.run_workers=false
#      (no text extraction of the confirmed uploads while measuring), rate limiter off,
#      max_object_bytes and the default quota raised; registers one account; then RUNS (3)
#      times, alternating:
#        baseline  cp SRC DST on the same filesystem, then fsync(DST) (the server fsyncs too
#                  before it answers); plain cp time is reported as well
#        PUT       POST /api/documents/upload-url (not timed), then curl --upload-file with
#                  the signed Content-Type and Content-Length, timed until the 200
#      and confirms the 3 uploads (200 expected; one stored object compared to the source)
#   4. (b) a fresh server (same settings): warm-up upload, then CONCURRENCY (8) curl PUTs of
#      256 MiB at once; the server's VmRSS (/proc/PID/status) is sampled every 50 ms;
#      all 8 are confirmed (200 expected) and one stored object compared to the source
#   5. (c) a fresh server (same settings): RUNS (3) times, alternating, the three-step flow
#      timed end to end (upload-url + PUT + confirm) and the one-request upload
#      (curl -F file=@SRC POST /api/documents, multipart; stored and confirmed when it
#      answers 201), each document deleted for good after; VmRSS sampled during every
#      one-request upload; one stored object compared to the source.
#   6. prints medians, ratios, CPU split (server / client / other jobs), the targets with
#      PASS/FAIL:
#        PUT median throughput >= 0.7 x (cp + fsync) median throughput
#        peak VmRSS - VmRSS just before the 8 uploads < 64 MiB
#        every PUT and confirm answered 200 with the right bytes stored
#        one-request median throughput >= 0.8 x three-step median throughput
#        peak VmRSS - VmRSS just before, during one one-request upload < 64 MiB
#      and writes the same report to bench/out/upload.txt (git-ignored).
#
# Knobs: SIZE_MIB (1024) RUNS (3) CONCURRENCY (8) CONC_SIZE_MIB (256) SAMPLE_MS (50)
#        PARTS (abc; e.g. PARTS=c for the one-request comparison alone) ONE_RUNS (RUNS)
#        SERVER_ENV="K=V .." (extra server environment) KEEP_WORK=1 (keep the temp dir and
#        the server logs; it holds several GiB).
# The page cache cannot be dropped here: the source files are read from cache by both cp
# and curl, and both write through the page cache and then fsync.
# Exit code: 0 = all targets met, 2 = a target missed, 1 = the benchmark itself failed.
# Runs only on loopback; every wait is bounded (30 s start, 600 s per PUT).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
NAME=upload
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
export PATH="$HOME/.cargo/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/docuvault"
OUT_DIR="$ROOT/bench/out"
OUT="$OUT_DIR/upload.txt"
mkdir -p "$OUT_DIR"
command -v curl >/dev/null || { echo "upload bench: curl missing (apt-get install -y curl)" >&2; exit 1; }

bench_build_release
bench_describe_commit

bench_work_dir_with_binary
status=0
python3 "$ROOT/bench/upload/upload.py" "$WORK/docuvault" "$WORK" "$OUT" || status=$?
exit "$status"
