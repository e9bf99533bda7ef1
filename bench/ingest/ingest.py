"""Watched-folder benchmark driver (see run.sh for what and why). Standard library only.

Usage: ingest.py BIN CORPUS_DIR WORK_DIR
Environment: FILES (1000) JOBS (1) SERVER_ENV ("K=V ..") BENCH_COMMIT BENCH_BIN_DESC
             BENCH_LOAD BENCH_OUT
Exit code: 0 targets met, 2 a target missed, 1 the benchmark itself failed.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import CLEAN_ENV, Report, free_port, wait_healthy  # noqa: E402

BIN, CORPUS, WORK = sys.argv[1:4]
FILES = int(os.environ.get("FILES", "1000"))
JOBS = os.environ.get("JOBS", "1")
SERVER_ENV = dict(kv.split("=", 1) for kv in os.environ.get("SERVER_ENV", "").split() if "=" in kv)
HANDLE = "bench"
PASSWORD = "correct horse battery staple"
POLL_SECS, STABLE_SECS = 1, 1
PHASE_DEADLINE_S = 900
TYPES = {".pdf": "application/pdf",
         ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         ".odt": "application/vnd.oasis.opendocument.text"}
report = Report()


def request(port: int, method: str, path: str, body=None, token=None, data: bytes | None = None,
            headers: dict | None = None, timeout: float = 60):
    url = path if path.startswith("http") else f"http://127.0.0.1:{port}{path}"
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def make_files() -> list[str]:
    """FILES distinct real documents in WORK/files: corpus files in turn, each made unique."""
    sources = sorted(os.path.join(CORPUS, kind, f) for kind in ("pdf", "docx", "odt")
                     if os.path.isdir(os.path.join(CORPUS, kind))
                     for f in os.listdir(os.path.join(CORPUS, kind))
                     if os.path.splitext(f)[1] in TYPES)
    if not sources:
        raise RuntimeError(f"no documents in {CORPUS}")
    out = os.path.join(WORK, "files")
    os.makedirs(out)
    files = []
    for i in range(FILES):
        src = sources[i % len(sources)]
        stem, ext = os.path.splitext(os.path.basename(src))
        dst = os.path.join(out, f"{stem}-{i:04d}{ext}")
        shutil.copyfile(src, dst)
        if ext == ".pdf":
            with open(dst, "ab") as f:  # a PDF comment after %%EOF: still the same PDF
                f.write(f"\n% docuvault ingest bench copy {i}\n".encode())
        else:
            with zipfile.ZipFile(dst, "a") as z:  # the zip comment: still a valid package
                z.comment = f"docuvault ingest bench copy {i}".encode()
        files.append(dst)
    return files


class Server:
    def __init__(self, name: str, extra: dict) -> None:
        self.port = free_port()
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir)
        self.log_path = os.path.join(WORK, "server.log")
        env = dict(CLEAN_ENV, LANG="C.UTF-8",
                   DOCUVAULT__DATA_DIR=os.path.join(self.dir, "data"),
                   DOCUVAULT__SERVER__PORT=str(self.port),
                   DOCUVAULT__QUOTA__DEFAULT_LIMIT_BYTES=str(64 * 2**30),
                   DOCUVAULT__DOCUMENTS__MAX_PENDING_PER_USER=str(FILES + 100),
                   DOCUVAULT__RATE_LIMIT__ENABLED="false",
                   DOCUVAULT__JOBS__CONCURRENCY=JOBS, **extra)
        env.update(SERVER_ENV)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BIN], cwd=self.dir, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_healthy(self.port, self.proc, 60, self.log_path)
        status, body = request(self.port, "POST", "/api/auth/register",
                               {"handle": HANDLE, "email": f"{HANDLE}@example.com", "password": PASSWORD})
        if status != 201:
            raise RuntimeError(f"register: {status} {body[:200]!r}")
        self.token = json.loads(body)["access_token"]

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"docuvault exited ({self.proc.returncode}); log: {self.log_path}")

    def documents(self) -> int:
        status, body = request(self.port, "GET", "/api/documents?per_page=1", token=self.token)
        if status != 200:
            raise RuntimeError(f"list: {status} {body[:200]!r}")
        return json.loads(body)["total"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def upload_one(server: Server, path: str) -> None:
    name = os.path.basename(path)
    data = open(path, "rb").read()
    ctype = TYPES[os.path.splitext(name)[1]]
    status, body = request(server.port, "POST", "/api/documents/upload-url",
                           {"filename": name, "content_type": ctype, "size_bytes": len(data)},
                           token=server.token)
    if status != 200:
        raise RuntimeError(f"upload-url {name}: {status} {body[:200]!r}")
    ticket = json.loads(body)
    status, body = request(server.port, "PUT", ticket["upload_url"], data=data, headers=ticket["headers"])
    if status not in (200, 201, 204):
        raise RuntimeError(f"PUT {name}: {status} {body[:200]!r}")
    status, body = request(server.port, "POST", f"/api/documents/{ticket['document_id']}/confirm", {},
                           token=server.token)
    if status != 200:
        raise RuntimeError(f"confirm {name}: {status} {body[:200]!r}")


def baseline(files: list[str]) -> float:
    """Seconds to upload every file through the API from 4 client threads."""
    server = Server("api", {})
    try:
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            for f in pool.map(lambda p: upload_one(server, p), files):
                pass
        elapsed = time.monotonic() - t0
        server.alive()
        if server.documents() != len(files):
            raise RuntimeError("baseline: not every upload became a document")
        return elapsed
    finally:
        server.stop()


def wait(what: str, probe, server: Server, t0: float) -> float:
    while True:
        if probe():
            return time.monotonic() - t0
        server.alive()
        if time.monotonic() - t0 > PHASE_DEADLINE_S:
            raise RuntimeError(f"{what}: not within {PHASE_DEADLINE_S} s")
        time.sleep(0.1)


def count_files(top: str) -> int:
    return sum(len(names) for _, _, names in os.walk(top)) if os.path.isdir(top) else 0


def watched(files: list[str]) -> dict:
    watch = os.path.join(WORK, "watch")
    os.makedirs(watch)
    server = Server("folder", {"DOCUVAULT__INGEST__WATCH_DIR": watch,
                               "DOCUVAULT__INGEST__POLL_SECS": str(POLL_SECS),
                               "DOCUVAULT__INGEST__STABLE_SECS": str(STABLE_SECS),
                               "DOCUVAULT__INGEST__AFTER": "move"})
    try:
        drop = os.path.join(watch, HANDLE)
        for b in range(10):
            os.makedirs(os.path.join(drop, f"Batch {b}"))
        t0 = time.monotonic()
        for i, f in enumerate(files):
            os.rename(f, os.path.join(drop, f"Batch {i % 10}", os.path.basename(f)))
        drop_s = time.monotonic() - t0
        docs_s = wait("every file a document", lambda: server.documents() >= len(files), server, t0)
        done = os.path.join(drop, ".done")
        moved_s = wait("every file in .done/", lambda: count_files(done) >= len(files), server, t0)
        server.alive()
        left = sum(len([n for n in names]) for d, _, names in os.walk(drop)
                   if not d.startswith((done, os.path.join(drop, ".failed"))))
        failed = count_files(os.path.join(drop, ".failed")) + count_files(os.path.join(watch, ".failed"))
        status, body = request(server.port, "GET", "/api/ingest/status", token=server.token)
        recent = len(json.loads(body)["recent"]) if status == 200 else -1
        documents_total = server.documents()
    finally:
        server.stop()
    db = sqlite3.connect(os.path.join(WORK, "folder", "data", "docuvault.db"))
    try:
        docs_db = db.execute("SELECT count(*) FROM documents").fetchone()[0]
        rows, paths, doc_ids, imported = db.execute(
            "SELECT count(*), count(DISTINCT path), count(DISTINCT document_id), "
            "sum(status = 'imported') FROM ingest_files").fetchone()
        folders = db.execute("SELECT count(*) FROM folders").fetchone()[0]
    finally:
        db.close()
    return {"drop_s": drop_s, "docs_s": docs_s, "moved_s": moved_s, "left": left, "failed": failed,
            "recent": recent, "documents_api": documents_total, "documents_db": docs_db, "rows": rows,
            "paths": paths, "doc_ids": doc_ids, "imported": imported, "folders": folders}


def main() -> int:
    out = report.out
    out("== watched-folder benchmark ==")
    out(f"commit:      {os.environ.get('BENCH_COMMIT', '?')}")
    out(f"binary:      {os.environ.get('BENCH_BIN_DESC', BIN)}")
    out(f"load before: {os.environ.get('BENCH_LOAD', '?')} (2 shared cores; other jobs may run)")
    out(f"files:       {FILES} (PDF, DOCX, ODT of the corpus, each made unique); jobs.concurrency {JOBS}; "
        f"SQLite + local storage + in-process queue")
    files = make_files()
    total_bytes = sum(os.path.getsize(f) for f in files)
    out(f"             {total_bytes / 2**20:.1f} MiB in all")
    out("-- baseline: the same files through the API (upload-url, PUT, confirm; 4 client threads)")
    api_s = baseline(files)
    out(f"   {api_s:7.2f} s   {FILES / api_s:7.1f} files/s")
    out(f"-- watched folder: {FILES} files renamed into {HANDLE}/Batch 0..9/ at once "
        f"(poll {POLL_SECS} s, stable {STABLE_SECS} s, after = move)")
    r = watched(files)
    out(f"   drop (renames)          {r['drop_s']:7.2f} s")
    out(f"   all documents           {r['docs_s']:7.2f} s   {FILES / r['docs_s']:7.1f} files/s "
        f"(includes the {POLL_SECS + STABLE_SECS} s poll + stable wait)")
    out(f"   all files in .done/     {r['moved_s']:7.2f} s")
    ratio = r["docs_s"] / api_s
    out(f"   ratio watched folder / API upload: {ratio:.2f}x")
    out("-- checks")
    out(f"   documents: API {r['documents_api']}, database {r['documents_db']}; ingest rows {r['rows']} "
        f"({r['imported']} imported, {r['paths']} distinct paths, {r['doc_ids']} distinct documents); "
        f"folders {r['folders']}; left in the drop folder {r['left']}; in .failed/ {r['failed']}; "
        f"status list {r['recent']} items")
    once = (r["documents_api"] == FILES and r["documents_db"] == FILES and r["rows"] == FILES
            and r["imported"] == FILES and r["paths"] == FILES and r["doc_ids"] == FILES
            and r["left"] == 0 and r["failed"] == 0 and r["folders"] == 10 and r["recent"] == 50)
    bound = 2 * api_s + POLL_SECS + STABLE_SECS
    fast = r["docs_s"] <= bound
    out(f"   every file imported exactly once: {'PASS' if once else 'FAIL'}")
    out(f"   watched folder {r['docs_s']:.1f} s <= 2 x API + {POLL_SECS + STABLE_SECS} s = {bound:.1f} s: "
        f"{'PASS' if fast else 'FAIL'}")
    return 0 if once and fast else 2


if __name__ == "__main__":
    report.run("ingest", main, os.environ.get("BENCH_OUT", os.path.join(WORK, "ingest.txt")))
