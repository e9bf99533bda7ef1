"""Full-text search benchmark driver (PostgreSQL and SQLite). Run through bench/search/run.sh.

    python3 bench/search/search.py BIN WORK OUT

Two corpora (CORPUS=real|synthetic|both, default both), each DOCS (100 000) 'classified'
documents spread evenly over USERS (10) accounts:

- real: the text of the 268 PDFs of Debian's texlive-latex-base-doc (LaTeX manuals,
  pdftotext; bench/search/fetch-texts.sh fetches them into TEXTS_DIR), replicated with
  variation. Document i takes source i mod 268 (each round over the sources in a new
  order), a window of 30-100 % of its paragraphs (whole documents from the title on, or
  parts of them), the paragraphs shuffled in blocks of 3-12 (so sentences and phrases
  stay whole), the sentences of a few paragraphs shuffled, two words replaced throughout
  by another (package -> bundle, ...), INJECT dictionary words that no source contains
  added (the rare words: each in about 25 documents of the whole corpus), cut at
  MAX_CHARS (the server's extract.max_chars); its file name is the source's under one of
  several patterns (`fancyhdr.pdf`, `fancyhdr-2019.pdf`, `2021-03-04 fancyhdr.pdf`,
  `Fancyhdr (3).pdf`, `fancyhdr_v2.1.pdf`, `scan-fancyhdr-0042.pdf`).
- synthetic: generated from /usr/share/dict/words (Debian `wamerican`): dictionary words
  behind 60 English function words with Zipf-Mandelbrot frequencies, sentences of 6-18
  words, log-normal lengths (median ~150 words): short documents.

For each corpus and each backend in BACKENDS ("postgres sqlite"): a fresh database, the
release `docuvault` on it (free port, clean environment, rate limiter off, no workers), the
accounts registered through the API, then the documents bulk-inserted with SQL
(PostgreSQL: psql \\copy, then VACUUM ANALYZE of the whole database; SQLite: one
transaction through Python's sqlite3, the search triggers indexing every row as the app's
own writes would).

Query classes (QUERIES queries each, chosen from the corpus itself: document frequencies
counted over its first 2 000 documents): very common (the most frequent words), common
(in 10-50 % of documents), medium (0.5-5 %), rare, absent, 2 and 3 words found together
in a document, phrases of 2-3 words taken from a document, stop-word phrases (the most
frequent runs of 4 stop words such as "if there is no"), exclusions (`common -medium`),
file-name words, prefixes (`docum*`, the start of a common word: measured as the server answers them; the report says
whether it matched them as prefixes or as whole words). Each user searches their own
documents (GET /api/documents?q=...&per_page=20). Measured: sequential (one keep-alive
connection, ROUNDS passes after a warm-up pass) and concurrent (CONCURRENCY threads, one
keep-alive connection each, CONC_SECS seconds over the same mix), per-request latency in
the client, per class. Baseline: the same list request without q, measured the same way
in the same run. The cost of `count=exact` is measured on the very common and common
words (sequential, ROUNDS passes). The server runs with its defaults (documents.search_max_hits = 1 000;
"at limit" counts the queries whose total hit it).

Target (issue 17): every class p95 < 50 ms, sequential and concurrent, on both backends,
0 errors. Exit code: 0 = targets met, 2 = a target missed, 1 = the benchmark itself failed.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402
from benchlib import CLEAN_ENV, free_port, request  # noqa: E402

BIN, WORK, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
CORPORA = {"both": ["real", "synthetic"]}.get(os.environ.get("CORPUS", "both"),
                                               [os.environ.get("CORPUS", "both")])
DOCS = int(os.environ.get("DOCS", "100000"))
USERS = int(os.environ.get("USERS", "10"))
SEED = int(os.environ.get("SEED", "20261124"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
QUERIES = int(os.environ.get("QUERIES", "10"))
CONCURRENCY = int(os.environ.get("CONCURRENCY", "8"))
CONC_SECS = float(os.environ.get("CONC_SECS", "20"))
BACKENDS = os.environ.get("BACKENDS", "postgres sqlite").split()
PG_BASE = os.environ.get("PG_BASE", "postgres://postgres@127.0.0.1:5432").rstrip("/")
WORDS_FILE = os.environ.get("WORDS_FILE", "/usr/share/dict/words")
TEXTS_DIR = os.environ.get("TEXTS_DIR", "")
MAX_CHARS = int(os.environ.get("MAX_CHARS", "1000000"))
INJECT = int(os.environ.get("INJECT", "8"))
# Every TRASH_EVERY-th document (0: none) is in the trash: searches must skip it.
TRASH_EVERY = int(os.environ.get("TRASH_EVERY", "0"))
TRASHED_BY_USER: Counter = Counter()  # filled by load_documents
SAMPLE = 2000
P95_TARGET_MS = 50.0
SUGGEST_P95_TARGET_MS = 20.0
SUGGEST_BUILD_SECS = float(os.environ.get("SUGGEST_BUILD_SECS", "900"))
PASSWORD = "correct horse battery staple"

FUNCTION_WORDS = """the of and to a in is that for it as was with be by on not he this are or his from at
which but have an they you were her she there been one all we their has would when if so no will
more can some out other into its""".split()
# Stop words for the stop-word phrases (English function words; `or` is an operator).
STOP_WORDS = set("""a an the of to and be is are was were it this that these those in on at for with as by
if not no there here so we you they he she can will would should may might do does did has have
had been being than then all any some such""".split())

REPORT = benchlib.Report()
out = REPORT.out
WORD_RE = re.compile(r"[^\W_]+")


def words_of(text: str) -> list[str]:
    """The words as both backends split them, lower-cased (give or take)."""
    return WORD_RE.findall(text.lower())


def dictionary(min_len: int, max_len: int) -> list[str]:
    with open(WORDS_FILE, encoding="utf-8", errors="replace") as f:
        return sorted({w.strip() for w in f if w.strip().isascii() and w.strip().isalpha()
                       and w.strip().islower() and min_len <= len(w.strip()) <= max_len})


# ----------------------------------------------------------------------------- corpora

class SyntheticCorpus:
    """Deterministic short documents: (user index, filename, text, size, age seconds)."""

    name = "synthetic"

    def __init__(self) -> None:
        words = dictionary(3, 12)
        random.Random(SEED).shuffle(words)
        fw = set(FUNCTION_WORDS)
        self.vocab = FUNCTION_WORDS + [w for w in words if w not in fw]
        acc, cum = 0.0, []
        for r in range(len(self.vocab)):
            acc += 1.0 / (r + 2.7)
            cum.append(acc)
        self.cum = cum

    def describe(self) -> str:
        return (f"synthetic: Zipf-distributed words of {WORDS_FILE} ({len(self.vocab)} words) behind "
                f"{len(FUNCTION_WORDS)} function words, log-normal lengths, seed {SEED}")

    def documents(self):
        rng = random.Random(SEED)
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

    def rare_words(self, rng: random.Random, n: int) -> list[str]:
        # Ranks past 30 000 of a Zipf distribution: a handful of documents each.
        return rng.sample(self.vocab[30000:], n)


# Word swaps of the real corpus's variation: each document swaps two of them throughout.
SWAPS = [("package", "bundle"), ("document", "file"), ("command", "macro"), ("section", "chapter"),
         ("example", "sample"), ("option", "setting"), ("user", "reader"), ("font", "typeface"),
         ("table", "grid"), ("page", "leaf"), ("version", "release"), ("file", "record"),
         ("text", "prose"), ("figure", "illustration"), ("default", "standard"), ("error", "fault")]


class RealCorpus:
    """Real long documents: the texts of TEXTS_DIR replicated with variation."""

    name = "real"

    def __init__(self) -> None:
        if not TEXTS_DIR or not os.path.isdir(os.path.join(TEXTS_DIR, "txt")):
            raise RuntimeError("TEXTS_DIR is not set to the texts of bench/search/fetch-texts.sh")
        pdf_bytes = {}
        with open(os.path.join(TEXTS_DIR, "MANIFEST.tsv"), encoding="utf-8") as f:
            next(f)
            for line in f:
                name, size, _, _ = line.rstrip("\n").split("\t")
                pdf_bytes[name] = int(size)
        self.sources = []  # (name, paragraphs, chars, pdf bytes)
        vocabulary: set[str] = set()
        for name in sorted(pdf_bytes):
            with open(os.path.join(TEXTS_DIR, "txt", name + ".txt"), encoding="utf-8", errors="replace") as f:
                text = f.read().replace("\x00", "")
            vocabulary.update(words_of(text))
            paras = [p.strip() for p in re.split(r"\n\s*\n|\f", text)]
            paras = [p for p in paras if p]
            self.sources.append((name, paras, len(text), pdf_bytes[name]))
        self.source_chars = sum(s[2] for s in self.sources)
        # Rare words: dictionary words no source contains, each injected into ~25 documents.
        pool = [w for w in dictionary(5, 12) if w not in vocabulary]
        random.Random(SEED).shuffle(pool)
        self.rare_pool = pool[:max(1000, min(len(pool), DOCS * INJECT // 25))]

    def describe(self) -> str:
        lens = sorted(s[2] for s in self.sources)
        return (f"real: {len(self.sources)} texts of {TEXTS_DIR} (pdftotext of Debian texlive-latex-base-doc "
                f"2022.20230122-3; median {lens[len(lens) // 2] / 1024:.0f} KiB, max {lens[-1] / 2**20:.1f} MiB), "
                f"replicated with variation (windows, shuffled blocks and sentences, word swaps, {INJECT} rare "
                f"words of {len(self.rare_pool)} per document, cut at {MAX_CHARS} characters), seed {SEED}")

    def documents(self):
        rng = random.Random(SEED)
        n = len(self.sources)
        order = list(range(n))
        for i in range(DOCS):
            if i % n == 0:
                rng.shuffle(order)
            name, paras, chars, pdf = self.sources[order[i % n]]
            k = len(paras)
            w = k if k <= 3 else max(3, int(k * rng.uniform(0.3, 1.0)))
            start = 0 if rng.random() < 0.3 else rng.randint(0, k - w)
            sel = paras[start:start + w]
            block = rng.randint(3, 12)
            blocks = [sel[j:j + block] for j in range(0, len(sel), block)]
            rest = blocks[1:]
            rng.shuffle(rest)
            body = [p for b in [blocks[0]] + rest for p in b]
            for _ in range(min(len(body), 4)):
                j = rng.randrange(len(body))
                sentences = body[j].split(". ")
                if len(sentences) > 2:
                    rng.shuffle(sentences)
                    body[j] = ". ".join(sentences)
            for _ in range(INJECT):
                j = rng.randrange(len(body))
                body[j] = f"{body[j]} {self.rare_pool[rng.randrange(len(self.rare_pool))]}"
            text = "\n\n".join(body)
            for a, b in rng.sample(SWAPS, 2):
                text = text.replace(f" {a} ", f" {b} ").replace(f" {a}s ", f" {b}s ")
            text = text[:MAX_CHARS]
            year = rng.randint(2005, 2026)
            filename = rng.choice([
                f"{name}.pdf", f"{name}-{year}.pdf", f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {name}.pdf",
                f"{name.capitalize()} ({rng.randint(2, 9)}).pdf", f"{name}_v{rng.randint(1, 5)}.{rng.randint(0, 9)}.pdf",
                f"scan-{name}-{rng.randint(1, 9999):04d}.pdf"])
            size = max(1000, int(pdf * len(text) / max(1, chars)) + rng.randint(0, 4096))
            yield i % USERS, filename, text, size, i * 300 + rng.randint(0, 299)

    def rare_words(self, rng: random.Random, n: int, sample_words: set[str] | None = None) -> list[str]:
        seen = [w for w in self.rare_pool if sample_words is None or w in sample_words]
        return rng.sample(seen, min(n, len(seen)))


def corpus_queries(corpus, sample: list[tuple]) -> dict[str, list[str]]:
    """The query classes, chosen from the corpus's first documents."""
    rng = random.Random(SEED + 1)
    docs_words = [words_of(r[2]) for r in sample]
    df: Counter[str] = Counter()
    for ws in docs_words:
        df.update(set(ws))
    n = len(sample)
    plain = [w for w in df if w.isalpha() and len(w) >= 3]
    by_df = sorted(df, key=lambda w: (-df[w], w))
    very_common = [w for w in by_df if w.isalpha()][:QUERIES]
    band = lambda lo, hi: sorted(w for w in plain if lo <= df[w] / n < hi)  # noqa: E731
    common_pool, medium_pool = band(0.10, 0.50), band(0.005, 0.05)
    common = rng.sample(common_pool, QUERIES)
    medium = rng.sample(medium_pool, QUERIES)
    sample_words = set(df)
    if isinstance(corpus, RealCorpus):
        rare = corpus.rare_words(rng, QUERIES, sample_words)
    else:
        rare = corpus.rare_words(rng, QUERIES)
    common_set, medium_set = set(common_pool), set(medium_pool)

    def together(k: int) -> list[str]:
        qs = []
        for _ in range(50 * QUERIES):
            if len(qs) == QUERIES:
                break
            ws = set(docs_words[rng.randrange(n)])
            mids = sorted(ws & medium_set)
            comms = sorted(ws & common_set)
            if not mids or len(comms) < k - 1:
                continue
            picked = rng.sample(comms, k - 1) + [rng.choice(mids)]
            qs.append(" ".join(picked))
        return qs

    phrases = []
    for _ in range(200 * QUERIES):
        if len(phrases) == QUERIES:
            break
        ws = docs_words[rng.randrange(n)]
        if len(ws) < 10:
            continue
        j = rng.randrange(len(ws) - 4)
        k = rng.choice([2, 3])
        run = ws[j:j + k]
        if all(w.isalpha() and len(w) >= 3 and w not in STOP_WORDS for w in run):
            phrases.append('"' + " ".join(run) + '"')
    grams: Counter[str] = Counter()
    for ws in docs_words[:500]:
        for j in range(len(ws) - 3):
            g = ws[j:j + 4]
            if all(w in STOP_WORDS for w in g) and len(set(g)) == 4:
                grams[" ".join(g)] += 1
    stop_phrases = ['"' + g + '"' for g, _ in grams.most_common(QUERIES)]
    excl = [f"{a} -{b}" for a, b in zip(rng.sample(common_pool, QUERIES), rng.sample(medium_pool, QUERIES))]
    names = []
    for r in sample:
        w = next((x for x in words_of(r[1]) if x.isalpha() and len(x) >= 4 and x not in ("scan", "pdf")), None)
        if w and w not in names:
            names.append(w)
        if len(names) == QUERIES:
            break
    # The start of a common word, as someone types it.
    prefixes = [f"{w[:rng.randint(4, 6)]}*" for w in rng.sample([w for w in common_pool if len(w) >= 7], QUERIES)]
    return {
        "very common": very_common,
        "common": common,
        "medium": medium,
        "rare": rare,
        "absent": [f"zq{rng.randint(10000, 99999)}x" for _ in range(QUERIES)],
        "2 words": together(2),
        "3 words": together(3),
        "phrase": phrases,
        "stop phrase": stop_phrases,
        "exclusion": excl,
        "file name": names,
        "prefix": prefixes,
    }


