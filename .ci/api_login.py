#!/usr/bin/env python3
"""Get an access token from a running docuvault for the schemathesis run.

Usage:
  api_login.py SPEC_URL register            # register a fresh user, log in, print token
  api_login.py SPEC_URL login EMAIL PASS [HANDLE]  # log in an existing account, print token

Request bodies are built from the OpenAPI schema of the register/login operations
(fields are matched by name: *email*, *handle*/*user*/*name*, *password*), so the
script follows the API instead of hard-coding it.

Exit codes: 0 = token printed on stdout; 3 = could not authenticate (endpoints
missing, 4xx, unexpected body: the caller decides whether that is fatal);
1 = the server answered 5xx or not at all (always a bug).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid


def log(msg: str) -> None:
    print(f"api_login: {msg}", file=sys.stderr)


def http(method: str, url: str, body: dict | None = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    except OSError as err:
        log(f"{method} {url}: no answer: {err}")
        sys.exit(1)
    try:
        parsed: object = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    if status >= 500:
        log(f"{method} {url} -> {status} (server error): {parsed}")
        sys.exit(1)
    return status, parsed


def resolve(spec: dict, schema: dict) -> dict:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 20:
        node: object = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]  # type: ignore[index]
        schema = node  # type: ignore[assignment]
        seen += 1
    return schema


def body_schema(spec: dict, op: dict) -> dict:
    content = (op.get("requestBody") or {}).get("content") or {}
    media = content.get("application/json") or next(iter(content.values()), {})
    schema = resolve(spec, media.get("schema") or {})
    # allOf of objects: merge properties / required
    if "allOf" in schema:
        merged: dict = {"properties": {}, "required": []}
        for part in schema["allOf"]:
            part = resolve(spec, part)
            merged["properties"].update(part.get("properties") or {})
            merged["required"] += part.get("required") or []
        schema = merged
    return schema


def fill(spec: dict, schema: dict, ident: dict, identifier_default: str) -> dict:
    out: dict = {}
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    for name, prop in props.items():
        lname = name.lower()
        prop = resolve(spec, prop)
        if "password" in lname and "confirm" not in lname and "new" not in lname:
            out[name] = ident["password"]
        elif "confirm" in lname and "password" in lname:
            out[name] = ident["password"]
        elif "email" in lname:
            out[name] = ident["email"]
        elif lname in ("handle", "username", "user_name", "name", "display_name"):
            out[name] = ident["handle"]
        elif lname in ("login", "identifier", "user", "email_or_handle", "handle_or_email"):
            out[name] = ident[identifier_default]
        elif name in required:
            if "enum" in prop:
                out[name] = prop["enum"][0]
            elif prop.get("type") == "boolean":
                out[name] = True
            elif prop.get("type") in ("integer", "number"):
                out[name] = prop.get("minimum", 0)
            else:
                out[name] = "x"
    return out


def find_token(body: object) -> str | None:
    if isinstance(body, dict):
        for key in ("access_token", "accessToken", "token"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key]
        for value in body.values():
            tok = find_token(value)
            if tok:
                return tok
    return None


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[2] not in ("register", "login"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    spec_url, mode = sys.argv[1], sys.argv[2]
    parts = urllib.parse.urlsplit(spec_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    _, spec = http("GET", spec_url)
    if not isinstance(spec, dict):
        log("spec is not JSON")
        sys.exit(3)
    paths: dict = spec.get("paths") or {}

    def find(suffix: str) -> tuple[str, dict] | None:
        for path, item in paths.items():
            if path.rstrip("/").endswith(suffix) and "post" in item:
                return path, item["post"]
        return None

    login = find("/auth/login")
    if login is None:
        log("no POST .../auth/login in the spec")
        sys.exit(3)

    if mode == "register":
        uid = uuid.uuid4().hex[:10]
        ident = {
            "email": f"st-{uid}@example.com",
            "handle": f"st_{uid}",
            "password": f"Schemathesis-{uid}-Pw1!",
        }
        register = find("/auth/register")
        if register is None:
            log("no POST .../auth/register in the spec")
            sys.exit(3)
        body = fill(spec, body_schema(spec, register[1]), ident, "email")
        status, resp = http("POST", origin + register[0], body)
        if not 200 <= status < 300:
            log(f"register {body} -> {status}: {resp}")
            sys.exit(3)
        token = find_token(resp)
        if token:
            print(token)
            return
    else:
        handle = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else sys.argv[3]
        ident = {"email": sys.argv[3], "handle": handle, "password": sys.argv[4]}

    body = fill(spec, body_schema(spec, login[1]), ident, "email")
    status, resp = http("POST", origin + login[0], body)
    if not 200 <= status < 300:
        log(f"login as {ident['email']} -> {status}: {resp}")
        sys.exit(3)
    token = find_token(resp)
    if not token:
        log(f"login answered {status} without an access token: {resp}")
        sys.exit(3)
    print(token)


if __name__ == "__main__":
    main()
