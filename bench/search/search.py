"""Full-text search benchmark driver (PostgreSQL and SQLite). Run through bench/search/run.sh.

    python3 bench/search/search.py BIN WORK OUT

For each backend in BACKENDS ("postgres sqlite"): a fresh database, the release `docuvault`
on it (free port, clean environment, rate limiter off, no workers), USERS (10) accounts
registered through the API, then DOCS (100 000) 'classified' documents spread evenly over
them, bulk-inserted with SQL (PostgreSQL: psql \\copy, then VACUUM ANALYZE; SQLite: one
transaction through Python's sqlite3, the search triggers indexing every row as the app's
own writes would).

The corpus is generated deterministically (seed SEED) from /usr/share/dict/words (Debian
`wamerican`): a vocabulary of the dictionary's plain lower-case words behind 60 English
function words, drawn with Zipf-Mandelbrot frequencies (p(r) ~ 1/(r + 2.7)), sentences of
6-18 words, document lengths log-normal (median ~150 words, 20..3000), file names of two
vocabulary words, a year and an extension.

Queries, through GET /api/documents?q=...&per_page=20 (each user searching their own
10 000 documents): very common words (in most documents), common, medium and rare words, words
absent from the corpus, two- and three-word queries, quoted phrases taken from a document,
exclusions, words from file names; each category 10 queries, all users in rotation.
Measured: sequential (one connection; ROUNDS passes after a warm-up pass) and concurrent
(CONCURRENCY threads, one keep-alive connection each, CONC_SECS seconds), per-request
latency in the client. Baseline: the same list request without q, measured the same way.
The server runs with its defaults, so a search returns at most documents.search_max_hits
(1 000) documents; "hits" counts the queries that reached that limit.

Target per backend: p95 < 50 ms over the whole query mix, sequential and concurrent.
Exit code: 0 = targets met, 2 = a target missed, 1 = the benchmark itself failed.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402
from benchlib import CLEAN_ENV, free_port, request  # noqa: E402

BIN, WORK, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
DOCS = int(os.environ.get("DOCS", "100000"))
USERS = int(os.environ.get("USERS", "10"))
SEED = int(os.environ.get("SEED", "20261124"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
CONCURRENCY = int(os.environ.get("CONCURRENCY", "4"))
CONC_SECS = float(os.environ.get("CONC_SECS", "15"))
BACKENDS = os.environ.get("BACKENDS", "postgres sqlite").split()
PG_BASE = os.environ.get("PG_BASE", "postgres://postgres@127.0.0.1:5432").rstrip("/")
WORDS_FILE = os.environ.get("WORDS_FILE", "/usr/share/dict/words")
P95_TARGET_MS = 50.0
PASSWORD = "correct horse battery staple"

FUNCTION_WORDS = """the of and to a in is that for it as was with be by on not he this are or his from at
which but have an they you were her she there been one all we their has would when if so no will
more can some out other into its""".split()

REPORT = benchlib.Report()
out = REPORT.out


# ----------------------------------------------------------------------------- corpus

class Corpus:
    """Deterministic documents: (user index, filename, text, size, age seconds)."""

    def __init__(self) -> None:
        with open(WORDS_FILE, encoding="utf-8", errors="replace") as f:
            words = sorted({w.strip() for w in f if w.strip().isascii() and w.strip().isalpha()
                            and w.strip().islower() and 3 <= len(w.strip()) <= 12})
        rng = random.Random(SEED)
        rng.shuffle(words)
        fw = set(FUNCTION_WORDS)
        self.vocab = FUNCTION_WORDS + [w for w in words if w not in fw]
        acc, cum = 0.0, []
        for r in range(len(self.vocab)):
            acc += 1.0 / (r + 2.7)
            cum.append(acc)
        self.cum = cum
        self.rng = rng

    def rank_band(self, lo: int, hi: int, n: int, rng: random.Random) -> list[str]:
        return rng.sample(self.vocab[lo:hi], n)

    def documents(self):
        rng = self.rng
        vocab, cum = self.vocab, self.cum
        exts = ["pdf", "pdf", "pdf", "docx", "odt", "txt", "md"]
        for i in range(DOCS):
            n = int(min(3000, max(20, rng.lognormvariate(5.0, 0.8))))
            toks = rng.choices(vocab, cum_weights=cum, k=n)
            sentences, j = [], 0
            while j < n:
                k = rng.randint(6, 18)
                s = toks[j:j + k]
                s[0] = s[0].capitalize()
                sentences.append(" ".join(s) + ".")
                j += k
            text = " ".join(sentences)
            name = (f"{vocab[rng.randint(100, 5000)]}-{vocab[rng.randint(100, 20000)]}-"
                    f"{rng.randint(2015, 2026)}.{rng.choice(exts)}")
            yield i % USERS, name, text, len(text) * 3 + rng.randint(1000, 90000), i * 300 + rng.randint(0, 299)


def queries(corpus: Corpus, sample_texts: list[str], sample_names: list[str]) -> dict[str, list[str]]:
    rng = random.Random(SEED + 1)
    v = corpus.vocab
    common = corpus.rank_band(60, 200, 10, rng)
    medium = corpus.rank_band(1000, 3000, 10, rng)
    rare = corpus.rank_band(30000, len(v), 10, rng)
    phrases = []
    for t in sample_texts[:10]:
        ws = [w.strip(".").lower() for w in t.split()]
        k = rng.randint(0, max(0, len(ws) - 3))
        phrases.append('"' + " ".join(ws[k:k + 2]) + '"')
    return {
        "very common": rng.sample(FUNCTION_WORDS[:20], 10),
        "common": common,
        "medium": medium,
        "rare": rare,
        "absent": [f"zq{rng.randint(10000, 99999)}x" for _ in range(10)],
        "2 words": [f"{c} {m}" for c, m in zip(corpus.rank_band(60, 400, 10, rng), corpus.rank_band(500, 4000, 10, rng))],
        "3 words": [f"{a} {b} {c}" for a, b, c in zip(FUNCTION_WORDS[:10], corpus.rank_band(60, 400, 10, rng),
                                                     corpus.rank_band(200, 2000, 10, rng))],
        "phrase": phrases,
        "exclusion": [f"{a} -{b}" for a, b in zip(corpus.rank_band(60, 300, 10, rng), corpus.rank_band(60, 300, 10, rng))],
        "file name": [n.split("-")[0] for n in sample_names[:10]],
    }


# ----------------------------------------------------------------------------- helpers

def psql(url: str, sql: str, timeout: float = 1800) -> str:
    r = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-At", "-c", sql],
                       capture_output=True, text=True, timeout=timeout, env=dict(CLEAN_ENV))
    if r.returncode != 0:
        raise RuntimeError(f"psql failed ({r.returncode}): {r.stderr.strip()[:500]}")
    return r.stdout.strip()


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return math.nan
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]


class Client:
    """One keep-alive connection; timed GETs."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str, token: str) -> tuple[float, int, bytes]:
        t0 = time.perf_counter()
        try:
            self.conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            res = self.conn.getresponse()
            body = res.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            return (time.perf_counter() - t0) * 1000, 0, b""
        return (time.perf_counter() - t0) * 1000, res.status, body


