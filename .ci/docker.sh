#!/usr/bin/env bash
# .ci/docker.sh RELEASE_BINARY: builds the container image around RELEASE_BINARY and proves
# it (called by .ci/run, section 7). Fails loudly; nothing is skipped.
#
#   engine   Debian's docker.io (+ docker-compose, debootstrap) installed when missing;
#            dockerd started when not answering (log: /var/log/docuvault-ci-dockerd.log)
#            and stopped again at the end if this script started it.
#   base     no registry is reachable: debian:bookworm-slim is imported from a debootstrap
#            minbase rootfs, cached as ~/.cache/docuvault-ci/debian-bookworm-minbase-ARCH.tar.gz
#            (rebuilt when older than 30 days).
#   context  the published build context (repo root through .dockerignore) holds the
#            sources cargo needs and no local state, build output or secrets.
#   image    the Dockerfile with DOCUVAULT_BINARY=prebuilt, its context a temp dir holding
#            only the binary (the runtime stage is the published one).
#   run      `docker run -p … -v VOL:/data IMAGE` with no configuration at all:
#            /health 200; every process uid 10001; the image's HEALTHCHECK command passes;
#            /data/secret.key generated (mode 0600, uid 10001, logged by path, never by
#            value); register → upload-url → PUT → confirm → processed → download == bytes;
#            /health reports OCR, and a scanned page (PNG rendered from a real PDF) is read
#            by Tesseract in the container (≥ 80 % of the page's own words, provenance "ocr");
#            docker stop -t 35 (SIGTERM) → exit 0 well within the grace period;
#            docker start, and a new container on the same volume: same secret, the account
#            logs in, the document lists and downloads identically; no panic in any log;
#            `docuvault fsck` in the image finds the volume clean.
#   compose  docker-compose 1.29 `config` with .env.example: refuses while a required value
#            is empty (names it), accepts once they are set. The images in compose.yaml
#            (postgres, redis, minio) cannot be pulled here, so the stack is not started;
#            instead the image runs with the app service's resolved environment (production
#            mode), only the service addresses/credentials swapped for the PostgreSQL, Redis
#            and s3s-fs servers .ci/run started (DOCUVAULT_TEST_*, required): /health 200 on
#            postgres/s3/redis, the upload -> download round trip, JSON logs, SIGTERM -> 0.
#
# Knobs: DOCKER_CI_KEEP=1 keeps the containers, volume and temp dir for inspection.
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 RELEASE_BINARY" >&2; exit 2; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
cd "$ROOT"

T0=$SECONDS
step() { printf -- '--- [docker %3ds] %s\n' "$((SECONDS - T0))" "$*"; }
die() { printf '\nDOCKER CHECK FAILED: %s\n' "$*" >&2; exit 1; }
[[ -x "$BIN" ]] || die "$BIN is not an executable binary"

IMAGE="docuvault:ci"
BASE_IMAGE="debian:bookworm-slim"
ARCH="$(dpkg --print-architecture 2>/dev/null || uname -m)"
CACHE_DIR="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/docuvault-ci"
ROOTFS_TAR="$CACHE_DIR/debian-bookworm-minbase-$ARCH.tar.gz"
DOCKERD_LOG="/var/log/docuvault-ci-dockerd.log"
NAME="docuvault-ci-$$"
VOLUME="docuvault-ci-data-$$"
WORK="$(mktemp -d -t docuvault-docker.XXXXXX)"
DOCKERD_PID=""
DB=""
DB_CREATED=""
CONTAINERS=()
GRACE=35 # docker stop -t; the server drains for up to server.shutdown_timeout_secs (30 s)

