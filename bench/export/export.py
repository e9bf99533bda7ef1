"""Export/import benchmark driver (see run.sh for what it measures)."""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid

NOW = "2026-12-06T00:00:00Z"
TABLES = [
    "users", "quotas", "backup_codes", "groups", "cloud_connections", "folders", "topics",
    "documents", "document_versions", "document_topics", "shares", "audit_log",
]


def write_seed(seed, docs, total_bytes):
    """A version-1 export directory: one user, `docs` documents of random bytes."""
    os.makedirs(os.path.join(seed, "objects"))
    size = total_bytes // docs
    user = str(uuid.uuid4())
    rows = {t: [] for t in TABLES}
    rows["users"].append({
        "id": user, "handle": "bench", "email": "bench@example.com",
        "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0$bm90LWEtcmVhbC1oYXNo",
        "totp_secret": None, "totp_enabled": False, "totp_last_step": None, "role": "user",
        "is_active": True, "password_must_change": False, "tokens_valid_after": NOW,
        "ai_provider": None, "ai_model": None, "ai_api_key_enc": None,
        "ai_allow_new_topics": True, "default_storage_backend": None, "ocr_languages": None,
        "ocr_ai_fallback": False, "created_at": NOW, "updated_at": NOW,
    })
    rows["quotas"].append({"user_id": user, "limit_bytes": total_bytes * 2,
                           "used_bytes": size * docs, "reserved_bytes": 0})
    index = open(os.path.join(seed, "objects.jsonl"), "w")
    docs_f = open(os.path.join(seed, "documents.jsonl"), "w")
    vers_f = open(os.path.join(seed, "document_versions.jsonl"), "w")
    total = 0
    for _ in range(docs):
        doc = str(uuid.uuid4())
        key = f"{user}/{doc}/{uuid.uuid4()}.bin"
        data = os.urandom(size)
        sha = hashlib.sha256(data).hexdigest()
        path = os.path.join(seed, "objects", sha[:2])
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, sha), "wb") as f:
            f.write(data)
        total += size
        docs_f.write(json.dumps({
            "id": doc, "user_id": user, "folder_id": None, "filename": f"{doc}.bin",
            "object_key": key, "content_type": "application/octet-stream",
            "size_bytes": size, "sha256": sha, "storage_backend": "local",
            "status": "unclassified", "attempts": 0,
            "last_error": None, "lease_expires_at": None, "ai_opt_out": False,
            "classified_by": None, "status_reason": None,
            "thumbnail_key": None, "thumbnail_error": "bench: random bytes",
            "progress_page": None, "progress_pages": None, "trashed_at": None,
            "created_at": NOW, "updated_at": NOW}) + "\n")
        vers_f.write(json.dumps({
            "id": doc, "document_id": doc, "user_id": user, "object_key": key,
            "filename": f"{doc}.bin", "content_type": "application/octet-stream",
            "size_bytes": size, "sha256": sha, "status": "stored",
            "created_at": NOW, "confirmed_at": NOW}) + "\n")
        index.write(json.dumps({
            "key": key, "sha256": sha, "size_bytes": size,
            "content_type": "application/octet-stream", "kind": "version",
            "document_id": doc, "version_id": doc}) + "\n")
    for f in (index, docs_f, vers_f):
        f.close()
    tables = []
    for t in TABLES:
        if t not in ("documents", "document_versions"):
            with open(os.path.join(seed, f"{t}.jsonl"), "w") as f:
                for r in rows[t]:
                    f.write(json.dumps(r) + "\n")
        n = docs if t in ("documents", "document_versions") else len(rows[t])
        tables.append({"name": t, "file": f"{t}.jsonl", "rows": n})
    manifest = {
        "format": "docuvault-export", "version": 1, "docuvault_version": "bench",
        "created_at": NOW, "source": {"database": "sqlite", "storage": "local"},
        "tables": tables,
        "objects": {"file": "objects.jsonl", "entries": docs, "files": docs, "bytes": total},
    }
    with open(os.path.join(seed, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    return total


def measure(argv, cwd, env=None):
    """Runs argv; (wall seconds, peak RSS MiB). Exits 1 when it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        print(f"export bench: {' '.join(argv)} failed ({proc.returncode}):\n{out}\n{err}",
              file=sys.stderr)
        sys.exit(1)
    return wall, usage.ru_maxrss / 1024.0


def instance_env(data_dir):
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "DOCUVAULT__DATA_DIR": data_dir,
        "DOCUVAULT__LOG__LEVEL": "warn",
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--docs", type=int, required=True)
    ap.add_argument("--gib", type=float, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    work = a.work
    total_bytes = int(a.gib * (1 << 30))
    seed = os.path.join(work, "seed")
    print(f"== seed: {a.docs} documents, {total_bytes / (1 << 30):.2f} GiB of random bytes ==")
    total = write_seed(seed, a.docs, total_bytes)
    mib = total / (1 << 20)

    env_a = instance_env(os.path.join(work, "a"))
    print("== seeding instance A (docuvault import of the seed) ==")
    measure([a.bin, "import", "--from", seed], work, env_a)
    subprocess.run(["rm", "-rf", seed], check=True)

    results = {}
    exp = os.path.join(work, "export")
    print("== docuvault export ==")
    results["export"] = measure([a.bin, "export", "--out", exp], work, env_a)
    env_b = instance_env(os.path.join(work, "b"))
    print("== docuvault import ==")
    results["import"] = measure([a.bin, "import", "--from", exp], work, env_b)
    subprocess.run(["rm", "-rf", exp, os.path.join(work, "b")], check=True)

    tar = os.path.join(work, "objects.tar")
    print("== tar -cf (baseline of export) ==")
    results["tar -cf"] = measure(["tar", "-cf", tar, "-C", os.path.join(work, "a"), "objects"],
                                 work)
    untar = os.path.join(work, "untar")
    os.makedirs(untar)
    print("== tar -xf (baseline of import) ==")
    results["tar -xf"] = measure(["tar", "-xf", tar, "-C", untar], work)

    lines = [
        "DocuVault export/import benchmark",
        f"commit:  {os.environ.get('BENCH_COMMIT', '?')}",
        f"binary:  {os.environ.get('BENCH_BIN_DESC', a.bin)}",
        f"date:    {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"vault:   {a.docs} documents, {mib:.0f} MiB of objects (local backend, SQLite)",
        "",
        f"{'step':<10} {'wall s':>8} {'MiB/s':>8} {'peak RSS MiB':>13}",
    ]
    for name, (wall, rss) in results.items():
        lines.append(f"{name:<10} {wall:8.2f} {mib / wall:8.1f} {rss:13.1f}")
    ok = True
    lines.append("")
    for step, base in (("export", "tar -cf"), ("import", "tar -xf")):
        ratio = results[base][0] / results[step][0]
        rss = results[step][1]
        good = ratio >= 0.5 and rss < 100
        ok = ok and good
        lines.append(f"{step}: {ratio:.2f}x tar's throughput (target >= 0.5), peak RSS "
                     f"{rss:.1f} MiB (target < 100): {'PASS' if good else 'FAIL'}")
    report = "\n".join(lines) + "\n"
    print()
    print(report, end="")
    with open(a.out, "w") as f:
        f.write(report)
    sys.exit(0 if ok else 2)


if __name__ == "__main__":
    main()
