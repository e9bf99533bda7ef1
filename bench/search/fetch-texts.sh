#!/usr/bin/env bash
# Fetches the real long documents of the search benchmark: the text of every PDF of a
# pinned Debian documentation package (LaTeX manuals: 269 PDFs, real prose, tables and
# code, in English mostly and some German, French, Italian...), extracted with pdftotext.
#
#   TEXTS_DIR="$(bash bench/search/fetch-texts.sh)"
#
# Fetched like .ci/fetch-corpus.sh: `apt-get download` + `dpkg-deb -x`, nothing is
# installed (pdftotext comes from poppler-utils, installed with apt-get when missing and
# running as root). Into ${DOCUVAULT_CORPUS_DIR:-$HOME/.cache/docuvault-corpus}/search-v1
# (about 18 MB of text; the 85 MB .deb is not kept): txt/<name>.txt per PDF, MANIFEST.tsv
# (name, PDF bytes, PDF sha256, text characters), STAMP. A complete copy is recognised by
# its STAMP and not fetched again (offline reruns work). Progress goes to stderr; the only
# line on stdout is the directory. Exit code non-zero (with the reason) if anything fails.
set -euo pipefail

DEB_PKG="texlive-latex-base-doc"
DEB_VERSION="2022.20230122-3"
STAMP_TEXT="docuvault search texts v1: $DEB_PKG $DEB_VERSION, pdftotext -enc UTF-8"
# A lower bound, so a silently half-empty fetch cannot pass as a corpus.
MIN_TEXTS=250

BASE="${DOCUVAULT_CORPUS_DIR:-${HOME:-/root}/.cache/docuvault-corpus}"
DEST="$BASE/search-v1"
log() { printf 'fetch-texts: %s\n' "$*" >&2; }
die() { printf 'fetch-texts: FAILED: %s\n' "$*" >&2; exit 1; }

if [[ -f "$DEST/STAMP" && "$(cat "$DEST/STAMP")" == "$STAMP_TEXT" ]]; then
  log "texts already present in $DEST ($(find "$DEST/txt" -name '*.txt' | wc -l) files)"
  printf '%s\n' "$DEST"
  exit 0
fi

if ! command -v pdftotext >/dev/null; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "apt-get install -y poppler-utils (pdftotext)"
    apt-get install -y -q poppler-utils >&2 || { apt-get update -q >&2 && apt-get install -y -q poppler-utils >&2; } \
      || die "cannot install poppler-utils"
  fi
  command -v pdftotext >/dev/null || die "pdftotext is missing (apt-get install -y poppler-utils)"
fi
for tool in apt-get dpkg-deb sha256sum xargs; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done
mkdir -p "$BASE"
WORK="$(mktemp -d "$BASE/.fetch-texts.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
NEW="$WORK/search-v1"
mkdir -p "$NEW/txt" "$WORK/dl" "$WORK/x" "$WORK/pdf"

# apt-get download writes into the current directory; _apt cannot write into a root-owned
# temp dir, so apt falls back to an unsandboxed download (a warning, not an error).
apt_download() { (cd "$WORK/dl" && apt-get download -q "$@") >&2; }
if ! apt_download "$DEB_PKG=$DEB_VERSION" 2>/dev/null; then
  log "apt-get download $DEB_PKG=$DEB_VERSION failed; refreshing the package lists (apt-get update)"
  apt-get update -q >&2 || die "apt-get update failed"
  apt_download "$DEB_PKG=$DEB_VERSION" || die "apt-get download $DEB_PKG=$DEB_VERSION failed (the pinned version is gone?)"
fi
deb="$(find "$WORK/dl" -name "${DEB_PKG}_*.deb" | head -n1)"
[[ -n "$deb" ]] || die "no .deb downloaded for $DEB_PKG"
dpkg-deb -x "$deb" "$WORK/x" || die "dpkg-deb -x $deb failed"

# Flat by file name; a name taken by another PDF is prefixed with its parent directory.
while IFS= read -r -d '' f; do
  name="$(basename "$f" .pdf)"
  [[ -e "$WORK/pdf/$name.pdf" ]] && name="$(basename "$(dirname "$f")")-$name"
  [[ -e "$WORK/pdf/$name.pdf" ]] && die "name clash for $f"
  cp "$f" "$WORK/pdf/$name.pdf"
done < <(find "$WORK/x" -type f -name '*.pdf' -print0 | sort -z)

log "extracting the text of $(find "$WORK/pdf" -name '*.pdf' | wc -l) PDFs with pdftotext (about a minute on 2 cores)"
export NEW
find "$WORK/pdf" -name '*.pdf' -print0 | sort -z |
  xargs -0 -P "$(nproc)" -I{} sh -c 'pdftotext -q -enc UTF-8 "$1" "$NEW/txt/$(basename "$1" .pdf).txt" || echo "pdftotext failed on $1" >&2' _ {}

printf 'name\tpdf_bytes\tpdf_sha256\ttext_chars\n' >"$NEW/MANIFEST.tsv"
n=0
for pdf in "$WORK"/pdf/*.pdf; do
  name="$(basename "$pdf" .pdf)"
  txt="$NEW/txt/$name.txt"
  # A PDF without a text layer gives an (almost) empty text: not a document to search.
  if [[ ! -s "$txt" ]] || (($(wc -m <"$txt") < 200)); then
    rm -f "$txt"
    continue
  fi
  printf '%s\t%s\t%s\t%s\n' "$name" "$(stat -c %s "$pdf")" "$(sha256sum "$pdf" | cut -d' ' -f1)" \
    "$(wc -m <"$txt")" >>"$NEW/MANIFEST.tsv"
  n=$((n + 1))
done
((n >= MIN_TEXTS)) || die "only $n texts (expected >= $MIN_TEXTS)"
printf '%s' "$STAMP_TEXT" >"$NEW/STAMP"

rm -rf "$DEST"
mv "$NEW" "$DEST"
log "texts ready in $DEST: $n documents"
printf '%s\n' "$DEST"
