"""Upload benchmark driver (stdlib + curl). Run through bench/upload/run.sh.

    python3 bench/upload/upload.py BIN WORK OUT

Local storage backend, embedded defaults otherwise (SQLite, in-process queue), one
release `docuvault` per part on a free port with a clean environment:

  (a) streaming PUT of one SIZE_MIB (1024) file, RUNS (3) times, alternating with the
      baseline `cp` of the same file to the same filesystem (+ fsync of the copy, the
      durability work the server also does before answering). Medians are compared:
          PUT throughput >= 0.7 x (cp + fsync) throughput
      plain `cp` (page cache only, no fsync) is printed next to it.
  (b) CONCURRENCY (8) simultaneous PUTs of CONC_SIZE_MIB (256) each against a fresh
      server; VmRSS sampled every SAMPLE_MS (50) ms:
          peak VmRSS - VmRSS just before < 64 MiB
      then every upload is confirmed (POST /api/documents/{id}/confirm must answer 200)
      and one stored object is compared byte for byte with its source.

  (c) against a fresh server, ONE_RUNS (RUNS) times alternating: the three-step flow timed
      end to end (upload-url + PUT + confirm, each 200) and the one-request upload (curl
      -F file=@SRC POST /api/documents, multipart; 201 once stored and confirmed), each
      document deleted for good after; VmRSS sampled during every one-request upload:
          one-request median throughput >= 0.8 x three-step median throughput
          peak VmRSS - VmRSS just before (per one-request upload) < 64 MiB
      PARTS=c runs (c) alone.

Uploads go through curl (--upload-file, exact Content-Type and Content-Length, no
`Expect: 100-continue`), one process per upload, so the client is C and the source file
is read from the page cache. The server runs with server.run_workers=false: confirmed
documents would otherwise be text-extracted while the next part is being measured.

Environment knobs: SIZE_MIB (1024), RUNS (3), CONCURRENCY (8), CONC_SIZE_MIB (256),
SAMPLE_MS (50), SERVER_ENV ("K=V ..." extra server environment), PARTS (abc), ONE_RUNS (RUNS).
Exit code: 0 = all targets met, 2 = a target missed, 1 = the benchmark itself failed.
"""

from __future__ import annotations

import filecmp
import glob
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402
from benchlib import CLEAN_ENV, free_port, proc_cpu_s, request  # noqa: E402

BIN, WORK, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
SIZE_MIB = int(os.environ.get("SIZE_MIB", "1024"))
RUNS = int(os.environ.get("RUNS", "3"))
CONCURRENCY = int(os.environ.get("CONCURRENCY", "8"))
CONC_SIZE_MIB = int(os.environ.get("CONC_SIZE_MIB", "256"))
SAMPLE_S = float(os.environ.get("SAMPLE_MS", "50")) / 1000
PARTS = os.environ.get("PARTS", "abc")
ONE_RUNS = int(os.environ.get("ONE_RUNS", str(RUNS)))
SERVER_ENV = dict(kv.split("=", 1) for kv in os.environ.get("SERVER_ENV", "").split() if "=" in kv)

RATIO_TARGET = 0.7
ONE_RATIO_TARGET = 0.8
RSS_TARGET_MIB = 64.0
START_DEADLINE_S = 30.0
PUT_TIMEOUT_S = 600.0
CONTENT_TYPE = "application/pdf"
MIB = 2**20


# ----------------------------------------------------------------------------- helpers

def vm_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies from /proc/stat."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    idle = vals[3] + vals[4]  # idle + iowait
    total = sum(vals[:8])
    return total - idle, total