# ----------------------------------------------------------------------------- seeding

def seed_postgres(db_url: str, users: list[tuple[str, str]], tsv: str) -> None:
    psql(db_url, f"""\\copy documents (id, user_id, filename, object_key, content_type, size_bytes, storage_backend, extracted_text, status, attempts, ai_opt_out, classified_by, created_at, updated_at) FROM '{tsv}'""")
    psql(db_url, "UPDATE quotas q SET limit_bytes = 1099511627776, used_bytes = s.total FROM "
                 "(SELECT user_id, SUM(size_bytes) AS total FROM documents GROUP BY user_id) s WHERE q.user_id = s.user_id")
    psql(db_url, "VACUUM ANALYZE documents")


def sqlite_formats(con: sqlite3.Connection):
    kind, sample_id, sample_ts = con.execute("SELECT typeof(id), id, created_at FROM users LIMIT 1").fetchone()
    return kind, sample_id, sample_ts


def ts_like(sample: str, epoch: float) -> str:
    t = time.gmtime(epoch)
    sep = "T" if "T" in sample else " "
    base = time.strftime(f"%Y-%m-%d{sep}%H:%M:%S", t)
    frac = ""
    if "." in sample:
        digits = len(sample.split(".", 1)[1].rstrip("Z").split("+")[0].split("-")[0])
        frac = "." + f"{int((epoch % 1) * 10**digits):0{digits}d}"
    suffix = "Z" if sample.endswith("Z") else ("+00:00" if sample.endswith("+00:00") else "")
    return base + frac + suffix


# ----------------------------------------------------------------------------- one backend

