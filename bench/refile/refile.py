"""Vault re-file benchmark driver. Run through bench/refile/run.sh.

    python3 bench/refile/refile.py BIN WORK CORPORA OUT

Starts the release `docuvault` on a fresh database (SQLite by default, BACKEND=postgres
for PostgreSQL), registers one account through the API, creates one topic per class of
the three classifier corpora (BBC News, English and German man pages: 14 topics, names
and descriptions from their topics.tsv) and seeds DOCS (5 000) processed documents
straight into the database: the corpora's real texts (each document once, then again
under another file name until DOCS), status `unclassified` as if they came in before the
topics existed, and HAND_FILED (20) documents per class filed by hand (`user` links: what
the builtin classifier learns from). Then:

  1. upload latency, idle: one small text file through the API (upload-url, PUT, confirm)
     until it is processed                                                   <- reference
  2. the re-file: POST /api/topics/refile, GET every 100 ms until it is done; documents/s
     from the POST to the answer that says done (and the run's own started_at..finished_at),
     the server's CPU seconds over that time; while it runs, another upload, timed the
     same way (the re-file must not hold it up)                              <- the target
  3. the baseline, the per-document pipeline on the same kind of documents: the bulk
     "reclassify" action (POST /api/documents/bulk) on BASELINE_DOCS (500) of them, until
     none is queued or processing; documents/s

Prints the figures and the accuracy of the re-file on the documents not filed by hand
(the share that ended under their own class's topic, "no topic" counting as wrong), and
writes the report to OUT. Targets: the re-file at least TARGET_RATE (200) documents/s,
every document looked at, and the upload during the run processed within 3 s + 2x its
idle time. Exit code: 0 = met, 2 = missed, 1 = the benchmark itself failed.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402
from benchlib import CLEAN_ENV, free_port, proc_cpu_s, psql, request, wait_healthy  # noqa: E402

BIN, WORK, CORPORA, OUT = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
DOCS = int(os.environ.get("DOCS", "5000"))
HAND_FILED = int(os.environ.get("HAND_FILED", "20"))
BASELINE_DOCS = int(os.environ.get("BASELINE_DOCS", "500"))
TARGET_RATE = float(os.environ.get("TARGET_RATE", "200"))
BACKEND = os.environ.get("BACKEND", "sqlite")
PG_BASE = os.environ.get("PG_BASE", "postgres://postgres@127.0.0.1:5432").rstrip("/")
SERVER_ENV = dict(kv.split("=", 1) for kv in os.environ.get("SERVER_ENV", "").split() if "=" in kv)
START_DEADLINE_S = 60.0
RUN_DEADLINE_S = float(os.environ.get("RUN_DEADLINE_S", "900"))
HANDLE = "benchrefile"

report = benchlib.Report()
out = report.out


def load_corpora() -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """The topics (key, name, description) and documents (key, file name, text) of every
    corpus under CORPORA; a topic's key is `<corpus>/<class>`."""
    topics, docs = [], []
    for corpus in sorted(os.listdir(CORPORA)):
        cdir = os.path.join(CORPORA, corpus)
        with open(os.path.join(cdir, "topics.tsv"), encoding="utf-8") as f:
            for line in f:
                cls, name, desc = line.rstrip("\n").split("\t")
                topics.append((f"{corpus}/{cls}", name, desc))
                for fn in sorted(os.listdir(os.path.join(cdir, cls))):
                    with open(os.path.join(cdir, cls, fn), encoding="utf-8", errors="replace") as t:
                        docs.append((f"{corpus}/{cls}", fn, t.read()))
    return topics, docs


def api(port: int, method: str, path: str, token: str | None, body: dict | None = None,
        want: tuple[int, ...] = (200, 201, 202)) -> dict | list | None:
    status, raw = request(port, method, path, body=body, token=token, timeout=60)
    if status not in want:
        raise RuntimeError(f"{method} {path} answered {status}: {raw[:300]!r}")
    return json.loads(raw) if raw else None


