# Shared steps of the bench/*/run.sh scripts; sourced after they set ROOT, BIN and NAME
# (the bench's name, for messages). Each function exits 1 with a message naming the bench
# when its step fails.

# Builds the release binary (skipped with NO_BUILD=1) and checks that $BIN exists.
bench_build_release() {
  if [[ "${NO_BUILD:-}" != 1 ]]; then
    echo "== cargo build --release (about 7 min from clean) =="
    cargo build --release --bin docuvault || { echo "$NAME bench: cargo build --release failed" >&2; exit 1; }
  fi
  [[ -x "$BIN" ]] || { echo "$NAME bench: $BIN missing" >&2; exit 1; }
}

# Exports BENCH_COMMIT, what was measured: HEAD, and the files under src/ etc. that differ
# from it (set BENCH_COMMIT to describe it yourself, e.g. in an exported tree without .git);
# with NO_BUILD=1 also when the binary was built.
bench_describe_commit() {
  local paths=(src migration Cargo.toml Cargo.lock config)
  if [[ -z "${BENCH_COMMIT:-}" ]]; then
    BENCH_COMMIT="$(git log -1 --format='%h %s' 2>/dev/null | cut -c1-100 || true)"
    if [[ -n "$(git status --porcelain -- "${paths[@]}" 2>/dev/null)" ]]; then
      BENCH_COMMIT="$BENCH_COMMIT (+ uncommitted changes in src/ etc.: $(git status --porcelain -- "${paths[@]}" | awk '{print $2}' | tr '\n' ' '))"
    fi
  fi
  if [[ "${NO_BUILD:-}" == 1 ]]; then
    BENCH_COMMIT="$BENCH_COMMIT (NO_BUILD=1: binary built $(date -r "$BIN" '+%Y-%m-%d %H:%M'))"
  fi
  export BENCH_COMMIT
}

# Sets WORK to a new temporary directory, removed on exit unless KEEP_WORK is set, and puts
# a private copy of $BIN in it as $WORK/docuvault (other builds may replace
# target/release/docuvault meanwhile); exports BENCH_BIN_DESC saying which binary that is.
bench_work_dir_with_binary() {
  WORK="$(mktemp -d -t "docuvault-$NAME-bench.XXXXXX")"
  if [[ -n "${KEEP_WORK:-}" ]]; then
    echo "work dir (kept): $WORK"
  else
    trap 'rm -rf "$WORK"' EXIT
  fi
  cp "$BIN" "$WORK/docuvault"
  export BENCH_BIN_DESC="$BIN, built $(date -r "$BIN" '+%Y-%m-%d %H:%M:%S'), run from a copy"
}
