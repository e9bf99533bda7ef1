#!/usr/bin/env bash
# Fetches the real-document corpus for tests/it/extract_real.rs and bench/pipeline: files that
# nobody on this project wrote, taken from public packages by their ordinary clients.
#
#   DOCUVAULT_TEST_CORPUS_DIR="$(bash .ci/fetch-corpus.sh)"
#
# Sources (pinned; the tests assert phrases from specific files):
#   pdf/   the 11 PDFs of Debian's texlive-fonts-recommended-doc (2.8 MB .deb; `apt-get
#          download` + `dpkg-deb -x`, nothing is installed)
#   docx/  the .docx files of the python-docx sdist (PyPI, `pip download --no-binary`)
#   odt/   the .odt files of the odfpy sdist (PyPI)
#
# PYTHON (default python3) is the interpreter whose pip downloads the sdists.
# Into ${DOCUVAULT_CORPUS_DIR:-$HOME/.cache/docuvault-corpus}/v1 (about 4 MB). A complete
# corpus is recognised by v1/STAMP and not fetched again (offline reruns work). Progress
# goes to stderr; the only line on stdout is the corpus directory, for the caller to export
# as DOCUVAULT_TEST_CORPUS_DIR. Exit code non-zero (with the reason) if anything is missing.
set -euo pipefail

DEB_PKG="texlive-fonts-recommended-doc"
DEB_VERSION="2022.20230122-3"
DOCX_SDIST="python-docx==1.1.2"
ODT_SDIST="odfpy==1.4.1"
STAMP_TEXT="docuvault-corpus v1: $DEB_PKG $DEB_VERSION, $DOCX_SDIST, $ODT_SDIST"
# Lower bounds, so a silently half-empty fetch cannot pass as a corpus.
MIN_PDF=11 MIN_DOCX=40 MIN_ODT=15

BASE="${DOCUVAULT_CORPUS_DIR:-${HOME:-/root}/.cache/docuvault-corpus}"
DEST="$BASE/v1"
log() { printf 'fetch-corpus: %s\n' "$*" >&2; }
die() { printf 'fetch-corpus: FAILED: %s\n' "$*" >&2; exit 1; }

if [[ -f "$DEST/STAMP" && "$(cat "$DEST/STAMP")" == "$STAMP_TEXT" ]]; then
  log "corpus already present in $DEST ($(find "$DEST" -type f \( -name '*.pdf' -o -name '*.docx' -o -name '*.odt' \) | wc -l) files)"
  printf '%s\n' "$DEST"
  exit 0
fi

PYTHON="${PYTHON:-python3}"
for tool in apt-get dpkg-deb "$PYTHON" tar sha256sum cmp; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done
mkdir -p "$BASE"
WORK="$(mktemp -d "$BASE/.fetch.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
NEW="$WORK/v1"
mkdir -p "$NEW/pdf" "$NEW/docx" "$NEW/odt" "$WORK/dl" "$WORK/x"

# --- PDFs from the Debian package -------------------------------------------------------
# apt-get download writes into the current directory; _apt cannot write into a root-owned
# temp dir, so apt falls back to an unsandboxed download (a warning, not an error).
apt_download() { (cd "$WORK/dl" && apt-get download -q "$@") >&2; }
if ! apt_download "$DEB_PKG=$DEB_VERSION" 2>/dev/null; then
  log "apt-get download $DEB_PKG=$DEB_VERSION failed; refreshing the package lists (apt-get update)"
  apt-get update -q >&2 || die "apt-get update failed"
  if ! apt_download "$DEB_PKG=$DEB_VERSION"; then
    log "version $DEB_VERSION is not available; taking the current $DEB_PKG (phrase tests may need updating)"
    apt_download "$DEB_PKG" || die "apt-get download $DEB_PKG failed"
  fi
fi
deb="$(find "$WORK/dl" -name "${DEB_PKG}_*.deb" | head -n1)"
[[ -n "$deb" ]] || die "no .deb downloaded for $DEB_PKG"
dpkg-deb -x "$deb" "$WORK/x/deb" || die "dpkg-deb -x $deb failed"

# --- DOCX and ODT from the PyPI source distributions ------------------------------------
"$PYTHON" -m pip download -q --disable-pip-version-check --no-binary :all: --no-deps \
  -d "$WORK/dl" "$DOCX_SDIST" "$ODT_SDIST" >&2 || die "pip download $DOCX_SDIST $ODT_SDIST failed"
for sdist in "$WORK"/dl/*.tar.gz; do
  tar -xzf "$sdist" -C "$WORK/x" || die "cannot unpack $sdist"
done

# Flat layout pdf/ docx/ odt/ by file name. Identical duplicates (the python-docx sdist
# ships some files twice) are kept once; a different file with a taken name is prefixed
# with its parent directory.
copy_flat() { # copy_flat EXT SUBDIR
  local ext="$1" sub="$2" f name
  while IFS= read -r -d '' f; do
    name="$(basename "$f")"
    if [[ -e "$NEW/$sub/$name" ]]; then
      cmp -s "$f" "$NEW/$sub/$name" && continue
      name="$(basename "$(dirname "$f")")-$name"
      [[ -e "$NEW/$sub/$name" ]] && { cmp -s "$f" "$NEW/$sub/$name" && continue; die "name clash for $f"; }
    fi
    cp "$f" "$NEW/$sub/$name"
  done < <(find "$WORK/x" -type f -name "*.$ext" -print0 | sort -z)
}
copy_flat pdf pdf
copy_flat docx docx
copy_flat odt odt

count() { find "$NEW/$1" -type f | wc -l; }
n_pdf="$(count pdf)" n_docx="$(count docx)" n_odt="$(count odt)"
((n_pdf >= MIN_PDF)) || die "only $n_pdf PDFs (expected >= $MIN_PDF)"
((n_docx >= MIN_DOCX)) || die "only $n_docx DOCX files (expected >= $MIN_DOCX)"
((n_odt >= MIN_ODT)) || die "only $n_odt ODT files (expected >= $MIN_ODT)"

{
  printf '# %s\n# file sha256, relative to this directory\n' "$STAMP_TEXT"
  (cd "$NEW" && find pdf docx odt -type f -print0 | sort -z | xargs -0 sha256sum)
} >"$NEW/SHA256SUMS"
printf '%s' "$STAMP_TEXT" >"$NEW/STAMP"

rm -rf "$DEST"
mv "$NEW" "$DEST"
log "corpus ready in $DEST: $n_pdf PDF, $n_docx DOCX, $n_odt ODT"
printf '%s\n' "$DEST"