def upload_latency(port: int, token: str, name: str) -> float:
    """Uploads a small text file through the API and waits until it is processed;
    seconds from the upload-url request to the answer that shows it processed."""
    data = (f"Note {name}: the quarterly tax prepayment and the electricity bill of "
            f"this month, filed for later. {uuid.uuid4()}").encode()
    t0 = time.monotonic()
    slot = api(port, "POST", "/api/documents/upload-url", token,
               {"filename": name, "content_type": "text/plain", "size_bytes": len(data)})
    import urllib.request
    req = urllib.request.Request(slot["upload_url"], data=data, method="PUT", headers=slot["headers"])
    with urllib.request.urlopen(req, timeout=30) as r:
        if r.status not in (200, 201, 204):
            raise RuntimeError(f"PUT answered {r.status}")
    api(port, "POST", f"/api/documents/{slot['document_id']}/confirm", token)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        doc = api(port, "GET", f"/api/documents/{slot['document_id']}", token)
        if doc["status"] in ("classified", "unclassified", "failed"):
            return time.monotonic() - t0
        time.sleep(0.05)
    raise RuntimeError(f"upload {name} not processed within 120 s")


def seed_rows(user_id: str, topic_ids: dict[str, str], docs: list[tuple[str, str, str]]):
    """(document row, text, hand-filed topic or None, class key) for DOCS documents: every
    corpus document once, then again until DOCS; HAND_FILED of each class filed by hand."""
    rng = random.Random(18)
    order = list(range(len(docs)))
    rng.shuffle(order)
    hand_left = {k: HAND_FILED for k in topic_ids}
    now = time.time()
    for g in range(DOCS):
        key, fn, text = docs[order[g % len(order)]]
        did = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        hand = None
        if g < len(order) and hand_left[key] > 0:
            hand_left[key] -= 1
            hand = topic_ids[key]
        name = fn if g < len(order) else f"copy-{g // len(order)}-{fn}"
        sha = hashlib.sha256(f"{did}".encode()).hexdigest()
        yield (did, name, sha, now - (DOCS - g)), text, hand, key


def ts(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int((epoch % 1) * 1e6):06d}Z"


def seed_sqlite(db_path: str, user_id: str, topic_ids: dict[str, str], docs) -> dict[str, str]:
    """Writes the documents with Python's sqlite3 in one transaction, in the representation
    the app itself stores (ids and times read off the account's own row); returns each
    document's class key."""
    con = sqlite3.connect(db_path, timeout=60)
    kind, sample_ts = con.execute("SELECT typeof(id), created_at FROM users WHERE handle = ?", (HANDLE,)).fetchone()
    uid = con.execute("SELECT id FROM users WHERE handle = ?", (HANDLE,)).fetchone()[0]

    def as_id(s: str):
        return uuid.UUID(s).bytes if kind == "blob" else s

    def stamp(epoch: float) -> str:
        t = ts(epoch)
        if " " in sample_ts and "T" not in sample_ts:
            t = t.replace("T", " ")
        if sample_ts.endswith("+00:00"):
            t = t[:-1] + "+00:00"
        return t

    classes, hand_filed = {}, 0
    with con:
        for (did, name, sha, t), text, hand, key in seed_rows(user_id, topic_ids, docs):
            classes[did] = key
            hand_filed += bool(hand)
            con.execute(
                "INSERT INTO documents (id, user_id, folder_id, filename, object_key, content_type, size_bytes, "
                "sha256, storage_backend, status, attempts, ai_opt_out, classified_by, created_at, updated_at) "
                "VALUES (?,?,NULL,?,?,?,?,?,?,?,?,?,?,?,?)",
                (as_id(did), uid, name, f"{user_id}/{did}/{uuid.uuid4()}.txt", "text/plain", len(text.encode()),
                 sha, "local", "classified" if hand else "unclassified", 1, 0,
                 '{"provider": "builtin", "model": "tfidf-centroids", "prompt_version": "builtin-1"}',
                 stamp(t), stamp(t)))
            con.execute("INSERT INTO document_texts (document_id, body) VALUES (?, ?)", (as_id(did), text))
            if hand:
                con.execute("INSERT INTO document_topics (document_id, topic_id, source, confidence, created_at) "
                            "VALUES (?, ?, 'user', NULL, ?)", (as_id(did), as_id(hand), stamp(t)))
        con.execute("UPDATE quotas SET limit_bytes = 1099511627776, used_bytes = (SELECT COALESCE(SUM(size_bytes), 0) "
                    "FROM documents d WHERE d.user_id = quotas.user_id)")
    con.close()
    return classes, hand_filed


