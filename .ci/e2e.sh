#!/usr/bin/env bash
# Browser end-to-end test of the web UI: `bash .ci/e2e.sh BINARY [ARTIFACT_DIR]`.
#
# Starts BINARY (`docuvault serve`, e.g. target/release/docuvault) on embedded defaults
# (SQLite + local objects) in a temp data dir on a free port, with a bootstrap admin,
# then drives Debian Chromium through frontend/e2e/run.mjs (playwright-core, never a
# downloaded browser). Screenshots go to ARTIFACT_DIR (default .ci/artifacts/screenshots),
# the server log to ARTIFACT_DIR/../e2e-server.log.
#
# Extra settings can be passed as environment (DOCUVAULT__…, DATABASE_URL, MINIO_…) to run
# the same test against PostgreSQL + S3. E2E_PENDING=pipeline,search reports steps of
# server features that have not landed yet instead of failing them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:?usage: .ci/e2e.sh BINARY [ARTIFACT_DIR]}"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
ARTIFACTS="${2:-$ROOT/.ci/artifacts/screenshots}"
mkdir -p "$ARTIFACTS"
ARTIFACTS="$(cd "$ARTIFACTS" && pwd)"
[[ -x "$BIN" ]] || { echo "e2e: no executable at $BIN" >&2; exit 2; }

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM" ]]; then
  echo "e2e: installing Debian chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y chromium >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
fi

cd "$ROOT/frontend"
if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

echo "e2e: unit tests (vitest)"
npx vitest run

# The committed static/ is what the binary embeds: it must be the build of frontend/.
echo "e2e: static/ is the build of frontend/"
FRESH="$(mktemp -d -t docuvault-static.XXXXXX)"
npx vite build --logLevel error --outDir "$FRESH" --emptyOutDir
if ! diff -r "$FRESH" "$ROOT/static" >/dev/null; then
  diff -rq "$FRESH" "$ROOT/static" >&2 || true
  rm -rf "$FRESH"
  echo "e2e: static/ is stale: run 'npm run build' in frontend/ and commit static/" >&2
  exit 1
fi
rm -rf "$FRESH"
node scripts/sizes.mjs

TMP="$(mktemp -d -t docuvault-e2e.XXXXXX)"
SERVER_PID=""
cleanup() {
  local rc=$?
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  cp "$TMP/server.log" "$ARTIFACTS/../e2e-server.log" 2>/dev/null || true
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
ADMIN_EMAIL="admin-e2e@example.com"
ADMIN_PASSWORD="e2e-admin-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"

echo "e2e: starting $BIN on 127.0.0.1:$PORT (data in $TMP/data)"
(
  cd "$TMP"
  DOCUVAULT__DATA_DIR="$TMP/data" \
  DOCUVAULT__SERVER__HOST=127.0.0.1 \
  DOCUVAULT__SERVER__PORT="$PORT" \
  DOCUVAULT_ADMIN_EMAIL="$ADMIN_EMAIL" \
  DOCUVAULT_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  exec "$BIN" serve
) >"$TMP/server.log" 2>&1 &
SERVER_PID=$!

deadline=$((SECONDS + 60))
until curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; do
  if ! kill -0 "$SERVER_PID" 2>/dev/null || ((SECONDS > deadline)); then
    echo "e2e: server did not become healthy; log:" >&2
    tail -50 "$TMP/server.log" >&2
    exit 1
  fi
  sleep 0.3
done

BASE_URL="http://127.0.0.1:$PORT" \
ADMIN_LOGIN="$ADMIN_EMAIL" \
ADMIN_PASSWORD="$ADMIN_PASSWORD" \
SCREENSHOT_DIR="$ARTIFACTS" \
CHROMIUM="$CHROMIUM" \
  node e2e/run.mjs
