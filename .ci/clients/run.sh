#!/usr/bin/env bash
# Generated clients, type-checked and driven through the core flow against a server.
#
#   .ci/clients/run.sh BASE_URL            e.g. after `cargo run`: .ci/clients/run.sh http://127.0.0.1:8080
#
# 1. lint      @redocly/cli lints openapi.json and the 3.0 rendition: 0 errors (warnings shown)
# 2. python    openapi-python-client (from openapi.json) -> mypy --strict on client + driver
#              -> python/driver.py
# 3. ts        @hey-api/openapi-ts (from openapi.json) -> tsc --strict on client + driver
#              -> typescript/dist/driver.js
# 4. rust      progenitor (from `docuvault openapi --openapi-version 3.0`, in build.rs)
#              -> cargo build (clippy-free is not asked of generated code) -> the driver
# Each driver: register -> login -> quota -> topic -> upload-url/PUT/confirm -> poll to a
# terminal status -> list -> search -> text -> download (bytes equal) -> delete -> quota 0.
# The Python driver also lists with a personal API token (documents:read) it creates.
#
# Tools are pinned: Python in .ci/requirements.txt + constraints.txt (venv .ci/.venv, made
# here when missing; .ci/run makes it in CI), npm in typescript/package-lock.json (npm ci
# into typescript/node_modules, only when the lock file changed), crates in
# rust/Cargo.lock (built into the workspace target dir, so warm runs reuse it).
# Knobs: DOCUVAULT_BIN (the binary that prints the 3.0 rendition; default
# target/debug/docuvault), PYTHON_VENV, CARGO_TARGET_DIR, CLIENTS_TMP (kept when set).
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 BASE_URL" >&2; exit 2; }
BASE="${1%/}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VENV="${PYTHON_VENV:-$ROOT/.ci/.venv}"
BIN="${DOCUVAULT_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/docuvault}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export PATH="$HOME/.cargo/bin:$PATH"
if [[ -n "${CLIENTS_TMP:-}" ]]; then
  TMP="$CLIENTS_TMP"; mkdir -p "$TMP"
else
  TMP="$(mktemp -d -t docuvault-clients.XXXXXX)"; trap 'rm -rf "$TMP"' EXIT
fi
START=$SECONDS
step() { printf -- '--- [%3ds] clients: %s\n' "$((SECONDS - START))" "$*"; }
die() { printf 'CLIENTS FAILED: %s\n' "$*" >&2; exit 1; }

[[ -f "$ROOT/openapi.json" ]] || die "openapi.json missing at $ROOT"
[[ -x "$BIN" ]] || die "$BIN not built (cargo build --bin docuvault)"
curl -fsS -m 5 -o /dev/null "$BASE/health" || die "no DocuVault answering /health at $BASE"
(cd "$TMP" && env -i "PATH=$PATH" "HOME=${HOME:-/root}" "$BIN" openapi --openapi-version 3.0 >"$TMP/openapi-3.0.json") \
  || die "'docuvault openapi --openapi-version 3.0' failed"

# Tools: the npm packages (cached in ~/.npm by npm itself) and the Python venv.
TS="$HERE/typescript"
LOCK_STAMP="$(sha256sum "$TS/package-lock.json" | cut -d' ' -f1) $(node --version)"
if [[ ! -f "$TS/node_modules/.ci-stamp" || "$(cat "$TS/node_modules/.ci-stamp")" != "$LOCK_STAMP" ]]; then
  step "npm ci ($TS)"
  (cd "$TS" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in $TS"
  printf '%s' "$LOCK_STAMP" >"$TS/node_modules/.ci-stamp"
fi
if ! "$VENV/bin/python" -c 'import openapi_python_client, mypy' 2>/dev/null; then
  step "Python venv $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/.ci/requirements.txt" -c "$ROOT/.ci/constraints.txt" \
    || die "pip install of .ci/requirements.txt failed"
fi

step "lint: @redocly/cli on openapi.json and the 3.0 rendition (0 errors allowed)"
(cd "$TS" && npx --no-install redocly lint "$ROOT/openapi.json" "$TMP/openapi-3.0.json" --format=stylish 2>&1 \
  | grep -v -F -e '║' -e '╔' -e '╚') || die "redocly lint found errors in the spec (see above)"

step "python: openapi-python-client generate, mypy --strict, drive"
# The export zip (application/zip) is a binary response like application/octet-stream.
printf 'project_name_override: docuvault-client\npackage_name_override: docuvault_client\npost_hooks: []\ncontent_type_overrides:\n  application/zip: application/octet-stream\n' >"$TMP/opc.yaml"
"$VENV/bin/openapi-python-client" generate --path "$ROOT/openapi.json" --output-path "$TMP/python" \
  --meta none --config "$TMP/opc.yaml" --fail-on-warning >/dev/null \
  || die "openapi-python-client could not generate a clean client"
# --meta none writes the package itself into the output folder.
mkdir -p "$TMP/python-site" && mv "$TMP/python" "$TMP/python-site/docuvault_client"
(cd "$TMP" && MYPYPATH="$TMP/python-site" "$VENV/bin/mypy" --strict --no-incremental \
  "$TMP/python-site/docuvault_client" "$HERE/python/driver.py") || die "mypy --strict rejects the Python client or driver"
PYTHONPATH="$TMP/python-site" "$VENV/bin/python" "$HERE/python/driver.py" "$BASE" || die "the Python client flow failed"

step "typescript: @hey-api/openapi-ts generate, tsc --strict, drive"
rm -rf "$TS/src/client" "$TS/dist"
(cd "$TS" && npx --no-install openapi-ts --input "$ROOT/openapi.json" --output src/client \
  --client @hey-api/client-fetch --silent) || die "@hey-api/openapi-ts could not generate a client"
(cd "$TS" && npx --no-install tsc -p .) || die "tsc --strict rejects the TypeScript client or driver"
node "$TS/dist/driver.js" "$BASE" || die "the TypeScript client flow failed"

step "rust: progenitor (3.0 rendition) build, drive"
# A stable path, rewritten only when the document changed: a warm run rebuilds nothing.
SPEC_3_0="$CARGO_TARGET_DIR/docuvault-clients/openapi-3.0.json"
mkdir -p "$(dirname "$SPEC_3_0")"
cmp -s "$TMP/openapi-3.0.json" "$SPEC_3_0" || cp "$TMP/openapi-3.0.json" "$SPEC_3_0"
(cd "$HERE/rust" && DOCUVAULT_OPENAPI_3_0="$SPEC_3_0" cargo build --locked --quiet) \
  || die "progenitor could not generate, or cargo could not build, the Rust client"
"$CARGO_TARGET_DIR/debug/docuvault-client-check" "$BASE" || die "the Rust client flow failed"

step "all three generated clients completed the flow"