def copy_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def seed_postgres(db_url: str, user_id: str, topic_ids: dict[str, str], docs) -> dict[str, str]:
    """The same documents through psql COPY (one transaction)."""
    classes, hand_filed = {}, 0
    drows, trows, lrows = [], [], []
    for (did, name, sha, t), text, hand, key in seed_rows(user_id, topic_ids, docs):
        classes[did] = key
        hand_filed += bool(hand)
        drows.append("\t".join([did, user_id, copy_escape(name), f"{user_id}/{did}/{uuid.uuid4()}.txt",
                                "text/plain", str(len(text.encode())), sha, "local",
                                "classified" if hand else "unclassified", "1", "f",
                                '{"provider": "builtin", "model": "tfidf-centroids", "prompt_version": "builtin-1"}',
                                ts(t), ts(t)]))
        trows.append(f"{did}\t{copy_escape(text.replace(chr(0), ''))}")
        if hand:
            lrows.append(f"{did}\t{hand}\tuser\t{ts(t)}")
    path = os.path.join(WORK, "seed.sql")
    with open(path, "w", encoding="utf-8") as f:
        f.write("BEGIN;\nCOPY documents (id, user_id, filename, object_key, content_type, size_bytes, sha256, "
                "storage_backend, status, attempts, ai_opt_out, classified_by, created_at, updated_at) FROM STDIN;\n")
        f.write("\n".join(drows) + "\n\\.\n")
        f.write("COPY document_texts (document_id, body) FROM STDIN;\n" + "\n".join(trows) + "\n\\.\n")
        if lrows:
            f.write("COPY document_topics (document_id, topic_id, source, created_at) FROM STDIN;\n"
                    + "\n".join(lrows) + "\n\\.\n")
        f.write(f"UPDATE quotas SET limit_bytes = 1099511627776, used_bytes = (SELECT COALESCE(SUM(size_bytes), 0) "
                f"FROM documents WHERE user_id = '{user_id}') WHERE user_id = '{user_id}';\nCOMMIT;\n")
    r = subprocess.run(["psql", db_url, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-f", path],
                       capture_output=True, text=True, timeout=900, env=dict(CLEAN_ENV))
    if r.returncode != 0:
        raise RuntimeError(f"psql seed failed: {r.stderr.strip()[:500]}")
    psql(db_url, "VACUUM ANALYZE", timeout=900)
    return classes, hand_filed


def count_in_pipeline(port: int, token: str) -> int:
    total = 0
    for status in ("queued", "processing"):
        page = api(port, "GET", f"/api/documents?status={status}&per_page=1", token)
        total += page["total"]
    return total


def main() -> int:
    version = subprocess.run([BIN, "--version"], env=CLEAN_ENV, capture_output=True, text=True).stdout.strip()
    db_name = f"docuvault_bench_refile_{os.getpid()}"
    if BACKEND == "postgres":
        db_url = f"{PG_BASE}/{db_name}"
        psql(f"{PG_BASE}/postgres", f"DROP DATABASE IF EXISTS {db_name}")
        psql(f"{PG_BASE}/postgres", f"CREATE DATABASE {db_name}")
    else:
        db_url = f"sqlite://{os.path.join(WORK, 'bench.db')}?mode=rwc"
    out(f"DocuVault vault re-file benchmark   {time.strftime('%Y-%m-%d %H:%M:%S %z')}")
    out(f"binary   {os.environ.get('BENCH_BIN_DESC', BIN)} ({version or '?'})")
    if os.environ.get("BENCH_COMMIT"):
        out(f"commit   {os.environ['BENCH_COMMIT']}")
    out(f"machine  {os.cpu_count()} CPUs, {os.uname().release}, loadavg(1m) before start {os.getloadavg()[0]:.2f}")
    out(f"server   {'PostgreSQL ' + db_name if BACKEND == 'postgres' else 'SQLite file (WAL)'}, local storage, "
        f"in-process queue, rate limiter off{', ' + ' '.join(f'{k}={v}' for k, v in SERVER_ENV.items()) if SERVER_ENV else ''}")
    topics, docs = load_corpora()
    port = free_port()
    data_dir = os.path.join(WORK, "data")
    os.makedirs(data_dir, exist_ok=True)
    log_path = os.path.join(WORK, "server.log")
    env = dict(CLEAN_ENV, DATABASE_URL=db_url, DOCUVAULT__DATA_DIR=data_dir, DOCUVAULT__SERVER__PORT=str(port),
               DOCUVAULT__STORAGE__BACKEND="local", DOCUVAULT__RATE_LIMIT__ENABLED="false",
               DOCUVAULT__SERVER__PUBLIC_URL=f"http://127.0.0.1:{port}")
    env.update(SERVER_ENV)
    log = open(log_path, "wb")
    proc = subprocess.Popen([BIN], cwd=WORK, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_healthy(port, proc, START_DEADLINE_S, log_path)
        reg = api(port, "POST", "/api/auth/register", None,
                  {"handle": HANDLE, "email": f"{HANDLE}@example.com", "password": "correct horse battery staple"})
        token, user_id = reg["access_token"], reg["user"]["id"]
        topic_ids = {}
        for key, name, desc in topics:
            topic_ids[key] = api(port, "POST", "/api/topics", token, {"name": name, "description": desc})["id"]
        t0 = time.monotonic()
        if BACKEND == "postgres":
            classes, hand_filed = seed_postgres(db_url, user_id, topic_ids, docs)
        else:
            classes, hand_filed = seed_sqlite(os.path.join(WORK, "bench.db"), user_id, topic_ids, docs)
        chars = sum(len(t) for _, _, t in docs) / max(1, len(docs))
        out(f"data     1 user, {len(topics)} topics (3 corpora: English news, English and German man pages), "
            f"{DOCS} documents ({len(docs)} distinct real texts, mean {chars:.0f} characters), "
            f"{hand_filed} filed by hand (at most {HAND_FILED} per class); seeded in {time.monotonic() - t0:.1f} s")
        out()

        idle = upload_latency(port, token, "idle-probe.txt")
        out(f"upload processed, idle                 {idle:6.2f} s")

        cpu0 = proc_cpu_s(proc.pid)
        t0 = time.monotonic()
        run = api(port, "POST", "/api/topics/refile", token, {}, want=(202,))
        out(f"re-file started: total {run['total']} documents to look at")
        during = None
        deadline = time.monotonic() + RUN_DEADLINE_S
        while True:
            run = api(port, "GET", "/api/topics/refile", token)
            if run["state"] != "running":
                break
            if during is None and run["done"] > 0:
                # An upload while it runs: it must be processed about as fast as idle.
                during = upload_latency(port, token, "during-probe.txt")
                continue
            if time.monotonic() > deadline:
                raise RuntimeError(f"the re-file did not end within {RUN_DEADLINE_S:.0f} s: {run}")
            time.sleep(0.1)
        wall = time.monotonic() - t0
        cpu = proc_cpu_s(proc.pid) - cpu0
        if run["state"] != "done":
            raise RuntimeError(f"the re-file ended {run['state']}: {run}")
        from datetime import datetime
        own = (datetime.fromisoformat(run["finished_at"].replace("Z", "+00:00"))
               - datetime.fromisoformat(run["started_at"].replace("Z", "+00:00"))).total_seconds()
        rate = run["done"] / wall
        out(f"re-file: {run['done']} documents looked at, {run['changed']} changed, in {wall:.2f} s "
            f"(POST to done)  ->  {rate:7.1f} documents/s   <- the target (>= {TARGET_RATE:.0f}/s)")
        out(f"         the run's own started..finished {own:.2f} s -> {run['done'] / own:7.1f} documents/s; "
            f"server CPU {cpu:.1f} s ({cpu / wall:.2f} cores on average)")
        if during is not None:
            out(f"upload processed while the re-file ran {during:6.2f} s (idle {idle:.2f} s)")
        else:
            out("upload while the re-file ran: the run ended before its first batch was reported")

        # Accuracy of the re-file on the documents not filed by hand.
        right = filed = 0
        names = {v: k for k, v in topic_ids.items()}
        page_no = 1
        while True:
            page = api(port, "GET", f"/api/documents?per_page=100&page={page_no}", token)
            for d in page["items"]:
                key = classes.get(d["id"])
                if key is None:
                    continue
                ai = [t for t in d["topics"] if t["source"] == "ai"]
                if any(t["source"] == "user" for t in d["topics"]):
                    continue
                filed += 1
                if ai and names.get(ai[0]["id"]) == key:
                    right += 1
            if page_no * 100 >= page["total"]:
                break
            page_no += 1
        out(f"         filed under their own class's topic: {100 * right / max(1, filed):.1f} % of {filed} "
            f"(best topic; \"no topic\" counts as wrong)")

        # Baseline: the same kind of documents through the per-document pipeline.
        ids = api(port, "GET", "/api/documents/ids?status=classified", token)["ids"][:BASELINE_DOCS]
        t0 = time.monotonic()
        res = api(port, "POST", "/api/documents/bulk", token, {"ids": ids, "action": "reclassify"})
        if res["failed"]:
            raise RuntimeError(f"bulk reclassify refused {res['failed']}: {res['results'][:3]}")
        while count_in_pipeline(port, token) > 0:
            if time.monotonic() - t0 > RUN_DEADLINE_S:
                raise RuntimeError("the baseline did not finish")
            time.sleep(0.2)
        base_wall = time.monotonic() - t0
        base_rate = len(ids) / base_wall
        out(f"baseline: bulk re-classify of {len(ids)} documents through the job pipeline in {base_wall:.1f} s "
            f"->  {base_rate:7.1f} documents/s")
        out(f"ratio    re-file / pipeline: {rate / base_rate:.1f}x")
        out()
        # Every document not filed by hand, the idle probe upload too; the one uploaded
        # during the run only when its id comes after the run's position then.
        want = DOCS - hand_filed + 1
        all_seen = want <= run["done"] <= want + 1
        fast = during is None or during <= 3 + 2 * idle
        ok = rate >= TARGET_RATE and all_seen and fast
        out(f"targets  >= {TARGET_RATE:.0f} documents/s: {'PASS' if rate >= TARGET_RATE else 'FAIL'}; "
            f"every document not filed by hand looked at ({run['done']}, want {want} or {want + 1}): "
            f"{'PASS' if all_seen else 'FAIL'}; upload during the run within 3 s + 2x idle: "
            f"{'PASS' if fast else 'FAIL'}")
        return 0 if ok else 2
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if BACKEND == "postgres" and not os.environ.get("KEEP_DB"):
            try:
                psql(f"{PG_BASE}/postgres", f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
            except Exception:  # noqa: BLE001 - best effort
                pass


report.run("refile", main, OUT)
