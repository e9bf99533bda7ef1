#!/usr/bin/env bash
# Full-text search benchmark: GET /api/documents?q=… over DOCS documents (10 users), on
# PostgreSQL and on SQLite, against a release `docuvault`, with real long documents and
# with short synthetic ones.
#
#   bench/search/run.sh                                   # both corpora, both backends, 100 000 documents
#   DOCS=20000 bench/search/run.sh                        # a smaller run (about 25 min on 2 cores)
#   CORPUS=real BACKENDS=postgres bench/search/run.sh     # one corpus on one backend
#   NO_BUILD=1 bench/search/run.sh                        # reuse target/release/docuvault as it is
#
# Knobs (environment):
#   CORPUS       real | synthetic | both (default both)
#   DOCS         documents per corpus (default 100000), spread evenly over USERS (default 10)
#   BACKENDS     "postgres sqlite" (default) or one of them
#   ROUNDS       sequential passes over the query mix after a warm-up pass (default 3)
#   QUERIES      queries per class (default 10)
#   CONCURRENCY  concurrent clients, one keep-alive connection each (default 8)
#   CONC_SECS    seconds of the concurrent search mix (default 20; the list baseline half)
#   SEED         corpus and query seed (default 20261124)
#   MAX_CHARS    text kept per real document (default 1000000 = the server's extract.max_chars)
#   INJECT       rare dictionary words added to each real document (default 8)
#   TRASH_EVERY  every n-th document of each user is in the trash (default 0: none)
#   PG_BASE      PostgreSQL server (default postgres://postgres@127.0.0.1:5432, trust auth;
#                the script creates and drops its own database docuvault_bench_search_*)
#   WORDS_FILE   word list (default /usr/share/dict/words, Debian `wamerican`, installed
#                with apt-get when missing and running as root)
#   TEXTS_DIR    the real texts (default: what bench/search/fetch-texts.sh fetches and caches
#                under ~/.cache/docuvault-corpus/search-v1: 268 PDFs of Debian's
#                texlive-latex-base-doc 2022.20230122-3, pdftotext; needs poppler-utils)
#   NO_BUILD=1   skip `cargo build --release` (CARGO_TARGET_DIR is honoured)
#   KEEP_WORK=1  keep the temp dir (server logs, SQLite files); KEEP_DB=1 keep PostgreSQL's
#
# What it does (details in bench/search/search.py):
#   1. cargo build --release (skipped with NO_BUILD=1)
#   2. the real corpus: fetch-texts.sh (cached: offline reruns work), then 268 LaTeX
#      manuals (median 16 KiB of text, up to 3.6 MiB) replicated with variation to DOCS
#      documents (windows of paragraphs, shuffled blocks and sentences, swapped words,
#      rare dictionary words, varied file names); the synthetic corpus: Zipf-distributed
#      dictionary words, short documents
#   3. per corpus and backend: fresh database, release binary on a free port (workers off,
#      rate limiter off), USERS accounts through the API, the documents bulk-inserted with
#      SQL (psql \copy + VACUUM ANALYZE; SQLite executemany in one transaction, the FTS
#      triggers indexing each row)
#   4. 12 query classes chosen from the corpus (very common, common, medium, rare, absent,
#      2 words, 3 words, phrase, stop-word phrase, exclusion, file name, prefix), each user
#      searching their own documents, per_page=20: sequential (ROUNDS passes) and with
#      CONCURRENCY connections for CONC_SECS s; the list request without q measured the
#      same way in the same run is the baseline
#   5. suggestions (GET /api/documents/suggest): each user's vocabulary is built in the
#      background by their first request (the documents were bulk-inserted, not
#      extracted), then the starts (2-5 letters) of the query words are typed; target
#      p95 < 20 ms (SUGGEST_BUILD_SECS, default 900, bounds the wait for the build)
#   6. prints p50/p95/p99/max per class, sequential and concurrent, the hits per class and
#      how many hit the 1 000-hit limit, whether prefix queries matched as prefixes, what
#      count=exact costs on the very common and common words, the baseline, and the target
#      of issue 17 per class:
#        p95 < 50 ms, sequential and concurrent, 0 errors
#      and writes the report to bench/out/search.txt (git-ignored).
#
# Exit code: 0 = all targets met, 2 = a target missed, 1 = the benchmark itself failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
NAME=search
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
export PATH="$HOME/.cargo/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/docuvault"
OUT_DIR="$ROOT/bench/out"
OUT="$OUT_DIR/search.txt"
mkdir -p "$OUT_DIR"

CORPUS="${CORPUS:-both}"
case "$CORPUS" in
  real | synthetic | both) ;;
  *) echo "search bench: CORPUS must be real, synthetic or both, not '$CORPUS'" >&2; exit 1 ;;
esac
export CORPUS

WORDS_FILE="${WORDS_FILE:-/usr/share/dict/words}"
if [[ ! -r "$WORDS_FILE" ]]; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "== apt-get install -y wamerican (word list for the corpora) =="
    apt-get install -y wamerican >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wamerican >/dev/null; }
  fi
  [[ -r "$WORDS_FILE" ]] || { echo "search bench: $WORDS_FILE missing (apt-get install -y wamerican)" >&2; exit 1; }
fi
export WORDS_FILE
if [[ "$CORPUS" != synthetic && -z "${TEXTS_DIR:-}" ]]; then
  echo "== real texts (bench/search/fetch-texts.sh, cached) =="
  TEXTS_DIR="$(bash "$ROOT/bench/search/fetch-texts.sh")" || { echo "search bench: fetching the real texts failed" >&2; exit 1; }
fi
export TEXTS_DIR="${TEXTS_DIR:-}"
if [[ " ${BACKENDS:-postgres sqlite} " == *" postgres "* ]]; then
  command -v psql >/dev/null || { echo "search bench: psql missing (apt-get install -y postgresql-client)" >&2; exit 1; }
fi

bench_build_release
bench_describe_commit

bench_work_dir_with_binary
status=0
python3 "$ROOT/bench/search/search.py" "$WORK/docuvault" "$WORK" "$OUT" || status=$?
exit "$status"
