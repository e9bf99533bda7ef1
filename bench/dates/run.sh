#!/usr/bin/env bash
# Cost of deriving a document's own date (issue 17, item 5) on the text of real manuals:
# every PDF of Debian's texlive-latex-recommended-doc and texlive-latex-base-doc (423
# LaTeX package manuals by distinct name), text by pdftotext, through `docuvault::extract::dates::derive`
# exactly as the pipeline calls it. Target: median < 5 ms per document.
#
#   bench/dates/run.sh                   # dev profile (an upper bound; the build is quick)
#   PROFILE=release bench/dates/run.sh   # release figures (long build)
#   ROUNDS=20 bench/dates/run.sh         # more timed runs per document (default 5)
#
# The packages are fetched like .ci/fetch-corpus.sh does (`apt-get download` + `dpkg-deb
# -x`, nothing installed) into bench/out/dates (git-ignored, about 140 MB), the texts made
# once with `pdftotext` (poppler-utils) and kept there; reruns reuse them. Then
# `cargo run --example dates_bench` times each text and writes bench/out/dates.txt.
# Exit code: 0 target met, 2 missed, 1 the benchmark itself failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
PACKAGES=("texlive-latex-recommended-doc=2022.20230122-3" "texlive-latex-base-doc=2022.20230122-3")
STAMP_TEXT="docuvault dates bench v1: ${PACKAGES[*]}"
WORK="$ROOT/bench/out/dates"
TEXTS="$WORK/texts"
OUT="$ROOT/bench/out/dates.txt"
PROFILE="${PROFILE:-dev}"
die() { echo "dates bench: $*" >&2; exit 1; }

if [[ ! -f "$TEXTS/STAMP" || "$(cat "$TEXTS/STAMP")" != "$STAMP_TEXT" ]]; then
  command -v pdftotext >/dev/null || die "pdftotext missing (apt-get install -y poppler-utils)"
  for tool in apt-get dpkg-deb; do command -v "$tool" >/dev/null || die "$tool missing"; done
  rm -rf "$WORK"
  mkdir -p "$WORK/dl" "$WORK/x" "$TEXTS"
  for pkg in "${PACKAGES[@]}"; do
    echo "== apt-get download $pkg =="
    # _apt cannot write into a root-owned directory: apt downloads unsandboxed (a warning).
    if ! (cd "$WORK/dl" && apt-get download -q "$pkg" 2>/dev/null); then
      echo "   refreshing the package lists (apt-get update)"
      apt-get update -q >/dev/null || die "apt-get update failed"
      (cd "$WORK/dl" && apt-get download -q "$pkg") || die "apt-get download $pkg failed"
    fi
  done
  for deb in "$WORK"/dl/*.deb; do dpkg-deb -x "$deb" "$WORK/x" || die "dpkg-deb -x $deb failed"; done
  echo "== pdftotext (once; kept in $TEXTS) =="
  n=0
  while IFS= read -r -d '' pdf; do
    name="$(basename "$pdf")"
    # Two packages may ship a file of the same name: keep the first.
    [[ -e "$TEXTS/$name.txt" ]] && continue
    if timeout 60 pdftotext -q -enc UTF-8 "$pdf" "$TEXTS/$name.txt" 2>/dev/null; then
      n=$((n + 1))
    else
      rm -f "$TEXTS/$name.txt"
      echo "   skipped $name (pdftotext failed)"
    fi
  done < <(find "$WORK/x" -type f -name '*.pdf' -print0 | sort -z)
  ((n >= 200)) || die "only $n texts (expected 200 or more)"
  rm -rf "$WORK/x" "$WORK/dl"
  printf '%s' "$STAMP_TEXT" >"$TEXTS/STAMP"
fi

echo "== cargo build --profile $PROFILE --example dates_bench =="
cargo build -q --profile "$PROFILE" --example dates_bench || die "cargo build failed"
case "$PROFILE" in dev) DIR=debug ;; *) DIR="$PROFILE" ;; esac
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$DIR/examples/dates_bench"

set +e
{
  echo "commit: $(git log -1 --format='%h %s' 2>/dev/null | cut -c1-100)"
  echo "profile: $PROFILE; load: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$BIN" "$TEXTS" --rounds "${ROUNDS:-5}"
} | tee "$OUT"
status=${PIPESTATUS[0]}
set -e
echo "(report in bench/out/dates.txt)"
exit "$status"