cleanup() {
  local rc=$?
  if [[ "${DOCKER_CI_KEEP:-}" == 1 ]]; then
    echo "kept: containers ${CONTAINERS[*]:-none}, volume $VOLUME, temp dir $WORK"
  else
    for c in "${CONTAINERS[@]}"; do docker rm -f -v "$c" >/dev/null 2>&1 || true; done
    docker volume rm -f "$VOLUME" >/dev/null 2>&1 || true
    [[ -z "$DB_CREATED" ]] || psql "$DOCUVAULT_TEST_POSTGRES_URL" -qAt \
      -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
  fi
  if [[ -n "$DOCKERD_PID" ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    local deadline=$((SECONDS + 20))
    while kill -0 "$DOCKERD_PID" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    kill -KILL "$DOCKERD_PID" 2>/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT

###############################################################################
step "engine"
###############################################################################
# Debian's CLI (/usr/bin/docker, 20.10) drives BuildKit without the buildx plugin.
docker() { /usr/bin/docker "$@"; }
MISSING=()
[[ -x /usr/bin/docker && -x /usr/sbin/dockerd ]] || MISSING+=(docker.io)
command -v docker-compose >/dev/null || MISSING+=(docker-compose)
command -v debootstrap >/dev/null || MISSING+=(debootstrap)
if ((${#MISSING[@]})); then
  echo "+ apt-get install -y ${MISSING[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${MISSING[@]}" >"$WORK/apt.log" 2>&1 \
    || { apt-get update -q >>"$WORK/apt.log" 2>&1 && apt-get install -y -q "${MISSING[@]}" >>"$WORK/apt.log" 2>&1; } \
    || { tail -n 30 "$WORK/apt.log" >&2; die "could not install ${MISSING[*]} with apt-get"; }
fi
docker --version
docker-compose --version

if ! docker info >/dev/null 2>&1; then
  echo "+ dockerd (not answering; starting it, log $DOCKERD_LOG)"
  setsid /usr/sbin/dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
  DOCKERD_PID=$!
  deadline=$((SECONDS + 60))
  until docker info >/dev/null 2>&1; do
    if ! kill -0 "$DOCKERD_PID" 2>/dev/null || ((SECONDS >= deadline)); then
      tail -n 40 "$DOCKERD_LOG" >&2 || true
      die "dockerd did not come up within 60 s (see $DOCKERD_LOG)"
    fi
    sleep 0.2
  done
fi
docker info --format 'engine {{.ServerVersion}}, storage driver {{.Driver}}, cgroup v{{.CgroupVersion}}'

###############################################################################
step "base image $BASE_IMAGE"
###############################################################################
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "$BASE_IMAGE present ($(docker image inspect -f '{{.Created}}' "$BASE_IMAGE"))"
else
  if [[ ! -s "$ROOTFS_TAR" ]] || [[ -n "$(find "$ROOTFS_TAR" -mtime +30 2>/dev/null)" ]]; then
    echo "+ debootstrap --variant=minbase bookworm (about 45 s) -> $ROOTFS_TAR"
    mkdir -p "$CACHE_DIR"
    debootstrap --variant=minbase bookworm "$WORK/rootfs" >"$WORK/debootstrap.log" 2>&1 \
      || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    rm -rf "$WORK"/rootfs/var/cache/apt/archives/*.deb "$WORK"/rootfs/var/lib/apt/lists/*
    tar -C "$WORK/rootfs" -c . | gzip -1 >"$ROOTFS_TAR.partial"
    mv "$ROOTFS_TAR.partial" "$ROOTFS_TAR"
    rm -rf "$WORK/rootfs"
  fi
  echo "+ docker import $ROOTFS_TAR $BASE_IMAGE"
  docker import "$ROOTFS_TAR" "$BASE_IMAGE" >/dev/null || die "docker import failed"
fi

###############################################################################
step "published build context (.dockerignore)"
###############################################################################
# Lists what `docker build .` sends, without the Rust image (which cannot be pulled here).
printf 'FROM %s\nCOPY . /ctx\nRUN cd /ctx && find . -mindepth 1 \\( -type f -o -type l \\) | sort >/ctx.list\n' \
  "$BASE_IMAGE" >"$WORK/Dockerfile.context"
DOCKER_BUILDKIT=1 docker build -q -f "$WORK/Dockerfile.context" -t docuvault-ci-context:latest . >/dev/null \
  || die "could not build the context probe"
docker run --rm docuvault-ci-context:latest cat /ctx.list >"$WORK/context.list"
docker rmi docuvault-ci-context:latest >/dev/null 2>&1 || true
python3 - "$WORK/context.list" <<'PY' || die "the published build context is wrong (fix .dockerignore)"
import re, sys
files = [l[2:] for l in open(sys.argv[1]).read().splitlines()]
need = ["Cargo.toml", "Cargo.lock", "src/main.rs", "src/lib.rs", "migration/Cargo.toml",
        "config/default.toml", "static/index.html", "Dockerfile"]
missing = [f for f in need if f not in files]
leaked = [f for f in files if re.match(
    r"(.*/)?(target|node_modules|\.venv|__pycache__)/|\.git/|\.git$|data/|\.ci/artifacts/|bench/out/"
    r"|(.*/)?\.env(\..*)?$|.*\.db(-wal|-shm)?$", f) and f != ".env.example"]
if missing or leaked:
    print("missing from the context:", missing)
    print("must not be in the context:", leaked[:20])
    sys.exit(1)
print(f"build context: {len(files)} files; sources present, no local state or build output")
PY

###############################################################################
step "image $IMAGE (DOCUVAULT_BINARY=prebuilt)"
###############################################################################
mkdir -p "$WORK/context"
install -m 0755 "$BIN" "$WORK/context/docuvault"
DOCKER_BUILDKIT=1 docker build --progress=plain --build-arg DOCUVAULT_BINARY=prebuilt \
  -f "$ROOT/Dockerfile" -t "$IMAGE" "$WORK/context" >"$WORK/build.log" 2>&1 \
  || { tail -n 40 "$WORK/build.log" >&2; die "docker build failed"; }
rm -rf "$WORK/context"
docker image inspect -f 'built {{.Id}}, {{.Size}} bytes, user {{.Config.User}}, entrypoint {{.Config.Entrypoint}} {{.Config.Cmd}}' "$IMAGE"
[[ "$(docker image inspect -f '{{.Config.User}}' "$IMAGE")" == "10001:10001" ]] \
  || die "the image does not run as 10001:10001"

###############################################################################
step "run with no configuration"
###############################################################################
show_logs() { echo "--- last 60 lines of docker logs $1 ---" >&2; docker logs --tail 60 "$1" >&2 2>&1 || true; }

start_new() { # start_new NAME: docker run with nothing but a port and the volume
  docker run -d --name "$1" -p 127.0.0.1::8080 -v "$VOLUME:/data" "$IMAGE" >/dev/null \
    || die "docker run failed"
  CONTAINERS+=("$1")
}

# wait_healthy NAME: sets BASE once /health answers 200.
wait_healthy() {
  local c="$1" deadline=$((SECONDS + 60)) port code
  docker port "$c" 8080/tcp >"$WORK/port.txt" || true
  port="$(sed -n '1s/.*://p' "$WORK/port.txt")"
  [[ -n "$port" ]] || { show_logs "$c"; die "$c publishes no port for 8080"; }
  BASE="http://127.0.0.1:$port"
  while :; do
    if [[ "$(docker inspect -f '{{.State.Running}}' "$c")" != true ]]; then
      show_logs "$c"
      die "$c exited ($(docker inspect -f '{{.State.ExitCode}}' "$c")) before /health answered 200"
    fi
    code="$(curl -s -o "$WORK/health.json" -m 2 -w '%{http_code}' "$BASE/health" || true)"
    [[ "$code" == 200 ]] && break
    if ((SECONDS >= deadline)); then
      show_logs "$c"
      die "$c: /health did not answer 200 within 60 s (last: $code $(cat "$WORK/health.json" 2>/dev/null))"
    fi
    sleep 0.2
  done
  echo "$c: /health 200 on $BASE: $(cat "$WORK/health.json")"
}

check_uid() { # every process of the container runs as 10001
  local c="$1" uids
  uids="$(docker top "$c" -o pid,uid,args | tail -n +2)"
  echo "$uids" | sed "s/^/$c: /"
  [[ -n "$uids" ]] && awk '$2 != 10001 { bad = 1 } END { exit bad }' <<<"$uids" \
    || die "$c: a process does not run as uid 10001"
  [[ "$(docker exec "$c" id -u)" == 10001 ]] || die "$c: docker exec does not run as uid 10001"
}

KEY_SHA=""
check_secret() { # check_secret NAME: /data/secret.key generated on the first start, then kept
  local c="$1" meta sha
  meta="$(docker exec "$c" stat -c '%a %u %s' /data/secret.key 2>/dev/null)" \
    || { show_logs "$c"; die "$c: no /data/secret.key: the first start must generate the secret key and keep it in /data"; }
  read -r mode owner size <<<"$meta"
  [[ "$mode" == 600 && "$owner" == 10001 && "$size" -gt 0 ]] \
    || die "$c: /data/secret.key is mode $mode, uid $owner, $size bytes (expected 600, 10001, non-empty)"
  sha="$(docker exec "$c" sha256sum /data/secret.key | cut -d' ' -f1)"
  if [[ -z "$KEY_SHA" ]]; then
    KEY_SHA="$sha"
    docker cp "$c:/data/secret.key" "$WORK/secret.key" >/dev/null
    docker logs "$c" >"$WORK/first.log" 2>&1
    python3 - "$WORK/secret.key" "$WORK/first.log" config/default.toml <<'PY' || die "$c: the generated secret key is not what it must be"
import sys
key, log, defaults = (open(p, "rb").read() for p in sys.argv[1:4])
# A text key (hex/base64) may end in a newline; a raw key is taken as it is.
k = key.strip() if all(32 <= b < 127 or b in b"\r\n" for b in key) else key
if len(k) < 32:
    sys.exit(f"the key file holds {len(k)} bytes; a 256-bit key needs at least 32")
if k in defaults:
    sys.exit("the key file holds a value from config/default.toml")
if k in log:
    sys.exit("the key appears in the log")
if b"/data/secret.key" not in log:
    sys.exit("the log does not say where the key was written (/data/secret.key)")
PY
    echo "$c: /data/secret.key generated: mode 600, uid 10001, $size bytes, logged by path only"
  else
    [[ "$sha" == "$KEY_SHA" ]] || die "$c: /data/secret.key changed across the restart"
    echo "$c: /data/secret.key kept (same sha256)"
  fi
}

check_healthcheck() { # the image's HEALTHCHECK command, run the way Docker runs it
  local c="$1" cmd
  cmd="$(docker inspect -f '{{index .Config.Healthcheck.Test 1}}' "$c")"
  [[ "$(docker inspect -f '{{index .Config.Healthcheck.Test 0}}' "$c")" == CMD-SHELL ]] \
    || die "unexpected HEALTHCHECK form"
  docker exec "$c" /bin/sh -c "$cmd" || die "$c: the image's HEALTHCHECK command fails: $cmd"
  echo "$c: HEALTHCHECK command passes"
}

stop_checked() { # docker stop -t GRACE sends SIGTERM; expect exit 0 well before SIGKILL
  local c="$1" t=$SECONDS code
  docker stop -t "$GRACE" "$c" >/dev/null || die "docker stop $c failed"
  local took=$((SECONDS - t))
  code="$(docker inspect -f '{{.State.ExitCode}}' "$c")"
  [[ "$code" == 0 ]] || { show_logs "$c"; die "$c exited with code $code after SIGTERM (expected 0)"; }
  ((took < GRACE)) || { show_logs "$c"; die "$c took ${took}s to stop: SIGKILLed at the grace period"; }
  docker logs "$c" >"$WORK/stop.log" 2>&1
  grep -q "shutdown complete" "$WORK/stop.log" \
    || { show_logs "$c"; die "$c: no 'shutdown complete' in the log after SIGTERM"; }
  echo "$c: SIGTERM -> exit 0 in ${took}s (grace ${GRACE}s)"
}

no_panic() {
  docker logs "$1" >"$WORK/panic.log" 2>&1
  if grep -n "panicked at" "$WORK/panic.log" >&2; then show_logs "$1"; die "$1: a panic in the log"; fi
}

docker volume create "$VOLUME" >/dev/null
FIRST="$NAME-a"
start_new "$FIRST"
wait_healthy "$FIRST"
check_uid "$FIRST"
check_healthcheck "$FIRST"
check_secret "$FIRST"
python3 .ci/docker_api.py "$BASE" "$WORK/state.json" setup || { show_logs "$FIRST"; die "upload/download round trip failed"; }
step "OCR in the image: a scanned page of a real PDF"
SCAN_PDF="$(find "${DOCUVAULT_TEST_CORPUS_DIR:-/nonexistent}" /usr/share/doc -name '*.pdf' -size +40k 2>/dev/null | sort | head -n 1)"
[[ -n "$SCAN_PDF" ]] || die "no PDF to scan (set DOCUVAULT_TEST_CORPUS_DIR, see .ci/fetch-corpus.sh)"
pdftoppm -r 200 -gray -png -f 2 -l 2 -singlefile "$SCAN_PDF" "$WORK/scan" || die "pdftoppm could not render $SCAN_PDF"
pdftotext -f 2 -l 2 "$SCAN_PDF" - | grep -oE '[A-Za-z]{5,}' >"$WORK/scan-words.txt" || true
echo "scan: page 2 of $SCAN_PDF, $(wc -c <"$WORK/scan.png") bytes, $(sort -u "$WORK/scan-words.txt" | wc -l) reference words"
python3 .ci/docker_api.py "$BASE" "$WORK/state.json" ocr "$WORK/scan.png" "$WORK/scan-words.txt" \
  || { show_logs "$FIRST"; die "a scan was not OCR'd in the container"; }
no_panic "$FIRST"
stop_checked "$FIRST"

step "restart: docker start"
docker start "$FIRST" >/dev/null || die "docker start $FIRST failed"
wait_healthy "$FIRST"
check_uid "$FIRST"
check_secret "$FIRST"
python3 .ci/docker_api.py "$BASE" "$WORK/state.json" verify || { show_logs "$FIRST"; die "state lost across docker stop/start"; }
no_panic "$FIRST"
stop_checked "$FIRST"

step "restart: a new container on the same volume"
docker rm "$FIRST" >/dev/null
SECOND="$NAME-b"
start_new "$SECOND"
wait_healthy "$SECOND"
check_secret "$SECOND"
python3 .ci/docker_api.py "$BASE" "$WORK/state.json" verify || { show_logs "$SECOND"; die "state lost in a new container on the same volume"; }
no_panic "$SECOND"
stop_checked "$SECOND"
docker run --rm -v "$VOLUME:/data" "$IMAGE" fsck >"$WORK/fsck.txt" 2>&1 \
  || { cat "$WORK/fsck.txt" >&2; die "docuvault fsck in the image failed on the volume"; }
grep -q "result: clean" "$WORK/fsck.txt" || { cat "$WORK/fsck.txt" >&2; die "fsck of the volume is not clean"; }
echo "docker run --rm -v VOL:/data IMAGE fsck: clean"

###############################################################################
step "compose.yaml with .env.example (docker-compose config)"
###############################################################################
REQUIRED=(SECRET_KEY POSTGRES_PASSWORD MINIO_SECRET_KEY)
compose_config() { # compose_config VAR=VALUE...: config with .env.example, a clean env plus VARs
  env -i "PATH=$PATH" "HOME=${HOME:-/root}" "$@" docker-compose --project-directory "$ROOT" \
    -f "$ROOT/compose.yaml" --env-file "$ROOT/.env.example" config
}
declare -A VALUE=([SECRET_KEY]="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  [POSTGRES_PASSWORD]=ciPostgres123 [MINIO_SECRET_KEY]=ciMinioSecret123)
ALL=()
for v in "${REQUIRED[@]}"; do ALL+=("$v=${VALUE[$v]}"); done
compose_config "${ALL[@]}" >"$WORK/compose.resolved.yaml" 2>"$WORK/compose.err" \
  || { cat "$WORK/compose.err" >&2; die "docker-compose config rejects compose.yaml with .env.example and the required values set"; }
for v in "${REQUIRED[@]}"; do
  SOME=()
  for w in "${REQUIRED[@]}"; do [[ "$w" == "$v" ]] || SOME+=("$w=${VALUE[$w]}"); done
  if compose_config "${SOME[@]}" >/dev/null 2>"$WORK/compose.err"; then
    die "docker-compose config accepts .env.example with $v empty (it must refuse until it is set)"
  fi
  grep -q "$v" "$WORK/compose.err" || { cat "$WORK/compose.err" >&2; die "docker-compose's refusal does not name $v"; }
done
echo "compose refuses .env.example as shipped, naming each of ${REQUIRED[*]}"
python3 - "$WORK/compose.resolved.yaml" "${VALUE[SECRET_KEY]}" <<'PY' || die "the resolved compose configuration is not what compose.yaml means"
import sys, yaml
cfg = yaml.safe_load(open(sys.argv[1]))
services = cfg["services"]
assert set(services) == {"app", "postgres", "redis", "minio"}, set(services)
app = services["app"]
env = app["environment"]
assert env["DOCUVAULT__ENVIRONMENT"] == "production", env
assert env["SECRET_KEY"] == sys.argv[2], "SECRET_KEY not passed through"
assert env["DATABASE_URL"] == "postgres://docuvault:ciPostgres123@postgres:5432/docuvault", env["DATABASE_URL"]
assert env["DOCUVAULT__SERVER__PUBLIC_URL"], "public_url empty"
assert any(v.endswith(":/data") or ":/data:" in v for v in map(str, app["volumes"])), app["volumes"]
grace = str(app.get("stop_grace_period", ""))
assert grace in ("35s", "35"), grace
for name in ("postgres", "redis", "minio"):
    assert services[name].get("healthcheck"), f"{name} has no healthcheck"
    assert app["depends_on"][name]["condition"] == "service_healthy", app["depends_on"]
print(f"compose config accepted with the required values set: {len(services)} services, "
      f"app in production mode with {len(env)} environment variables")
PY

###############################################################################
step "the compose app service's configuration, in the image, on CI's services"
###############################################################################
# The compose images cannot be pulled, so the app runs with the environment compose
# resolved for it (production mode, JSON logs, its SECRET_KEY, SMTP/AI/admin values as
# .env.example leaves them) and only the service addresses and credentials swapped for the
# PostgreSQL, Redis and S3 (s3s-fs) servers .ci/run started on this host (--network host).
for v in DOCUVAULT_TEST_POSTGRES_URL DOCUVAULT_TEST_REDIS_URL DOCUVAULT_TEST_S3_ENDPOINT \
  DOCUVAULT_TEST_S3_ACCESS_KEY DOCUVAULT_TEST_S3_SECRET_KEY; do
  [[ -n "${!v:-}" ]] || die "$v is not set: .ci/run exports it (section 2) for this check; run this script from .ci/run or set it"
done
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
DB="docuvault_docker_ci_$$"
PGOPTIONS="-c client_min_messages=warning" psql "$DOCUVAULT_TEST_POSTGRES_URL" -qAt \
  -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null \
  || die "cannot create database $DB on $DOCUVAULT_TEST_POSTGRES_URL"
DB_CREATED=1
python3 - "$WORK/compose.resolved.yaml" "$WORK/compose-app.env" "$PORT" "$DB" <<'PY' || die "could not write the app's environment"
import os, sys, urllib.parse, yaml
src, dst, port, db = sys.argv[1:5]
env = {k: "" if v is None else str(v)
       for k, v in yaml.safe_load(open(src))["services"]["app"]["environment"].items()}
pg = urllib.parse.urlsplit(os.environ["DOCUVAULT_TEST_POSTGRES_URL"])
env.update({
    "DATABASE_URL": urllib.parse.urlunsplit(pg._replace(path="/" + db)),
    "REDIS_URL": os.environ["DOCUVAULT_TEST_REDIS_URL"],
    "DOCUVAULT__QUEUE__KEY_PREFIX": f"dvdockerci:{db}:",
    "MINIO_ENDPOINT": os.environ["DOCUVAULT_TEST_S3_ENDPOINT"],
    "MINIO_PUBLIC_ENDPOINT": os.environ["DOCUVAULT_TEST_S3_ENDPOINT"],
    "MINIO_ACCESS_KEY": os.environ["DOCUVAULT_TEST_S3_ACCESS_KEY"],
    "MINIO_SECRET_KEY": os.environ["DOCUVAULT_TEST_S3_SECRET_KEY"],
    "MINIO_BUCKET": db.replace("_", "-"),
    "DOCUVAULT__STORAGE__S3__REGION": os.environ.get("DOCUVAULT_TEST_S3_REGION", "dv-test"),
    "DOCUVAULT__SERVER__PORT": port,
    "DOCUVAULT__SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}",
})
assert env["DOCUVAULT__ENVIRONMENT"] == "production"
with open(dst, "w") as f:
    for k, v in sorted(env.items()):
        assert "\n" not in v, k
        f.write(f"{k}={v}\n")
PY
PROD="$NAME-compose-app"
docker run -d --name "$PROD" --network host --env-file "$WORK/compose-app.env" "$IMAGE" >/dev/null \
  || die "docker run of the compose app configuration failed"
CONTAINERS+=("$PROD")
BASE="http://127.0.0.1:$PORT"
deadline=$((SECONDS + 60))
until [[ "$(curl -s -o "$WORK/health.json" -m 2 -w '%{http_code}' "$BASE/health" || true)" == 200 ]]; do
  if [[ "$(docker inspect -f '{{.State.Running}}' "$PROD")" != true ]] || ((SECONDS >= deadline)); then
    show_logs "$PROD"
    die "the compose app configuration did not reach /health 200 in the image (production mode on PostgreSQL + Redis + S3)"
  fi
  sleep 0.2
done
echo "$PROD: /health 200: $(cat "$WORK/health.json")"
python3 - "$WORK/health.json" <<'PY' || die "the compose app configuration does not use PostgreSQL + S3 + Redis"
import json, sys
h = json.load(open(sys.argv[1]))
got = (h["database"]["backend"], h["storage"]["backend"], h["queue"]["backend"])
sys.exit(None if got == ("postgres", "s3", "redis") else f"backends {got}")
PY
python3 .ci/docker_api.py "$BASE" "$WORK/state-compose.json" setup \
  || { show_logs "$PROD"; die "upload/download round trip failed with the compose app configuration"; }
docker logs "$PROD" >"$WORK/prod.log" 2>&1
python3 -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]' "$WORK/prod.log" \
  || { show_logs "$PROD"; die "DOCUVAULT__LOG__FORMAT=json: the log is not JSON lines"; }
no_panic "$PROD"
stop_checked "$PROD"

step "done: image $IMAGE proven in $((SECONDS - T0)) s"
