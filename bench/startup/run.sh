#!/usr/bin/env bash
# Startup benchmark: how fast a release `docuvault` is ready, and how small it idles.
#
#   bench/startup/run.sh            # N=5 runs
#   N=10 bench/startup/run.sh       # more runs
#   NO_BUILD=1 bench/startup/run.sh # reuse target/release/docuvault as it is
#
# What it does:
#   1. cargo build --release (skipped with NO_BUILD=1)
#   2. prepares a temp data dir on the embedded defaults and runs `docuvault migrate`
#      on it once, so every measured start finds an already-migrated database
#   3. N times: spawns the release binary (no arguments = serve) on a free port with that
#      data dir and a clean environment, and measures
#        ready    wall time from spawn to the first 200 from GET /health
#                 (python poller, time.perf_counter_ns, ~1 ms between attempts)
#        idle RSS VmRSS of the server process (/proc/PID/status) 5 s after ready
#      then stops it with SIGTERM (and records its exit code)
#   4. baseline in the same run: N times `docuvault --version` spawned and waited for the
#      same way = the cost of starting the process at all (exec, dynamic loading, page-in);
#      ready/baseline tells how much startup work docuvault adds on top
#   5. prints median/min/max, the targets (ready < 300 ms, idle RSS < 30 MiB) with
#      PASS/FAIL, and writes the same report to bench/out/startup.txt (git-ignored).
#
# Exit code: 0 = both targets met, 2 = a target missed, 1 = the benchmark itself failed.
# Runs only on loopback; every loop is bounded (30 s per start, N runs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
NAME=startup
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
export PATH="$HOME/.cargo/bin:$PATH"
N="${N:-5}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/docuvault"
OUT_DIR="$ROOT/bench/out"
OUT="$OUT_DIR/startup.txt"
mkdir -p "$OUT_DIR"

bench_build_release

WORK="$(mktemp -d -t docuvault-bench.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
DATA_DIR="$WORK/data"
mkdir -p "$DATA_DIR"

echo "== docuvault migrate (data dir $DATA_DIR) =="
(cd "$WORK" && env -i "PATH=$PATH" "HOME=${HOME:-/root}" DOCUVAULT__DATA_DIR="$DATA_DIR" "$BIN" migrate) \
  || { echo "startup bench: 'docuvault migrate' failed" >&2; exit 1; }

python3 - "$BIN" "$DATA_DIR" "$WORK" "$N" "$OUT" <<'PY'
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import time

BIN, DATA_DIR, WORK, N, OUT = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
READY_TARGET_MS = 300.0
RSS_TARGET_MIB = 30.0
IDLE_WAIT_S = 5.0
START_DEADLINE_S = 30.0
CLEAN_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health_ok(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def vm_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def one_start(i: int) -> tuple[float, float, int]:
    port = free_port()
    env = dict(CLEAN_ENV, DOCUVAULT__DATA_DIR=DATA_DIR, DOCUVAULT__SERVER__PORT=str(port))
    log = open(os.path.join(WORK, f"server-{i}.log"), "wb")
    t0 = time.perf_counter_ns()
    proc = subprocess.Popen([BIN], cwd=WORK, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = t0 + int(START_DEADLINE_S * 1e9)
        while True:
            if health_ok(port):
                ready_ms = (time.perf_counter_ns() - t0) / 1e6
                break
            if proc.poll() is not None:
                raise RuntimeError(f"run {i}: docuvault exited with {proc.returncode} before /health was 200 "
                                   f"(log: {log.name})")
            if time.perf_counter_ns() > deadline:
                raise RuntimeError(f"run {i}: /health not 200 within {START_DEADLINE_S} s")
            time.sleep(0.001)
        time.sleep(IDLE_WAIT_S)  # part of the measurement: RSS once the server idles
        rss_mib = vm_rss_kib(proc.pid) / 1024
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
    return ready_ms, rss_mib, proc.returncode


def baseline_ms() -> float:
    t0 = time.perf_counter_ns()
    r = subprocess.run([BIN, "--version"], cwd=WORK, env=CLEAN_ENV, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    dt = (time.perf_counter_ns() - t0) / 1e6
    if r.returncode != 0:
        raise RuntimeError(f"'docuvault --version' exited with {r.returncode}")
    return dt


def stats(xs: list[float]) -> str:
    return f"median {statistics.median(xs):8.1f}   min {min(xs):8.1f}   max {max(xs):8.1f}"


lines: list[str] = []


def out(s: str = "") -> None:
    print(s, flush=True)
    lines.append(s)


try:
    version = subprocess.run([BIN, "--version"], env=CLEAN_ENV, capture_output=True, text=True).stdout.strip()
    out(f"DocuVault startup benchmark   {time.strftime('%Y-%m-%d %H:%M:%S %z')}")
    out(f"binary   {BIN} ({version or '?'}, {os.path.getsize(BIN) / 2**20:.1f} MiB)")
    out(f"machine  {os.cpu_count()} CPUs, {os.uname().release}")
    out(f"setup    embedded defaults (SQLite + local objects + in-process queue), migrated data dir, N={N}")
    out()
    readies, rsses, codes = [], [], []
    for i in range(1, N + 1):
        r, m, code = one_start(i)
        readies.append(r)
        rsses.append(m)
        codes.append(code)
        out(f"run {i}: ready {r:7.1f} ms   idle RSS {m:6.1f} MiB   exit after SIGTERM {code}")
    base = [baseline_ms() for _ in range(N)]
    out()
    out(f"ready to /health 200 (ms)   {stats(readies)}")
    out(f"idle RSS after 5 s (MiB)    {stats(rsses)}")
    out(f"baseline --version (ms)     {stats(base)}")
    ratio = statistics.median(readies) / statistics.median(base)
    out(f"ready / baseline (medians)  {ratio:.1f}x")
    out()
    ready_ok = statistics.median(readies) < READY_TARGET_MS
    rss_ok = statistics.median(rsses) < RSS_TARGET_MIB
    out(f"target ready    < {READY_TARGET_MS:.0f} ms  : {'PASS' if ready_ok else 'FAIL'} "
        f"(median {statistics.median(readies):.1f} ms, max {max(readies):.1f} ms)")
    out(f"target idle RSS < {RSS_TARGET_MIB:.0f} MiB  : {'PASS' if rss_ok else 'FAIL'} "
        f"(median {statistics.median(rsses):.1f} MiB, max {max(rsses):.1f} MiB)")
    if any(c != 0 for c in codes):
        out(f"note: non-zero exit codes after SIGTERM: {codes}")
    status = 0 if ready_ok and rss_ok else 2
except Exception as err:  # noqa: BLE001 - report and fail
    out(f"startup bench FAILED: {err}")
    status = 1

with open(OUT, "w") as f:
    f.write("\n".join(lines) + "\n")
print(f"\nwritten to {OUT}")
sys.exit(status)
PY
