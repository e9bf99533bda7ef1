#!/usr/bin/env bash
# Browser end-to-end test of the web UI: `bash .ci/e2e.sh BINARY [ARTIFACT_DIR]`.
#
# Starts BINARY (`docuvault serve`, e.g. target/release/docuvault) on embedded defaults
# (SQLite + local objects) in a temp data dir on a free port, with a bootstrap admin,
# then drives Debian Chromium through frontend/e2e/run.mjs (playwright-core, never a
# downloaded browser). Screenshots go to ARTIFACT_DIR (default .ci/artifacts/screenshots),
# the server log to ARTIFACT_DIR/../e2e-server.log.
#
# E2E_BACKENDS=postgres-s3 runs the same test against PostgreSQL (E2E_PG_URL, default
# postgres://postgres@127.0.0.1:5432/postgres; a fresh database is created and dropped)
# and S3: s3s-fs (must be on PATH, as .ci/run installs it) behind nginx adding CORS, so
# the browser PUTs and GETs straight to storage through presigned URLs. Other settings
# pass through as environment (DOCUVAULT__…). E2E_PENDING=pipeline,search,ocr,view,thumbnails,trash,versions,export,tokens,webhooks,folder,mail,email
# reports steps of server features that have not landed yet instead of failing them.
#
# Both backends send their e-mail to a real SMTP server: aiosmtpd (plain SMTP on a free
# port, its Maildir handler writing each message as a file into a temp Maildir, passed
# to run.mjs as E2E_MAILDIR), run by E2E_PYTHON (default .ci/.venv/bin/python, the venv
# .ci/run creates). Without a Python that imports aiosmtpd the e2e fails, unless
# E2E_PENDING names `email` (then the server logs its e-mail and the steps reading it
# are reported pending).
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

# The e2e scans a PDF page into a JPEG (pdftoppm, ImageMagick); the server reads it with
# Tesseract (.ci/run installs all three).
if ! command -v pdftoppm >/dev/null || ! command -v convert >/dev/null; then
  echo "e2e: installing poppler-utils and imagemagick"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y poppler-utils imagemagick >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y poppler-utils imagemagick >/dev/null; }
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
chmod 755 "$TMP"
SERVER_PID=""
S3S_PID=""
NGINX_PID=""
SMTP_PID=""
PG_DB=""
BACKENDS="${E2E_BACKENDS:-embedded}"
PG_URL="${E2E_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
stop_pid() {
  local pid="$1"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  stop_pid "$SMTP_PID"
  stop_pid "$NGINX_PID"
  stop_pid "$S3S_PID"
  if [[ -n "$PG_DB" ]]; then psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true; fi
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  cp "$TMP/server.log" "$ARTIFACTS/../e2e-server-$BACKENDS.log" 2>/dev/null || true
  cp "$TMP/smtp.log" "$ARTIFACTS/../e2e-smtp-$BACKENDS.log" 2>/dev/null || true
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
SERVER_ENV=()
STORAGE_ORIGIN="http://127.0.0.1:$PORT"

if [[ "$BACKENDS" == postgres-s3 ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
  command -v s3s-fs >/dev/null || { echo "e2e: s3s-fs not on PATH (cargo install s3s-fs@0.14.1 --features binary --locked)" >&2; exit 2; }
  if ! command -v nginx >/dev/null; then
    echo "e2e: installing nginx-light"
    DEBIAN_FRONTEND=noninteractive apt-get install -y nginx-light >/dev/null 2>&1 \
      || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y nginx-light >/dev/null; }
  fi
  PG_DB="dv_e2e_$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  psql "$PG_URL" -qc "CREATE DATABASE $PG_DB" >/dev/null
  S3_PORT="$(free_port)"
  NGX_PORT="$(free_port)"
  S3_KEY="e2eaccess"
  S3_SECRET="e2esecret-$RANDOM$RANDOM"
  mkdir -p "$TMP/s3" "$TMP/nginx"
  s3s-fs --host 127.0.0.1 --port "$S3_PORT" --access-key "$S3_KEY" --secret-key "$S3_SECRET" "$TMP/s3" >"$TMP/s3s-fs.log" 2>&1 &
  S3S_PID=$!
  # nginx in front of s3s-fs: CORS for the browser, the Host header kept so the
  # presigned signatures (made for this host:port) still verify.
  cat >"$TMP/nginx/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_max_body_size 0;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  server {
    listen 127.0.0.1:$NGX_PORT;
    location / {
      if (\$request_method = OPTIONS) {
        add_header Access-Control-Allow-Origin \$http_origin always;
        add_header Access-Control-Allow-Methods "GET, PUT, HEAD" always;
        add_header Access-Control-Allow-Headers "content-type, x-amz-content-sha256, x-amz-date, authorization" always;
        add_header Access-Control-Max-Age 600 always;
        return 204;
      }
      add_header Access-Control-Allow-Origin \$http_origin always;
      add_header Access-Control-Expose-Headers ETag always;
      proxy_set_header Host \$http_host;
      proxy_request_buffering off;
      proxy_pass http://127.0.0.1:$S3_PORT;
    }
  }
}
NGINX
  nginx -c "$TMP/nginx/nginx.conf" >"$TMP/nginx/stdout.log" 2>&1 &
  NGINX_PID=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && curl -s -o /dev/null "http://127.0.0.1:$NGX_PORT/" && break
    sleep 0.2
  done
  SERVER_ENV=(
    "DATABASE_URL=${PG_URL%/*}/$PG_DB"
    "MINIO_ENDPOINT=http://127.0.0.1:$S3_PORT"
    "MINIO_PUBLIC_ENDPOINT=http://127.0.0.1:$NGX_PORT"
    "MINIO_ACCESS_KEY=$S3_KEY"
    "MINIO_SECRET_KEY=$S3_SECRET"
    "MINIO_BUCKET=docuvault-e2e"
    "DOCUVAULT__STORAGE__S3__REGION=dv-e2e"
  )
  STORAGE_ORIGIN="http://127.0.0.1:$NGX_PORT"
  echo "e2e: PostgreSQL database $PG_DB, s3s-fs :$S3_PORT behind nginx (CORS) :$NGX_PORT"
