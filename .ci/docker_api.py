"""Drives a DocuVault container over HTTP for .ci/docker.sh (standard library only).

    docker_api.py BASE STATE_FILE setup    register an account, upload a document through
                                           the three-step flow, wait for processing,
                                           download it; writes what it made to STATE_FILE
    docker_api.py BASE STATE_FILE verify   after a restart: log in again, find the document,
                                           download it and compare the bytes
    docker_api.py BASE STATE_FILE ocr SCAN.png WORDS.txt
                                           /health reports OCR; upload a scanned page (PNG)
                                           and find most of WORDS (the page's own text) in
                                           the OCR'd text, with provenance "ocr"

Exits non-zero with one line saying what did not hold.
"""

import hashlib
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

PASSWORD = "correct horse battery staple"
HANDLE = "dockerci"
EMAIL = "dockerci@example.com"
TERMINAL = {"classified", "unclassified", "failed"}


def fail(msg):
    sys.exit(f"docker_api: {msg}")


def request(method, url, body=None, token=None, headers=None, raw=None):
    hdrs = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def api(base, method, path, expect, body=None, token=None):
    status, data = request(method, base + path, body=body, token=token)
    if status != expect:
        fail(f"{method} {path} -> {status} (expected {expect}): {data[:300]!r}")
    return json.loads(data) if data else None


def absolute(base, url):
    return base + url if url.startswith("/") else url


def download(base, token, doc_id):
    link = api(base, "GET", f"/api/documents/{doc_id}/download", 200, token=token)
    status, data = request("GET", absolute(base, link["url"]))
    if status != 200:
        fail(f"GET download URL -> {status}")
    return data


def upload_and_wait(base, token, filename, content_type, content, seconds):
    """The three-step upload, then polls the document until it is processed; returns it."""
    ticket = api(base, "POST", "/api/documents/upload-url", 200, token=token,
                 body={"filename": filename, "content_type": content_type,
                       "size_bytes": len(content)})
    doc_id = ticket["document_id"]
    status, data = request(ticket.get("method", "PUT"), absolute(base, ticket["upload_url"]),
                           headers=ticket.get("headers") or {}, raw=content)
    if not 200 <= status < 300:
        fail(f"PUT upload URL -> {status}: {data[:300]!r}")
    api(base, "POST", f"/api/documents/{doc_id}/confirm", 200, body={}, token=token)
    deadline = time.monotonic() + seconds
    while True:
        doc = api(base, "GET", f"/api/documents/{doc_id}", 200, token=token)
        if doc["status"] in TERMINAL:
            return doc
        if time.monotonic() > deadline:
            fail(f"{filename} still {doc['status']} after {seconds} s")
        time.sleep(0.2)


def setup(base, state_file):
    tokens = api(base, "POST", "/api/auth/register", 201,
                 body={"handle": HANDLE, "email": EMAIL, "password": PASSWORD})
    token = tokens["access_token"]
    marker = "proof" + os.urandom(12).hex()
    content = f"DocuVault container {marker}\n".encode() * 64
    # Processing runs the extractor in a child process of the binary: prove it works in
    # the container (as uid 10001, read-only image, /data volume).
    doc = upload_and_wait(base, token, "container-proof.txt", "text/plain", content, 60)
    doc_id = doc["id"]
    if doc["status"] == "failed":
        fail(f"processing failed in the container: {doc}")
    text = api(base, "GET", f"/api/documents/{doc_id}/text", 200, token=token).get("text") or ""
    if marker not in text:
        fail(f"the extracted text lacks the uploaded words: {text[:200]!r}")
    got = download(base, token, doc_id)
    if got != content:
        fail(f"downloaded {len(got)} bytes differ from the {len(content)} uploaded")
    with open(state_file, "w") as f:
        json.dump({"document_id": doc_id, "sha256": hashlib.sha256(content).hexdigest(),
                   "size": len(content), "status": doc["status"]}, f)
    print(f"setup: registered {HANDLE}, uploaded {len(content)} bytes as {doc_id} "
          f"({doc['status']}, text extracted), download identical")


def verify(base, state_file):
    with open(state_file) as f:
        state = json.load(f)
    doc_id = state["document_id"]
    tokens = api(base, "POST", "/api/auth/login", 200,
                 body={"login": HANDLE, "password": PASSWORD})
    token = tokens.get("access_token") or fail(f"login gave no access token: {tokens}")
    listing = api(base, "GET", "/api/documents", 200, token=token)
    ids = [d["id"] for d in listing["items"]]
    if doc_id not in ids:
        fail(f"document {doc_id} not listed after the restart: {ids}")
    doc = api(base, "GET", f"/api/documents/{doc_id}", 200, token=token)
    if doc["status"] != state["status"]:
        fail(f"document status {doc['status']} after the restart, was {state['status']}")
    got = download(base, token, doc_id)
    if hashlib.sha256(got).hexdigest() != state["sha256"] or len(got) != state["size"]:
        fail("downloaded bytes differ from the upload after the restart")
    print(f"verify: {HANDLE} logged in again, {doc_id} listed ({doc['status']}), "
          f"download identical ({len(got)} bytes)")


def ocr(base, state_file, scan_path, words_path):
    health = api(base, "GET", "/health", 200)
    if not (health.get("ocr") or {}).get("available"):
        fail(f"/health does not report OCR available in the image: {health.get('ocr')}")
    tokens = api(base, "POST", "/api/auth/login", 200,
                 body={"login": HANDLE, "password": PASSWORD})
    token = tokens.get("access_token") or fail(f"login gave no access token: {tokens}")
    with open(scan_path, "rb") as f:
        content = f.read()
    with open(words_path) as f:
        words = sorted({w.lower() for w in f.read().split()})
    if len(words) < 20:
        fail(f"only {len(words)} reference words in {words_path}")
    doc = upload_and_wait(base, token, "scan.png", "image/png", content, 180)
    doc_id = doc["id"]
    if doc["status"] == "failed" or doc.get("status_reason"):
        fail(f"the scan was not read in the container: {doc}")
    answer = api(base, "GET", f"/api/documents/{doc_id}/text", 200, token=token)
    read = set(re.findall(r"[a-z]+", (answer.get("text") or "").lower()))
    found = [w for w in words if w in read]
    recall = len(found) / len(words)
    pages = answer.get("pages") or []
    if not pages or pages[0].get("source") != "ocr":
        fail(f"the text endpoint does not say the page was OCR'd: {pages}")
    if recall < 0.8:
        fail(f"OCR in the container found {len(found)} of {len(words)} words ({recall:.2f})")
    print(f"ocr: {doc['status']}, {len(found)}/{len(words)} words ({recall:.2f}), "
          f"{pages[0].get('engine')} {pages[0].get('version')} "
          f"[{pages[0].get('languages')}], confidence {pages[0].get('mean_confidence')}")


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[3] == "ocr":
        ocr(sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[4], sys.argv[5])
        sys.exit(0)
    if len(sys.argv) != 4 or sys.argv[3] not in ("setup", "verify"):
        sys.exit(__doc__)
    base, state_file, mode = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    (setup if mode == "setup" else verify)(base, state_file)