def children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class CpuWindow:
    """CPU used by the server, by our child processes (cp, curl) and by the whole machine
    between start() and stop(), in cores."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def start(self) -> "CpuWindow":
        self.t0 = time.monotonic()
        self.m0 = machine_cpu()
        self.s0 = proc_cpu_s(self.pid)
        self.c0 = children_cpu_s()
        self.p0 = time.process_time()
        return self

    def stop(self) -> "CpuWindow":
        self.wall = time.monotonic() - self.t0
        m1 = machine_cpu()
        ncpu = os.cpu_count() or 1
        tot = (m1[1] - self.m0[1]) or 1
        self.machine = (m1[0] - self.m0[0]) / tot * ncpu  # cores busy
        self.server = (proc_cpu_s(self.pid) - self.s0) / self.wall
        self.client = (children_cpu_s() - self.c0 + time.process_time() - self.p0) / self.wall
        self.rest = max(0.0, self.machine - self.server - self.client)
        return self


class RssSampler(threading.Thread):
    """VmRSS of pid every interval until stop()."""

    def __init__(self, pid: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[float, int]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        t0 = time.monotonic()
        nxt = t0
        while not self._halt.is_set():
            try:
                self.samples.append((time.monotonic() - t0, vm_rss_kib(self.pid)))
            except (OSError, RuntimeError):
                break
            nxt += self.interval
            self._halt.wait(max(0.0, nxt - time.monotonic()))

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def peak_kib(self) -> int:
        return max(k for _, k in self.samples)


class Server:
    def __init__(self, tag: str, data_dir: str) -> None:
        self.port = free_port()
        self.log_path = os.path.join(WORK, f"server-{tag}.log")
        env = dict(
            CLEAN_ENV,
            DOCUVAULT__DATA_DIR=data_dir,
            DOCUVAULT__SERVER__PORT=str(self.port),
            DOCUVAULT__SERVER__RUN_WORKERS="false",
            DOCUVAULT__STORAGE__BACKEND="local",
            DOCUVAULT__STORAGE__MAX_OBJECT_BYTES=str(4 * max(SIZE_MIB, CONC_SIZE_MIB) * MIB),
            DOCUVAULT__STORAGE__MAX_INFLIGHT_UPLOAD_BYTES=str(
                max(4 * max(SIZE_MIB, CONC_SIZE_MIB), 2 * CONCURRENCY * CONC_SIZE_MIB) * MIB),
            DOCUVAULT__QUOTA__DEFAULT_LIMIT_BYTES=str(64 * 2**30),
            DOCUVAULT__DOCUMENTS__MAX_PENDING_PER_USER=str(max(100, 4 * (RUNS + CONCURRENCY))),
            DOCUVAULT__RATE_LIMIT__ENABLED="false",
        )
        env.update(SERVER_ENV)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([BIN], cwd=WORK, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_DEADLINE_S
        while True:
            try:
                if request(self.port, "GET", "/health", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"docuvault exited with {self.proc.returncode} before /health was 200 "
                                   f"(log: {self.log_path})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"/health not 200 within {START_DEADLINE_S:.0f} s")
            time.sleep(0.01)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"docuvault exited with {self.proc.returncode} (log: {self.log_path})")

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def register(self, handle: str) -> str:
        status, body = request(self.port, "POST", "/api/auth/register",
                               {"handle": handle, "email": f"{handle}@example.com",
                                "password": "correct horse battery staple"})
        if status != 201:
            raise RuntimeError(f"register answered {status}: {body[:200]!r}")
        return json.loads(body)["access_token"]

    def upload_url(self, token: str, filename: str, size: int) -> dict:
        status, body = request(self.port, "POST", "/api/documents/upload-url",
                               {"filename": filename, "content_type": CONTENT_TYPE, "size_bytes": size},
                               token=token)
        if status != 200:
            raise RuntimeError(f"upload-url answered {status}: {body[:300]!r}")
        grant = json.loads(body)
        if grant.get("method") != "PUT" or grant.get("headers", {}).get("Content-Type") != CONTENT_TYPE:
            raise RuntimeError(f"unexpected upload grant: {grant}")
        return grant

    def confirm(self, token: str, doc_id: str) -> tuple[int, bytes]:
        return request(self.port, "POST", f"/api/documents/{doc_id}/confirm", token=token, timeout=120)


def curl_put(url: str, path: str) -> subprocess.Popen:
    """PUT path to url: curl sets Content-Length from the file; Expect disabled so the
    body follows the head at once."""
    return subprocess.Popen(
        ["curl", "-sS", "--fail-with-body", "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{size_upload}",
         "--max-time", str(int(PUT_TIMEOUT_S)), "-H", f"Content-Type: {CONTENT_TYPE}", "-H", "Expect:",
         "--upload-file", path, url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def curl_result(p: subprocess.Popen) -> tuple[int, float, int, str]:
    """(http status or -1, curl time_total s, bytes sent, stderr)."""
    out, err = p.communicate(timeout=PUT_TIMEOUT_S + 30)
    try:
        code, total, sent = out.split()
        return int(code), float(total), int(float(sent)), err.strip()
    except ValueError:
        return -1, float("nan"), 0, (out + err).strip()


def curl_form(url: str, token: str, path: str, filename: str) -> subprocess.Popen:
    """POST path as the `file` part of a multipart form (one-request upload)."""
    return subprocess.Popen(
        ["curl", "-sS", "--fail-with-body", "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{size_upload}",
         "--max-time", str(int(PUT_TIMEOUT_S)), "-H", f"Authorization: Bearer {token}", "-H", "Expect:",
         "-F", f"file=@{path};type={CONTENT_TYPE};filename={filename}", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stored_object(data_dir: str, doc_id: str) -> str | None:
    hits = [p for p in glob.glob(os.path.join(data_dir, "objects", "*", doc_id, "*")) if not p.endswith(".upload")]
    return hits[0] if len(hits) == 1 else None


def make_file(path: str, mib: int) -> float:
    t0 = time.monotonic()
    with open("/dev/urandom", "rb") as src, open(path, "wb") as dst:
        left = mib * MIB
        while left:
            chunk = src.read(min(left, 8 * MIB))
            dst.write(chunk)
            left -= len(chunk)
    return time.monotonic() - t0


def mibs(nbytes: int, secs: float) -> float:
    return nbytes / MIB / secs


REPORT = benchlib.Report()
out = REPORT.out


def cpu_line(w: CpuWindow) -> str:
    return (f"CPU server {w.server:.2f}  client {w.client:.2f}  machine busy {w.machine:.2f} of "
            f"{os.cpu_count()} cores (rest of the machine: other jobs + kernel writeback ~{w.rest:.2f})")


# ----------------------------------------------------------------------------- main

def part_a(src: str, data_dir: str) -> tuple[bool, dict]:
    size = SIZE_MIB * MIB
    out(f"(a) streaming PUT of {SIZE_MIB} MiB vs cp (+ fsync) of the same file to the same filesystem, "
        f"{RUNS}x alternating")
    srv = Server("a", data_dir)
    res: dict = {"put": [], "cp": [], "cp_fsync": [], "ids": [], "ok": True}
    try:
        token = srv.register("benchupa")
        rss_before = vm_rss_kib(srv.pid)
        sampler = RssSampler(srv.pid, SAMPLE_S)
        sampler.start()
        for i in range(1, RUNS + 1):
            # baseline: cp to the same filesystem, then fsync the copy
            dst = os.path.join(WORK, f"cp-{i}.bin")
            w = CpuWindow(srv.pid).start()
            t0 = time.monotonic()
            r = subprocess.run(["cp", src, dst])
            t1 = time.monotonic()
            fsync_path(dst)
            t2 = time.monotonic()
            w.stop()
            if r.returncode != 0:
                raise RuntimeError(f"cp exited with {r.returncode}")
            cp_s, cpf_s = t1 - t0, t2 - t0
            res["cp"].append(mibs(size, cp_s))
            res["cp_fsync"].append(mibs(size, cpf_s))
            out(f"  run {i} cp        {cp_s:6.2f} s {mibs(size, cp_s):7.0f} MiB/s   + fsync {cpf_s:6.2f} s "
                f"{mibs(size, cpf_s):7.0f} MiB/s   {cpu_line(w)}")
            os.remove(dst)
            # the server: upload-url (not timed), then the PUT until its 200
            grant = srv.upload_url(token, f"big-{i}.pdf", size)
            w = CpuWindow(srv.pid).start()
            t0 = time.monotonic()
            code, curl_s, sent, err = curl_result(curl_put(grant["upload_url"], src))
            put_s = time.monotonic() - t0
            w.stop()
            srv.alive()
            if code != 200 or sent != size:
                res["ok"] = False
                out(f"  run {i} PUT       answered {code}, sent {sent} of {size} bytes: {err[:200]}")
                continue
            res["put"].append(mibs(size, put_s))
            res["ids"].append(grant["document_id"])
            out(f"  run {i} PUT       {put_s:6.2f} s {mibs(size, put_s):7.0f} MiB/s   (curl time_total "
                f"{curl_s:.2f} s)            {cpu_line(w)}")
        sampler.stop()
        res["rss_before"], res["rss_peak"] = rss_before / 1024, sampler.peak_kib() / 1024
        # confirm every upload: the size is checked against the stored object
        codes = [srv.confirm(token, d)[0] for d in res["ids"]]
        res["confirm"] = codes
        if any(c != 200 for c in codes):
            res["ok"] = False
        obj = stored_object(data_dir, res["ids"][-1]) if res["ids"] and codes[-1] == 200 else None
        res["same_bytes"] = obj is not None and filecmp.cmp(src, obj, shallow=False)
        if not res["same_bytes"]:
            res["ok"] = False
        res["exit"] = srv.stop()
    finally:
        srv.stop()
    return res["ok"], res


def part_b(src: str, data_dir: str) -> tuple[bool, dict]:
    size = CONC_SIZE_MIB * MIB
    out(f"(b) {CONCURRENCY} concurrent PUTs of {CONC_SIZE_MIB} MiB on a fresh server, VmRSS every "
        f"{SAMPLE_S * 1000:.0f} ms")
    srv = Server("b", data_dir)
    res: dict = {"ok": True}
    try:
        token = srv.register("benchupb")
        res["rss_start"] = vm_rss_kib(srv.pid) / 1024
        # warm-up: one small upload end to end, so first-use allocations are not counted
        warm = os.path.join(WORK, "warm.bin")
        with open(src, "rb") as f, open(warm, "wb") as g:
            g.write(f.read(MIB))
        grant = srv.upload_url(token, "warm.pdf", MIB)
        code, _, _, err = curl_result(curl_put(grant["upload_url"], warm))
        if code != 200 or srv.confirm(token, grant["document_id"])[0] != 200:
            raise RuntimeError(f"warm-up upload failed: PUT {code} {err[:200]}")
        grants = [srv.upload_url(token, f"par-{i}.pdf", size) for i in range(CONCURRENCY)]
        time.sleep(1.0)
        before = []
        for _ in range(5):
            before.append(vm_rss_kib(srv.pid))
            time.sleep(0.05)
        res["rss_before"] = statistics.median(before) / 1024
        sampler = RssSampler(srv.pid, SAMPLE_S)
        sampler.start()
        time.sleep(0.2)
        w = CpuWindow(srv.pid).start()
        t0 = time.monotonic()
        procs = [curl_put(g["upload_url"], src) for g in grants]
        results = []
        for p in procs:
            results.append((curl_result(p), time.monotonic() - t0))
        wall = time.monotonic() - t0
        w.stop()
        time.sleep(1.0)  # trailing samples: anything freed late still shows in the peak
        sampler.stop()
        srv.alive()
        res["peak"] = sampler.peak_kib() / 1024
        res["end"] = vm_rss_kib(srv.pid) / 1024
        res["samples"] = len(sampler.samples)
        res["series"] = sampler.samples
        res["wall"], res["cpu"] = wall, w
        res["put_codes"] = [r[0][0] for r in results]
        res["put_times"] = [r[0][1] for r in results]
        if any(c != 200 for c in res["put_codes"]) or any(r[0][2] != size for r in results):
            res["ok"] = False
            for (code, _, sent, err), _ in results:
                if code != 200:
                    out(f"  PUT answered {code}, sent {sent}: {err[:200]}")
        res["aggregate"] = mibs(size * CONCURRENCY, wall)
        codes = []
        for g in grants:
            c, body = srv.confirm(token, g["document_id"])
            codes.append(c)
            if c != 200:
                out(f"  confirm {g['document_id']} answered {c}: {body[:200]!r}")
        res["confirm"] = codes
        if any(c != 200 for c in codes):
            res["ok"] = False
        obj = stored_object(data_dir, grants[0]["document_id"]) if codes[0] == 200 else None
        res["same_bytes"] = obj is not None and filecmp.cmp(src, obj, shallow=False)
        if not res["same_bytes"]:
            res["ok"] = False
        res["exit"] = srv.stop()
    finally:
        srv.stop()
    return res["ok"], res


def part_c(src: str, data_dir: str) -> tuple[bool, dict]:
    """One-request upload (multipart POST, stored and confirmed when it answers) vs the
    three-step flow timed end to end (upload-url + PUT + confirm), alternating, on one
    server; VmRSS sampled during each one-request upload."""
    size = SIZE_MIB * MIB
    out(f"(c) one-request upload (POST /api/documents, multipart) of {SIZE_MIB} MiB vs upload-url + PUT + "
        f"confirm, {ONE_RUNS}x alternating, VmRSS every {SAMPLE_S * 1000:.0f} ms during the one-request uploads")
    srv = Server("c", data_dir)
    res: dict = {"one": [], "three": [], "growth": [], "ok": True, "codes": []}
    try:
        token = srv.register("benchupc")

        def delete(doc_id: str) -> None:
            status, body = request(srv.port, "DELETE", f"/api/documents/{doc_id}?permanent=true", token=token,
                                   timeout=120)
            if status != 204:
                raise RuntimeError(f"delete answered {status}: {body[:200]!r}")

        # warm-up: one small one-request upload
        warm = os.path.join(WORK, "warm-c.bin")
        with open(src, "rb") as f, open(warm, "wb") as g:
            g.write(f.read(MIB))
        code, _, _, err = curl_result(curl_form(f"http://127.0.0.1:{srv.port}/api/documents", token, warm, "w.pdf"))
        if code != 201:
            raise RuntimeError(f"warm-up one-request upload answered {code}: {err[:200]}")
        url = f"http://127.0.0.1:{srv.port}/api/documents"
        for i in range(1, ONE_RUNS + 1):
            # three-step, end to end
            w = CpuWindow(srv.pid).start()
            t0 = time.monotonic()
            grant = srv.upload_url(token, f"three-{i}.pdf", size)
            code, _, sent, err = curl_result(curl_put(grant["upload_url"], src))
            ccode, _ = srv.confirm(token, grant["document_id"])
            three_s = time.monotonic() - t0
            w.stop()
            if code != 200 or ccode != 200 or sent != size:
                res["ok"] = False
                out(f"  run {i} 3-step    PUT {code} confirm {ccode}, sent {sent}: {err[:200]}")
            else:
                res["three"].append(mibs(size, three_s))
                out(f"  run {i} 3-step    {three_s:6.2f} s {mibs(size, three_s):7.0f} MiB/s   {cpu_line(w)}")
            delete(grant["document_id"])
            # one request
            time.sleep(0.5)
            before = []
            for _ in range(5):
                before.append(vm_rss_kib(srv.pid))
                time.sleep(0.02)
            sampler = RssSampler(srv.pid, SAMPLE_S)
            sampler.start()
            w = CpuWindow(srv.pid).start()
            t0 = time.monotonic()
            p = subprocess.Popen(
                ["curl", "-sS", "--fail-with-body", "-w", "\n%{http_code} %{time_total} %{size_upload}",
                 "--max-time", str(int(PUT_TIMEOUT_S)), "-H", f"Authorization: Bearer {token}", "-H", "Expect:",
                 "-F", f"file=@{src};type={CONTENT_TYPE};filename=one-{i}.pdf", url],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            stdout, err = p.communicate(timeout=PUT_TIMEOUT_S + 30)
            one_s = time.monotonic() - t0
            w.stop()
            time.sleep(0.3)
            sampler.stop()
            srv.alive()
            body, _, tail = stdout.rpartition("\n")
            try:
                code = int(tail.split()[0])
            except (ValueError, IndexError):
                code = -1
            res["codes"].append(code)
            growth = sampler.peak_kib() / 1024 - statistics.median(before) / 1024
            res["growth"].append(growth)
            if code != 201:
                res["ok"] = False
                out(f"  run {i} 1-request answered {code}: {(body or err)[:300]}")
                continue
            doc = json.loads(body)
            if doc.get("size_bytes") != size:
                res["ok"] = False
            res["one"].append(mibs(size, one_s))
            out(f"  run {i} 1-request {one_s:6.2f} s {mibs(size, one_s):7.0f} MiB/s   VmRSS growth {growth:5.1f} MiB"
                f"   {cpu_line(w)}")
            if i == ONE_RUNS:
                obj = stored_object(data_dir, doc["id"])
                res["same_bytes"] = obj is not None and filecmp.cmp(src, obj, shallow=False)
                if not res["same_bytes"]:
                    res["ok"] = False
            delete(doc["id"])
        res["exit"] = srv.stop()
    finally:
        srv.stop()
    return res["ok"], res


def main() -> int:
    version = subprocess.run([BIN, "--version"], env=CLEAN_ENV, capture_output=True, text=True).stdout.strip()
    st = os.statvfs(WORK)
    dev = subprocess.run(["df", "--output=source,fstype", WORK], capture_output=True, text=True).stdout.split()
    out(f"DocuVault upload benchmark   {time.strftime('%Y-%m-%d %H:%M:%S %z')}")
    out(f"binary   {os.environ.get('BENCH_BIN_DESC', BIN)} ({version or '?'}, {os.path.getsize(BIN) / MIB:.1f} MiB)")
    if os.environ.get("BENCH_COMMIT"):
        out(f"commit   {os.environ['BENCH_COMMIT']}")
    out(f"machine  {os.cpu_count()} CPUs, {os.uname().release}, loadavg(1m) before start {os.getloadavg()[0]:.2f}")
    out(f"disk     work dir {WORK} on {' '.join(dev[2:4]) if len(dev) >= 4 else '?'}, "
        f"{st.f_bavail * st.f_frsize / 2**30:.0f} GiB free; page cache not dropped (not possible here)")
    out("server   local storage backend, SQLite, server.run_workers=false, rate limiter off, "
        "max_object_bytes and quota raised")
    if SERVER_ENV:
        out(f"extra    server environment: {' '.join(f'{k}={v}' for k, v in SERVER_ENV.items())}")
    out("client   curl --upload-file (one process per upload), source file in the page cache")
    need = (SIZE_MIB * (RUNS + 4) + CONC_SIZE_MIB * (CONCURRENCY + 1)) * MIB + 2**30
    if st.f_bavail * st.f_frsize < need:
        raise RuntimeError(f"need {need / 2**30:.1f} GiB free under {WORK}")
    src_a = os.path.join(WORK, f"src-{SIZE_MIB}M.bin")
    src_b = os.path.join(WORK, f"src-{CONC_SIZE_MIB}M.bin")
    ta = make_file(src_a, SIZE_MIB)
    tb = make_file(src_b, CONC_SIZE_MIB)
    out(f"sources  {SIZE_MIB} MiB and {CONC_SIZE_MIB} MiB from /dev/urandom ({ta:.1f} s, {tb:.1f} s)")
    out()

    ok_c, c = True, None
    if "c" in PARTS:
        ok_c, c = part_c(src_a, os.path.join(WORK, "data-c"))
        out()
    if "a" not in PARTS or "b" not in PARTS:
        return report_c(ok_c, c) if c is not None else 1
    ok_a, a = part_a(src_a, os.path.join(WORK, "data-a"))
    out()
    ok_b, b = part_b(src_b, os.path.join(WORK, "data-b"))
    out()

    put_med = statistics.median(a["put"]) if a["put"] else float("nan")
    cp_med = statistics.median(a["cp"])
    cpf_med = statistics.median(a["cp_fsync"])
    ratio = put_med / cpf_med
    out("results")
    out(f"  (a) PUT {SIZE_MIB} MiB      median {put_med:7.0f} MiB/s   (runs: "
        f"{', '.join(f'{x:.0f}' for x in a['put'])})")
    out(f"      cp + fsync        median {cpf_med:7.0f} MiB/s   (runs: {', '.join(f'{x:.0f}' for x in a['cp_fsync'])})"
        f"   <- baseline")
    out(f"      cp (no fsync)     median {cp_med:7.0f} MiB/s   (runs: {', '.join(f'{x:.0f}' for x in a['cp'])})")
    out(f"      PUT / (cp+fsync)  {ratio:.2f}x      PUT / plain cp {put_med / cp_med:.2f}x")
    out(f"      server VmRSS {a['rss_before']:.1f} MiB before, peak {a['rss_peak']:.1f} MiB during the "
        f"{SIZE_MIB} MiB PUTs; confirm answers {a['confirm']}; stored object == source: {a['same_bytes']}; "
        f"exit after SIGTERM {a['exit']}")
    growth = b["peak"] - b["rss_before"]
    out(f"  (b) {CONCURRENCY} x {CONC_SIZE_MIB} MiB concurrent: wall {b['wall']:.2f} s, aggregate "
        f"{b['aggregate']:.0f} MiB/s, per upload {min(b['put_times']):.2f}-{max(b['put_times']):.2f} s, "
        f"PUT answers {b['put_codes']}")
    out(f"      {cpu_line(b['cpu'])}")
    out(f"      VmRSS at start {b['rss_start']:.1f} MiB, just before {b['rss_before']:.1f} MiB <- baseline, "
        f"peak {b['peak']:.1f} MiB, at end {b['end']:.1f} MiB ({b['samples']} samples)")
    out(f"      peak / before {b['peak'] / b['rss_before']:.2f}x   growth {growth:.1f} MiB")
    out(f"      confirm answers {b['confirm']}; stored object == source: {b['same_bytes']}; "
        f"exit after SIGTERM {b['exit']}")
    # a coarse RSS timeline, one line per second
    tl = []
    for sec in range(int(b["series"][-1][0]) + 1):
        ks = [k for t, k in b["series"] if sec <= t < sec + 1]
        if ks:
            tl.append(f"{sec}s:{max(ks) / 1024:.0f}")
    out(f"      VmRSS max per second (MiB): {' '.join(tl)}")
    out(f"note: loadavg(1m) at the end {os.getloadavg()[0]:.2f}")
    out()
    ratio_ok = ratio >= RATIO_TARGET and len(a["put"]) == RUNS
    rss_ok = growth < RSS_TARGET_MIB
    out(f"target PUT >= {RATIO_TARGET} x (cp + fsync)          : {'PASS' if ratio_ok else 'FAIL'} "
        f"({ratio:.2f}x; {put_med:.0f} vs {cpf_med:.0f} MiB/s)")
    out(f"target RSS growth < {RSS_TARGET_MIB:.0f} MiB ({CONCURRENCY} x {CONC_SIZE_MIB} MiB) : "
        f"{'PASS' if rss_ok else 'FAIL'} ({growth:.1f} MiB)")
    out(f"uploads accepted (PUT + confirm 200, bytes) : {'PASS' if ok_a and ok_b else 'FAIL'}")
    c_status = report_c(ok_c, c) if c is not None else 0
    return 0 if ratio_ok and rss_ok and ok_a and ok_b and c_status == 0 else 2


def report_c(ok: bool, c: dict) -> int:
    """Results and targets of part (c); 0 when met."""
    one = statistics.median(c["one"]) if c["one"] else float("nan")
    three = statistics.median(c["three"]) if c["three"] else float("nan")
    ratio = one / three if c["one"] and c["three"] else float("nan")
    growth = max(c["growth"]) if c["growth"] else float("nan")
    out(f"  (c) one request {SIZE_MIB} MiB  median {one:7.0f} MiB/s   (runs: {', '.join(f'{x:.0f}' for x in c['one'])})")
    out(f"      three-step (url+PUT+confirm) median {three:7.0f} MiB/s   (runs: "
        f"{', '.join(f'{x:.0f}' for x in c['three'])})   <- baseline")
    out(f"      one / three-step {ratio:.2f}x; VmRSS growth per one-request upload (MiB): "
        f"{', '.join(f'{x:.1f}' for x in c['growth'])}; answers {c['codes']}; stored object == source: "
        f"{c.get('same_bytes')}")
    ratio_ok = ratio >= ONE_RATIO_TARGET and len(c["one"]) == ONE_RUNS
    rss_ok = growth < RSS_TARGET_MIB
    out(f"target one-request >= {ONE_RATIO_TARGET} x three-step       : {'PASS' if ratio_ok else 'FAIL'} ({ratio:.2f}x)")
    out(f"target RSS growth < {RSS_TARGET_MIB:.0f} MiB (one-request upload)  : {'PASS' if rss_ok else 'FAIL'} "
        f"({growth:.1f} MiB)")
    out(f"one-request uploads accepted (201, bytes)  : {'PASS' if ok else 'FAIL'}")
    return 0 if ratio_ok and rss_ok and ok else 2


if __name__ == "__main__":
    REPORT.run("upload", main, OUT)