def run_backend(backend: str, corpus_rows: list, qs: dict[str, list[str]]) -> bool:
    out(f"== {backend} ==")
    work = os.path.join(WORK, backend)
    os.makedirs(os.path.join(work, "data"), exist_ok=True)
    db_name = f"docuvault_bench_search_{os.getpid()}"
    if backend == "postgres":
        admin_url = f"{PG_BASE}/postgres"
        db_url = f"{PG_BASE}/{db_name}"
        psql(admin_url, f"DROP DATABASE IF EXISTS {db_name}")
        psql(admin_url, f"CREATE DATABASE {db_name}")
        out(f"database PostgreSQL {psql(admin_url, 'SHOW server_version')} (fresh database {db_name})")
    else:
        db_path = os.path.join(work, "bench.db")
        db_url = f"sqlite://{db_path}?mode=rwc"
        out(f"database SQLite file {db_path} (WAL), sqlite3 module {sqlite3.sqlite_version}")
    port = free_port()
    env = dict(CLEAN_ENV, DATABASE_URL=db_url, DOCUVAULT__DATA_DIR=os.path.join(work, "data"),
               DOCUVAULT__SERVER__PORT=str(port), DOCUVAULT__STORAGE__BACKEND="local",
               DOCUVAULT__RATE_LIMIT__ENABLED="false", DOCUVAULT__SERVER__RUN_WORKERS="false",
               DOCUVAULT__LOG__LEVEL="warn")
    log = open(os.path.join(work, "server.log"), "wb")
    proc = subprocess.Popen([BIN], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(port, "GET", "/health", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"docuvault exited with {proc.returncode} (log {work}/server.log)")
            if time.monotonic() > deadline:
                raise RuntimeError("/health not 200 within 60 s")
            time.sleep(0.05)
        users = []
        for u in range(USERS):
            handle = f"searcher{u}"
            st, b = request(port, "POST", "/api/auth/register",
                            {"handle": handle, "email": f"{handle}@example.com", "password": PASSWORD})
            if st != 201:
                raise RuntimeError(f"register answered {st}: {b[:200]!r}")
            body = json.loads(b)
            users.append((body["user"]["id"], body["access_token"]))
        now = time.time()
        t0 = time.monotonic()
        if backend == "postgres":
            tsv = os.path.join(work, "documents.tsv")
            with open(tsv, "w") as f:
                for ui, name, text, size, age in corpus_rows:
                    uid = users[ui][0]
                    did = str(uuid.UUID(int=random.getrandbits(128), version=4))
                    ts = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(now - age))
                    f.write(f"{did}\t{uid}\t{name}\t{uid}/{did}/{uuid.uuid4()}.pdf\tapplication/pdf\t{size}\tlocal\t"
                            f"{text}\tclassified\t1\tf\t{{\"provider\": \"builtin\", \"model\": \"bench\"}}\t{ts}\t{ts}\n")
            seed_postgres(db_url, users, tsv)
            os.remove(tsv)
            size = psql(db_url, "SELECT pg_size_pretty(pg_total_relation_size('documents')) || ', GIN index ' || "
                                "pg_size_pretty(pg_relation_size('idx_document_search_vector'))")
        else:
            con = sqlite3.connect(db_path, timeout=60)
            kind, sample_id, sample_ts = sqlite_formats(con)
            ids = {}
            for uid, _ in users:
                row = con.execute("SELECT id FROM users WHERE handle LIKE 'searcher%' AND "
                                  "(id = ? OR id = ? OR id = ?)",
                                  (uuid.UUID(uid).bytes, uid, uid.upper())).fetchone()
                if row is None:
                    raise RuntimeError(f"cannot find user {uid} in SQLite (id type {kind})")
                ids[uid] = row[0]

            def rows():
                for ui, name, text, size, age in corpus_rows:
                    uid = users[ui][0]
                    u = uuid.UUID(int=random.getrandbits(128), version=4)
                    did = u.bytes if kind == "blob" else (str(u).upper() if str(sample_id).isupper() else str(u))
                    ts = ts_like(sample_ts, now - age)
                    yield (did, ids[uid], name, f"{uid}/{u}/{uuid.uuid4()}.pdf", "application/pdf", size, "local",
                           text, "classified", 1, 0, '{"provider": "builtin", "model": "bench"}', ts, ts)

            with con:
                con.executemany(
                    "INSERT INTO documents (id, user_id, filename, object_key, content_type, size_bytes, "
                    "storage_backend, extracted_text, status, attempts, ai_opt_out, classified_by, created_at, "
                    "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows())
                con.execute("UPDATE quotas SET limit_bytes = 1099511627776, used_bytes = (SELECT COALESCE(SUM("
                            "size_bytes), 0) FROM documents d WHERE d.user_id = quotas.user_id)")
            con.close()
            size = f"{os.path.getsize(db_path) / 2**20:.0f} MiB database file"
        out(f"data     {USERS} users x {DOCS // USERS} documents, bulk insert {time.monotonic() - t0:.0f} s ({size})")

        # Sanity: results are owner-scoped, ranked hits with snippets.
        st, b = request(port, "GET", "/api/documents?per_page=1", token=users[0][1])
        total = json.loads(b)["total"]
        if st != 200 or total != DOCS // USERS + (1 if DOCS % USERS else 0):
            raise RuntimeError(f"list answered {st}, total {total}")
        st, b = request(port, "GET", "/api/documents?per_page=5&q=" + urllib.parse.quote(qs["medium"][0]),
                        token=users[0][1])
        page = json.loads(b)
        if st != 200 or not page["items"] or not page["items"][0].get("snippet"):
            raise RuntimeError(f"search answered {st}: {b[:300]!r}")
        if any(d["owner_id"] != users[0][0] for d in page["items"]):
            raise RuntimeError("search returned another user's document")

        plan = [(cat, q) for cat, ql in qs.items() for q in ql]
        base_path = "/api/documents?page=1&per_page=20"

        def path_for(q: str) -> str:
            return "/api/documents?per_page=20&q=" + urllib.parse.quote(q)

        # sequential
        c = Client(port)
        for i, (_, q) in enumerate(plan):  # warm-up
            c.get(path_for(q), users[i % USERS][1])
        lat: dict[str, list[float]] = {k: [] for k in qs}
        hits: dict[str, list[int]] = {k: [] for k in qs}
        capped: dict[str, int] = {k: 0 for k in qs}
        errors = 0
        n = 0
        for r in range(ROUNDS):
            for i, (cat, q) in enumerate(plan):
                ms, st, b = c.get(path_for(q), users[(i + r) % USERS][1])
                n += 1
                if st != 200:
                    errors += 1
                    continue
                lat[cat].append(ms)
                if r == 0:
                    page = json.loads(b)
                    hits[cat].append(page["total"])
                    capped[cat] += page.get("total_exact") is False
        base_lat = []
        for r in range(ROUNDS * len(plan) // 2):
            ms, st, _ = c.get(base_path, users[r % USERS][1])
            if st != 200:
                errors += 1
            base_lat.append(ms)
        all_lat = [x for v in lat.values() for x in v]
        out(f"sequential, 1 connection, {ROUNDS} rounds x {len(plan)} queries (+1 warm-up round), per_page=20:")
        out(f"  {'category':<12} {'hits (avg of 10 queries, per user)':>36}  {'p50':>7} {'p95':>7} {'max':>7} ms")
        for cat in qs:
            h = hits[cat]
            # A search returns at most documents.search_max_hits documents.
            at_limit = f"{sum(h) / max(1, len(h)):.0f}" + (f" ({capped[cat]} at the hit limit)" if capped[cat] else "")
            out(f"  {cat:<12} {at_limit:>36}  {pct(lat[cat], 50):7.2f} {pct(lat[cat], 95):7.2f} "
                f"{max(lat[cat] or [math.nan]):7.2f}")
        s50, s95, s99 = pct(all_lat, 50), pct(all_lat, 95), pct(all_lat, 99)
        b50, b95 = pct(base_lat, 50), pct(base_lat, 95)
        out(f"  {'all search':<12} {'n=' + str(len(all_lat)):>36}  {s50:7.2f} {s95:7.2f} {max(all_lat):7.2f}   p99 {s99:.2f}")
        out(f"  {'list (no q)':<12} {'n=' + str(len(base_lat)):>36}  {b50:7.2f} {b95:7.2f} {max(base_lat):7.2f}   <- baseline")
        out(f"  search / list: p50 {s50 / b50:.1f}x  p95 {s95 / b95:.1f}x   errors {errors}")

        # concurrent
        def load(paths_tokens: list[tuple[str, str]], secs: float) -> tuple[list[float], int, float]:
            res: list[list[float]] = [[] for _ in range(CONCURRENCY)]
            errs = [0] * CONCURRENCY
            stop = time.monotonic() + secs

            def worker(k: int) -> None:
                cl = Client(port)
                i = k * 7
                while time.monotonic() < stop:
                    p, tok = paths_tokens[i % len(paths_tokens)]
                    ms, st, _ = cl.get(p, tok)
                    if st == 200:
                        res[k].append(ms)
                    else:
                        errs[k] += 1
                    i += 1

            t = time.monotonic()
            ths = [threading.Thread(target=worker, args=(k,)) for k in range(CONCURRENCY)]
            for th in ths:
                th.start()
            for th in ths:
                th.join()
            wall = time.monotonic() - t
            flat = [x for r_ in res for x in r_]
            return flat, sum(errs), len(flat) / wall

        mix = [(path_for(q), users[i % USERS][1]) for i, (_, q) in enumerate(plan)]
        clat, cerr, crps = load(mix, CONC_SECS)
        blat, berr, brps = load([(base_path, users[i % USERS][1]) for i in range(USERS)], CONC_SECS / 2)
        out(f"concurrent, {CONCURRENCY} connections (closed loop), {CONC_SECS:.0f} s search mix / {CONC_SECS / 2:.0f} s list:")
        out(f"  search mix   {crps:7.1f} req/s  p50 {pct(clat, 50):7.2f}  p95 {pct(clat, 95):7.2f}  p99 {pct(clat, 99):7.2f}  "
            f"max {max(clat or [math.nan]):7.2f} ms  n={len(clat)} errors {cerr}")
        out(f"  list (no q)  {brps:7.1f} req/s  p50 {pct(blat, 50):7.2f}  p95 {pct(blat, 95):7.2f}  p99 {pct(blat, 99):7.2f}  "
            f"max {max(blat or [math.nan]):7.2f} ms  n={len(blat)} errors {berr}   <- baseline")
        out(f"  search / list: throughput {crps / brps:.2f}x  p95 {pct(clat, 95) / pct(blat, 95):.1f}x")
        ok_seq = s95 < P95_TARGET_MS and errors == 0
        ok_conc = pct(clat, 95) < P95_TARGET_MS and cerr == 0
        out(f"target {backend}: search p95 < {P95_TARGET_MS:.0f} ms sequential: {'PASS' if ok_seq else 'FAIL'} "
            f"({s95:.2f} ms); with {CONCURRENCY} connections: {'PASS' if ok_conc else 'FAIL'} ({pct(clat, 95):.2f} ms)")
        out()
        return ok_seq and ok_conc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        if backend == "postgres" and not os.environ.get("KEEP_DB"):
            try:
                psql(f"{PG_BASE}/postgres", f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
            except Exception as err:  # noqa: BLE001
                print(f"warning: could not drop {db_name}: {err}", file=sys.stderr)


def main() -> int:
    version = subprocess.run([BIN, "--version"], env=CLEAN_ENV, capture_output=True, text=True).stdout.strip()
    out(f"DocuVault full-text search benchmark   {time.strftime('%Y-%m-%d %H:%M:%S %z')}")
    out(f"binary   {os.environ.get('BENCH_BIN_DESC', BIN)} ({version or '?'})")
    if os.environ.get("BENCH_COMMIT"):
        out(f"commit   {os.environ['BENCH_COMMIT']}")
    out(f"machine  {os.cpu_count()} CPUs, {os.uname().release}, loadavg(1m) {os.getloadavg()[0]:.2f}; "
        f"client (Python) on the same cores")
    t0 = time.monotonic()
    random.seed(SEED)
    corpus = Corpus()
    rows = list(corpus.documents())
    words = sum(len(r[2].split()) for r in rows)
    chars = sum(len(r[2]) for r in rows)
    out(f"corpus   {len(rows)} documents, {words / len(rows):.0f} words ({chars / len(rows) / 1024:.1f} KiB) per document "
        f"on average, {chars / 2**20:.0f} MiB of text, vocabulary {len(corpus.vocab)} words from {WORDS_FILE}, "
        f"seed {SEED}, generated in {time.monotonic() - t0:.0f} s")
    qs = queries(corpus, [r[2] for r in rows[:10]], [r[1] for r in rows[:10]])
    out("queries  " + "; ".join(f"{k}: {', '.join(v[:3])}, …" for k, v in qs.items()))
    out()
    ok = True
    for backend in BACKENDS:
        ok = run_backend(backend, rows, qs) and ok
    return 0 if ok else 2


if __name__ == "__main__":
    REPORT.run("search", main, OUT)
