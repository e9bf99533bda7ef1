#!/usr/bin/env bash
# Export/import benchmark: `docuvault export` and `docuvault import` of a vault of
# DOCS documents / GIB GiB on the embedded defaults (SQLite + local objects), against
# tar of the same objects in the same run.
#
#   bench/export/run.sh                      # 10 000 documents, 2 GiB
#   DOCS=1000 GIB=0.2 bench/export/run.sh    # smaller
#   NO_BUILD=1 bench/export/run.sh           # reuse target/release/docuvault as it is
#   KEEP_WORK=1 bench/export/run.sh          # keep the work directory (needs ~6x GIB of disk)
#
# What it does (export.py):
#   1. writes a seed export directory (random contents, one user, DOCS documents of equal
#      size, each with its version row) and imports it into instance A (`docuvault import`;
#      this also checks the format end to end)
#   2. measures `docuvault export --out` of A               (export)
#   3. measures `docuvault import --from` that export into a new instance B   (import)
#   4. measures, on the same objects, `tar -cf` of A's objects directory to a file
#      (baseline of export) and `tar -xf` of that file into a new directory (baseline of
#      import); every step writes to the same file system as the others
#   5. prints wall time, throughput (MiB/s of object bytes), peak RSS (wait4 ru_maxrss) of
#      each, the ratios to tar (target >= 0.5) and the RSS target (< 100 MiB), and writes
#      the report to bench/out/export.txt (git-ignored)
#
# The page cache is not dropped (that would disturb other processes): every step reads
# data written shortly before, so all of them, tar included, read warm.
# Exit code: 0 = targets met, 2 = a target missed, 1 = the benchmark itself failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
NAME=export
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
export PATH="$HOME/.cargo/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/docuvault"
OUT_DIR="$ROOT/bench/out"
mkdir -p "$OUT_DIR"

bench_build_release
bench_describe_commit
bench_work_dir_with_binary

python3 "$ROOT/bench/export/export.py" \
  --bin "$WORK/docuvault" --work "$WORK" \
  --docs "${DOCS:-10000}" --gib "${GIB:-2}" \
  --out "$OUT_DIR/export.txt"