# ----------------------------------------------------------------------------- helpers

def psql(url: str, sql: str, timeout: float = 7200) -> str:
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


def copy_escape(s: str) -> str:
    """A value in psql's \\copy text format."""
    return (s.replace("\x00", "").replace("\\", "\\\\").replace("\t", "\\t")
            .replace("\n", "\\n").replace("\r", "\\r"))


class Client:
    """One keep-alive connection; timed GETs."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path: str, token: str) -> tuple[float, int, bytes]:
        t0 = time.perf_counter()
        try:
            self.conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            res = self.conn.getresponse()
            body = res.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            return (time.perf_counter() - t0) * 1000, 0, b""
        return (time.perf_counter() - t0) * 1000, res.status, body


# ----------------------------------------------------------------------------- seeding

def seed_postgres(db_url: str, tsv: str, texts_tsv: str) -> None:
    psql(db_url, f"""\\copy documents (id, user_id, filename, object_key, content_type, size_bytes, storage_backend, status, attempts, ai_opt_out, classified_by, created_at, updated_at, trashed_at) FROM '{tsv}'""")
    psql(db_url, f"""\\copy document_texts (document_id, body) FROM '{texts_tsv}'""")
    psql(db_url, "UPDATE quotas q SET limit_bytes = 1099511627776, used_bytes = s.total FROM "
                 "(SELECT user_id, SUM(size_bytes) AS total FROM documents GROUP BY user_id) s WHERE q.user_id = s.user_id")
    # Every seeded table (documents, texts, the search vectors the triggers wrote): a
    # table without statistics gets plans autovacuum's analyze would soon replace.
    psql(db_url, "VACUUM ANALYZE")


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


def start_server(backend: str, work: str, db_url: str):
    port = free_port()
    env = dict(CLEAN_ENV, DATABASE_URL=db_url, DOCUVAULT__DATA_DIR=os.path.join(work, "data"),
               DOCUVAULT__SERVER__PORT=str(port), DOCUVAULT__STORAGE__BACKEND="local",
               DOCUVAULT__RATE_LIMIT__ENABLED="false", DOCUVAULT__SERVER__RUN_WORKERS="false",
               DOCUVAULT__LOG__LEVEL="warn")
    log = open(os.path.join(work, "server.log"), "ab")
    proc = subprocess.Popen([BIN], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    benchlib.wait_healthy(port, proc, 120, os.path.join(work, "server.log"), poll_s=0.05)
    return proc, log, port


def stop_server(proc, log) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()


def in_trash(i: int) -> bool:
    """Whether the i-th document loaded (from 0; document i is user i % USERS's) is in
    the trash: every TRASH_EVERY-th of each user's."""
    return TRASH_EVERY > 0 and (i // USERS) % TRASH_EVERY == TRASH_EVERY - 1


def load_documents(backend: str, corpus, work: str, db_url: str, db_path: str | None,
                   users: list[tuple[str, str]]) -> str:
    """Bulk-inserts the corpus; returns what the data takes on disk."""
    now = time.time()
    rnd = random.Random(SEED + 7)
    TRASHED_BY_USER.clear()
    if backend == "postgres":
        tsv = os.path.join(work, "documents.tsv")
        texts_tsv = os.path.join(work, "document_texts.tsv")
        with open(tsv, "w", encoding="utf-8") as f, open(texts_tsv, "w", encoding="utf-8") as ft:
            for i, (ui, name, text, size, age) in enumerate(corpus.documents()):
                uid = users[ui][0]
                did = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
                ts = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(now - age))
                trashed = ts if in_trash(i) else "\\N"
                TRASHED_BY_USER[ui] += in_trash(i)
                f.write(f"{did}\t{uid}\t{copy_escape(name)}\t{uid}/{did}/{uuid.uuid4()}.pdf\tapplication/pdf\t{size}\t"
                        f"local\tclassified\t1\tf\t{{\"provider\": \"builtin\", \"model\": \"bench\"}}"
                        f"\t{ts}\t{ts}\t{trashed}\n")
                ft.write(f"{did}\t{copy_escape(text)}\n")
        seed_postgres(db_url, tsv, texts_tsv)
        os.remove(tsv)
        os.remove(texts_tsv)
        return psql(db_url, "SELECT pg_size_pretty(pg_total_relation_size('documents') + pg_total_relation_size('document_texts') + pg_total_relation_size('document_search')) || ', GIN index ' || "
                            "pg_size_pretty(pg_relation_size('idx_document_search_vector'))")
    con = sqlite3.connect(db_path, timeout=60)
    kind, sample_id, sample_ts = con.execute("SELECT typeof(id), id, created_at FROM users LIMIT 1").fetchone()
    ids = {}
    for uid, _ in users:
        row = con.execute("SELECT id FROM users WHERE handle LIKE 'searcher%' AND (id = ? OR id = ? OR id = ?)",
                          (uuid.UUID(uid).bytes, uid, uid.upper())).fetchone()
        if row is None:
            raise RuntimeError(f"cannot find user {uid} in SQLite (id type {kind})")
        ids[uid] = row[0]

    def rows():
        for i, (ui, name, text, size, age) in enumerate(corpus.documents()):
            uid = users[ui][0]
            TRASHED_BY_USER[ui] += in_trash(i)
            u = uuid.UUID(int=rnd.getrandbits(128), version=4)
            did = u.bytes if kind == "blob" else (str(u).upper() if str(sample_id).isupper() else str(u))
            ts = ts_like(sample_ts, now - age)
            yield (did, ids[uid], name, f"{uid}/{u}/{uuid.uuid4()}.pdf", "application/pdf", size, "local",
                   "classified", 1, 0, '{"provider": "builtin", "model": "bench"}', ts, ts,
                   ts if in_trash(i) else None), text

    with con:
        for doc, text in rows():
            con.execute(
                "INSERT INTO documents (id, user_id, filename, object_key, content_type, size_bytes, "
                "storage_backend, status, attempts, ai_opt_out, classified_by, created_at, "
                "updated_at, trashed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", doc)
            con.execute("INSERT INTO document_texts (document_id, body) VALUES (?, ?)", (doc[0], text))
        con.execute("UPDATE quotas SET limit_bytes = 1099511627776, used_bytes = (SELECT COALESCE(SUM("
                    "size_bytes), 0) FROM documents d WHERE d.user_id = quotas.user_id)")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return f"{os.path.getsize(db_path) / 2**20:.0f} MiB database file"


# ----------------------------------------------------------------------------- one backend

def row(label: str, hits: str, seq: list[float], conc: list[float]) -> str:
    def cols(xs: list[float]) -> str:
        return f"{pct(xs, 50):7.1f} {pct(xs, 95):7.1f} {pct(xs, 99):7.1f} {max(xs or [math.nan]):7.1f}"
    return f"  {label:<13} {hits:>16}  {cols(seq)}  | {cols(conc)}"


def run_backend(backend: str, corpus, qs: dict[str, list[str]]) -> bool:
    out(f"== {backend}, {corpus.name} corpus ==")
    work = os.path.join(WORK, f"{backend}-{corpus.name}")
    os.makedirs(os.path.join(work, "data"), exist_ok=True)
    db_name = f"docuvault_bench_search_{corpus.name}_{os.getpid()}"
    db_path = None
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
    proc, log, port = start_server(backend, work, db_url)
    try:
        users = []
        for u in range(USERS):
            handle = f"searcher{u}"
            st, b = request(port, "POST", "/api/auth/register",
                            {"handle": handle, "email": f"{handle}@example.com", "password": PASSWORD})
            if st != 201:
                raise RuntimeError(f"register answered {st}: {b[:200]!r}")
            body = json.loads(b)
            users.append((body["user"]["id"], body["access_token"]))
        t0 = time.monotonic()
        size = load_documents(backend, corpus, work, db_url, db_path, users)
        out(f"data     {USERS} users x {DOCS // USERS} documents, bulk insert {time.monotonic() - t0:.0f} s ({size}); "
            f"{sum(TRASHED_BY_USER.values())} in the trash")

        # Sanity: results are owner-scoped, ranked hits with snippets.
        st, b = request(port, "GET", "/api/documents?per_page=1", token=users[0][1])
        total = json.loads(b)["total"]
        if st != 200 or total != DOCS // USERS + (1 if DOCS % USERS else 0) - TRASHED_BY_USER[0]:
            raise RuntimeError(f"list answered {st}, total {total}")
        st, b = request(port, "GET", "/api/documents?per_page=5&q=" + urllib.parse.quote(qs["common"][0]),
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
        per_query: dict[tuple[str, str], list[float]] = {}
        hits: dict[str, list[int]] = {k: [] for k in qs}
        capped: dict[str, int] = {k: 0 for k in qs}
        errors = 0
        for r in range(ROUNDS):
            for i, (cat, q) in enumerate(plan):
                ms, st, b = c.get(path_for(q), users[(i + r) % USERS][1])
                if st != 200:
                    errors += 1
                    continue
                lat[cat].append(ms)
                per_query.setdefault((cat, q), []).append(ms)
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

        # The cost of count=exact: the very common and common words (which pass the hit
        # limit), counted exactly, sequentially.
        exact_lat: dict[str, list[float]] = {"very common": [], "common": []}
        exact_totals: dict[str, list[int]] = {"very common": [], "common": []}
        for r in range(ROUNDS):
            for cat in exact_lat:
                for i, q in enumerate(qs[cat]):
                    ms, st, b = c.get(path_for(q) + "&count=exact", users[(i + r) % USERS][1])
                    if st != 200:
                        errors += 1
                        continue
                    exact_lat[cat].append(ms)
                    if r == 0:
                        exact_totals[cat].append(json.loads(b)["total"])

        # How the server answered the prefix queries: as prefixes (more hits than the
        # whole word) or as the whole word.
        as_prefix = 0
        for i, q in enumerate(qs["prefix"]):
            tok = users[(i + ROUNDS - 1) % USERS][1]
            _, _, b1 = c.get(path_for(q), tok)
            _, _, b2 = c.get(path_for(q.rstrip("*")), tok)
            if json.loads(b1 or b"{}").get("total", 0) > json.loads(b2 or b"{}").get("total", 0):
                as_prefix += 1

        # Suggestions (GET /api/documents/suggest): the documents were bulk-inserted, so
        # each user's first request starts the background build of their vocabulary; wait
        # until every user's is built, then type the starts of words (2 to 5 letters).
        t_vocab = time.monotonic()
        pending_users = list(range(USERS))
        while pending_users and time.monotonic() - t_vocab < SUGGEST_BUILD_SECS:
            still = []
            for u in pending_users:
                _, st, b = c.get("/api/documents/suggest?q=th", users[u][1])
                if st != 200 or not json.loads(b)["suggestions"]:
                    still.append(u)
            pending_users = still
            if pending_users:
                time.sleep(0.5)
        vocab_secs = time.monotonic() - t_vocab
        words_pool = [w for cat in ("very common", "common", "medium", "rare") for q in qs[cat]
                      for w in WORD_RE.findall(q) if len(w) >= 5]
        typed = sorted({w[:k].lower() for w in words_pool for k in (2, 3, 4, 5)})
        sug_lat: list[float] = []
        sug_found = 0
        sug_errors = 0
        for r in range(ROUNDS):
            for i, t in enumerate(typed):
                ms, st, b = c.get("/api/documents/suggest?q=" + urllib.parse.quote("tax " + t),
                                  users[(i + r) % USERS][1])
                if st != 200:
                    sug_errors += 1
                    continue
                sug_lat.append(ms)
                if r == 0 and json.loads(b)["suggestions"]:
                    sug_found += 1

        # concurrent: the same mix, CONCURRENCY closed-loop clients
        def load(paths: list[tuple[str, str, str]], secs: float) -> tuple[dict[str, list[float]], int, float]:
            res: list[list[tuple[str, float]]] = [[] for _ in range(CONCURRENCY)]
            errs = [0] * CONCURRENCY
            stop = time.monotonic() + secs

            def worker(k: int) -> None:
                cl = Client(port)
                i = k * 7
                while time.monotonic() < stop:
                    cat, p, tok = paths[i % len(paths)]
                    ms, st, _ = cl.get(p, tok)
                    if st == 200:
                        res[k].append((cat, ms))
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
            by: dict[str, list[float]] = {}
            for r_ in res:
                for cat, ms in r_:
                    by.setdefault(cat, []).append(ms)
            return by, sum(errs), sum(len(r_) for r_ in res) / wall

        mix = [(cat, path_for(q), users[i % USERS][1]) for i, (cat, q) in enumerate(plan)]
        clat, cerr, crps = load(mix, CONC_SECS)
        blat_by, berr, brps = load([("list", base_path, users[i % USERS][1]) for i in range(USERS)], CONC_SECS / 2)
        blat = blat_by.get("list", [])

        out(f"latency ms: sequential = 1 connection, {ROUNDS} rounds x {len(plan)} queries (+1 warm-up round); "
            f"concurrent = {CONCURRENCY} connections, {CONC_SECS:.0f} s of the same mix; per_page=20; "
            f"target p95 < {P95_TARGET_MS:.0f} ms")
        out(f"  {'class':<13} {'hits (at limit)':>16}  {'seq p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  | "
            f"{'conc p50':>7} {'p95':>7} {'p99':>7} {'max':>7}  target")
        failed_classes = []
        for cat in qs:
            h = hits[cat]
            shown = f"{sum(h) / max(1, len(h)):.0f}" + (f" ({capped[cat]})" if capped[cat] else "")
            label = cat if cat != "prefix" else ("prefix" if as_prefix else "prefix (word)")
            ok = pct(lat[cat], 95) < P95_TARGET_MS and pct(clat.get(cat, []), 95) < P95_TARGET_MS
            if not ok:
                failed_classes.append(cat)
            out(row(label, shown, lat[cat], clat.get(cat, [])) + f"  {'PASS' if ok else 'FAIL'}")
        all_seq = [x for v in lat.values() for x in v]
        all_conc = [x for v in clat.values() for x in v]
        out(row("all search", f"n={len(all_seq)}/{len(all_conc)}", all_seq, all_conc))
        out(row("list (no q)", f"n={len(base_lat)}/{len(blat)}", base_lat, blat) + "  <- baseline")
        out(f"  search / list p95: sequential {pct(all_seq, 95) / pct(base_lat, 95):.1f}x, concurrent "
            f"{pct(all_conc, 95) / pct(blat, 95):.1f}x; throughput {crps:.1f} searches/s vs {brps:.1f} lists/s; "
            f"errors {errors + cerr + berr}")
        slowest = sorted(per_query.items(), key=lambda kv: -pct(kv[1], 50))[:5]
        out("  slowest queries (sequential median): " + "; ".join(
            f"{q} ({cat}) {pct(xs, 50):.0f} ms" for (cat, q), xs in slowest))
        for cat, xs in exact_lat.items():
            t = exact_totals[cat]
            out(f"  count=exact, {cat}: {sum(t) / max(1, len(t)):.0f} matches on average; sequential p50 "
                f"{pct(xs, 50):.1f} p95 {pct(xs, 95):.1f} p99 {pct(xs, 99):.1f} ms (bounded: p50 "
                f"{pct(lat[cat], 50):.1f} p95 {pct(lat[cat], 95):.1f})")
        if as_prefix:
            out(f"  prefix: {as_prefix} of {len(qs['prefix'])} queries matched more than the whole word (prefix search)")
        else:
            out("  prefix (word): the server matched `abc*` as the whole word `abc` (no prefix search yet)")
        sug_ok = (not pending_users and sug_errors == 0 and sug_lat
                  and pct(sug_lat, 95) < SUGGEST_P95_TARGET_MS)
        if pending_users:
            out(f"  suggest: {len(pending_users)} users' vocabularies not built within {SUGGEST_BUILD_SECS:.0f} s")
        out(f"  suggest: vocabularies of {USERS} users built in {vocab_secs:.0f} s (background, from the "
            f"bulk-inserted documents); {len(typed)} prefixes of 2-5 letters x {ROUNDS} rounds, "
            f"{sug_found} with completions; sequential p50 {pct(sug_lat, 50):.1f} p95 {pct(sug_lat, 95):.1f} "
            f"p99 {pct(sug_lat, 99):.1f} max {max(sug_lat or [0]):.1f} ms; target p95 < "
            f"{SUGGEST_P95_TARGET_MS:.0f} ms: {'PASS' if sug_ok else 'FAIL'}")
        if not sug_ok:
            failed_classes.append("suggest")
        ok = not failed_classes and errors == 0 and cerr == 0
        out(f"target {backend} {corpus.name}: every class p95 < {P95_TARGET_MS:.0f} ms sequential and with "
            f"{CONCURRENCY} connections: {'PASS' if ok else 'FAIL (' + ', '.join(failed_classes) + ')'}")
        out()
        return ok
    finally:
        stop_server(proc, log)
        if backend == "postgres" and not os.environ.get("KEEP_DB"):
            try:
                psql(f"{PG_BASE}/postgres", f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
            except Exception as err:  # noqa: BLE001
                print(f"warning: could not drop {db_name}: {err}", file=sys.stderr)
        if db_path and not os.environ.get("KEEP_WORK"):
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(db_path + suffix):
                    os.remove(db_path + suffix)


def main() -> int:
    version = subprocess.run([BIN, "--version"], env=CLEAN_ENV, capture_output=True, text=True).stdout.strip()
    out(f"DocuVault full-text search benchmark   {time.strftime('%Y-%m-%d %H:%M:%S %z')}")
    out(f"binary   {os.environ.get('BENCH_BIN_DESC', BIN)} ({version or '?'})")
    if os.environ.get("BENCH_COMMIT"):
        out(f"commit   {os.environ['BENCH_COMMIT']}")
    out(f"machine  {os.cpu_count()} CPUs, {os.uname().release}, loadavg(1m) {os.getloadavg()[0]:.2f}; "
        f"client (Python) on the same cores")
    out(f"size     {DOCS} documents, {USERS} users; corpora {', '.join(CORPORA)}; backends {', '.join(BACKENDS)}")
    out()
    ok = True
    for name in CORPORA:
        t0 = time.monotonic()
        corpus = RealCorpus() if name == "real" else SyntheticCorpus() if name == "synthetic" else None
        if corpus is None:
            raise RuntimeError(f"CORPUS must be real, synthetic or both, not {name!r}")
        sample = []
        chars = 0
        for r in corpus.documents():
            sample.append(r)
            chars += len(r[2])
            if len(sample) == min(SAMPLE, DOCS):
                break
        qs = corpus_queries(corpus, sample)
        lens = sorted(len(r[2]) for r in sample)
        out(f"corpus   {corpus.describe()}")
        out(f"         first {len(sample)} documents: {chars / len(sample) / 1024:.1f} KiB of text on average, "
            f"median {lens[len(lens) // 2] / 1024:.1f} KiB, p95 {lens[int(len(lens) * 0.95)] / 1024:.0f} KiB, "
            f"max {lens[-1] / 1024:.0f} KiB (so about {chars / len(sample) * DOCS / 2**20:.0f} MiB in all); "
            f"queries chosen in {time.monotonic() - t0:.0f} s")
        for k, v in qs.items():
            out(f"         {k + ':':<13} {', '.join(v[:4])}, …")
        out()
        for backend in BACKENDS:
            ok = run_backend(backend, corpus, qs) and ok
    return 0 if ok else 2


if __name__ == "__main__":
    REPORT.run("search", main, OUT)