elif [[ "$BACKENDS" != embedded ]]; then
  echo "e2e: E2E_BACKENDS must be embedded or postgres-s3" >&2
  exit 2
fi
# Connections (issue 15), for the features this binary has (its OpenAPI document lists
# their routes): webhooks may call the e2e's own receiver on 127.0.0.1, mail accounts may
# name 127.0.0.1 (the e2e's closed port), and a watched
# folder the test drops files into, polled every second.
WATCH_DIR=""
CONFIG_FILE="$TMP/e2e.toml"
: >"$CONFIG_FILE"
API_DOC="$("$BIN" openapi 2>/dev/null || true)"
if grep -q '"/api/webhooks"' <<<"$API_DOC"; then
  printf '[webhooks]\nallowed_hosts = ["127.0.0.1"]\n\n' >>"$CONFIG_FILE"
fi
if grep -q '"/api/intake/mail"' <<<"$API_DOC"; then
  printf '[mail_intake]\nallowed_hosts = ["127.0.0.1"]\n\n' >>"$CONFIG_FILE"
fi
if grep -q '"/api/ingest/status"' <<<"$API_DOC"; then
  WATCH_DIR="$TMP/watch"
  mkdir -p "$WATCH_DIR"
  printf '[ingest]\nwatch_dir = "%s"\npoll_secs = 1\nstable_secs = 1\n\n' "$WATCH_DIR" >>"$CONFIG_FILE"
fi
SERVER_ENV+=("DOCUVAULT_CONFIG=$CONFIG_FILE")

# A real SMTP server for the e-mail the server sends (password reset links, share
# notices, security alerts): aiosmtpd's Maildir handler stores each message as a file
# in $MAILDIR/new. A port other than 465/587 and no credentials: plain SMTP.
MAILDIR=""
SMTP_PYTHON="${E2E_PYTHON:-$ROOT/.ci/.venv/bin/python}"
PENDING_LIST=",${E2E_PENDING:-},"
if SMTP_VERSION="$("$SMTP_PYTHON" -c 'import aiosmtpd; print(aiosmtpd.__version__)' 2>&1)"; then
  MAILDIR="$TMP/mail"
  SMTP_PORT="$(free_port)"
  "$SMTP_PYTHON" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$MAILDIR" \
    </dev/null >"$TMP/smtp.log" 2>&1 &
  SMTP_PID=$!
  deadline=$((SECONDS + 20))
  until (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT") 2>/dev/null; do
    if ! kill -0 "$SMTP_PID" 2>/dev/null || ((SECONDS > deadline)); then
      echo "e2e: aiosmtpd did not listen on 127.0.0.1:$SMTP_PORT; its log:" >&2
      cat "$TMP/smtp.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  SERVER_ENV+=(
    "SMTP_HOST=127.0.0.1"
    "SMTP_PORT=$SMTP_PORT"
    "SMTP_USER="
    "SMTP_PASSWORD="
  )
  echo "e2e: aiosmtpd $SMTP_VERSION on 127.0.0.1:$SMTP_PORT, Maildir $MAILDIR"
elif [[ "$PENDING_LIST" == *,email,* ]]; then
  echo "e2e: no SMTP server ($SMTP_PYTHON can't import aiosmtpd: ${SMTP_VERSION##*$'\n'}); e-mail steps pending (E2E_PENDING=email)"
else
  echo "e2e: $SMTP_PYTHON can't import aiosmtpd (${SMTP_VERSION##*$'\n'}); the e2e needs a real SMTP server:" >&2
  echo "e2e: set E2E_PYTHON to a Python with aiosmtpd (.ci/run creates .ci/.venv), or E2E_PENDING=email" >&2
  exit 2
fi

ADMIN_EMAIL="admin-e2e@example.com"
ADMIN_PASSWORD="e2e-admin-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"

echo "e2e: starting $BIN on 127.0.0.1:$PORT ($BACKENDS; data in $TMP/data)"
(
  cd "$TMP"
  DOCUVAULT__DATA_DIR="$TMP/data" \
  DOCUVAULT__SERVER__HOST=127.0.0.1 \
  DOCUVAULT__SERVER__PORT="$PORT" \
  DOCUVAULT_ADMIN_EMAIL="$ADMIN_EMAIL" \
  DOCUVAULT_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
  exec env "${SERVER_ENV[@]}" "$BIN" serve
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
E2E_STORAGE_ORIGIN="$STORAGE_ORIGIN" \
E2E_WATCH_DIR="$WATCH_DIR" \
E2E_MAILDIR="$MAILDIR" \
  node e2e/run.mjs
