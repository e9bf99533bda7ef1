#!/usr/bin/env bash
# Property-based API tests of a RUNNING docuvault with schemathesis.
#
#   .ci/schemathesis.sh http://127.0.0.1:8080 [REPORT_DIR]
#
# Used by .ci/run (which starts a throwaway server first); works the same against
# a server you started yourself (`cargo run`, then this script). Needs .ci/.venv
# (.ci/run creates it; or: python3 -m venv .ci/.venv &&
#  .ci/.venv/bin/pip install -r .ci/requirements.txt -c .ci/constraints.txt).
#
# Pass 1 registers a fresh user through the API and fuzzes every operation with
# its bearer token. Pass 2 (only when ST_ADMIN_EMAIL/ST_ADMIN_PASSWORD are set and
# that login works) fuzzes /api/admin/* with an admin token.
# Every schemathesis check is on (`--checks all`): a 5xx, a response that does not
# match the spec, an accepted invalid input, an unenforced auth ... each fails the run
# (schemathesis exits non-zero; so does this script).
#
# Knobs (env): ST_MAX_EXAMPLES (default 25 per operation), ST_SEED (default fixed,
# so CI is reproducible; vary it locally to explore), ST_WORKERS (default 2),
# ST_TIMEOUT (seconds per pass, default 900), ST_ADMIN_EMAIL, ST_ADMIN_PASSWORD,
# ST_ADMIN_HANDLE.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE_URL="${1:?usage: $0 BASE_URL [REPORT_DIR]}"
BASE_URL="${BASE_URL%/}"
REPORT_DIR="${2:-$(mktemp -d -t docuvault-st.XXXXXX)}"
mkdir -p "$REPORT_DIR"
REPORT_DIR="$(cd "$REPORT_DIR" && pwd)"
SPEC_URL="$BASE_URL/api/openapi.json"
VENV="$ROOT/.ci/.venv"
ST="$VENV/bin/st"
PY="$VENV/bin/python"
[[ -x "$ST" ]] || { echo "schemathesis.sh: $ST missing (run .ci/run or create .ci/.venv)" >&2; exit 1; }

MAX_EXAMPLES="${ST_MAX_EXAMPLES:-25}"
SEED="${ST_SEED:-20261124}"
WORKERS="${ST_WORKERS:-2}"
PASS_TIMEOUT="${ST_TIMEOUT:-900}"

# Get a token; exit 1 from api_login = server error (fatal), 3 = could not log in.
get_token() {
  local rc=0 token
  token="$("$PY" "$ROOT/.ci/api_login.py" "$SPEC_URL" "$@")" || rc=$?
  if [[ $rc -eq 1 ]]; then
    echo "schemathesis.sh: FAIL: the server errored while logging in (see above)" >&2
    exit 1
  fi
  [[ $rc -eq 0 ]] && printf '%s' "$token"
  return 0
}

run_st() { # run_st NAME TOKEN [extra st args...]
  local name="$1" token="$2"; shift 2
  local args=(
    run "$SPEC_URL"
    --checks all
    --max-examples "$MAX_EXAMPLES"
    --seed "$SEED"
    --workers "$WORKERS"
    --request-timeout 20
    --generation-database none
    --report junit --report-junit-path "$REPORT_DIR/$name.junit.xml"
    --no-color
  )
  [[ -n "$token" ]] && args+=(-H "Authorization: Bearer $token")
  echo "--- schemathesis pass '$name' (max-examples=$MAX_EXAMPLES seed=$SEED workers=$WORKERS) ---"
  # Run from the report dir so nothing (reports, caches) lands in the work tree.
  (cd "$REPORT_DIR" && timeout --kill-after=30 "$PASS_TIMEOUT" "$ST" "${args[@]}" "$@")
}

status=0

# Log in both accounts before fuzzing: the fuzzer hammers the auth endpoints, and
# their rate limiter would refuse a login attempted after the first pass.
USER_TOKEN="$(get_token register)"
if [[ -z "$USER_TOKEN" ]]; then
  echo "schemathesis.sh: WARNING: could not register/log in a user through the API;" >&2
  echo "schemathesis.sh: WARNING: fuzzing WITHOUT credentials (protected routes only see 401)." >&2
fi
ADMIN_TOKEN=""
if [[ -n "${ST_ADMIN_EMAIL:-}" && -n "${ST_ADMIN_PASSWORD:-}" ]]; then
  ADMIN_TOKEN="$(get_token login "$ST_ADMIN_EMAIL" "$ST_ADMIN_PASSWORD" "${ST_ADMIN_HANDLE:-}")"
  [[ -n "$ADMIN_TOKEN" ]] \
    || echo "schemathesis.sh: WARNING: admin login as $ST_ADMIN_EMAIL failed; skipping the /api/admin pass." >&2
fi

run_st user "$USER_TOKEN" || status=$?
if [[ -n "$ADMIN_TOKEN" ]]; then
  run_st admin "$ADMIN_TOKEN" --include-path-regex '^/api/admin' || { rc=$?; [[ $status -ne 0 ]] || status=$rc; }
fi

if [[ $status -ne 0 ]]; then
  echo "schemathesis.sh: FAIL (exit $status); JUnit reports in $REPORT_DIR" >&2
else
  echo "schemathesis.sh: OK; JUnit reports in $REPORT_DIR"
fi
exit "$status"
