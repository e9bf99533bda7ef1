"""Helpers the bench drivers (bench/*/*.py) share: a free port, one HTTP request, psql,
CPU seconds of a process, waiting for a started server to be healthy, and the report that
is printed as it goes and written to a file at the end.

The drivers import it with `sys.path.insert(0, <bench/>)`; it uses only the standard library.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from typing import Callable

# The environment the server and psql run with: nothing of the caller's but PATH and HOME.
CLEAN_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}


def free_port() -> int:
    """A local port free right now (bound, read and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, body: dict | None = None, token: str | None = None,
            timeout: float = 30) -> tuple[int, bytes]:
    """One request on a new connection to 127.0.0.1:port: a JSON body and a bearer token if
    given; returns (status, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request(method, path, body=data, headers=headers)
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        conn.close()


def psql(url: str, sql: str, timeout: float = 300) -> str:
    """Runs `sql` with psql on `url` (stop on the first error); its unaligned output."""
    r = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-At", "-c", sql],
                       capture_output=True, text=True, timeout=timeout, env=dict(CLEAN_ENV))
    if r.returncode != 0:
        raise RuntimeError(f"psql failed ({r.returncode}): {r.stderr.strip()[:500]}")
    return r.stdout.strip()


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds process `pid` has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_healthy(port: int, proc: subprocess.Popen, deadline_s: float, log_path: str,
                 poll_s: float = 0.02) -> None:
    """Waits until GET /health answers 200; raises if the server exits first or the
    deadline passes."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            if request(port, "GET", "/health", timeout=1)[0] == 200:
                return
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"docuvault exited with {proc.returncode} before /health was 200 (log: {log_path})")
        if time.monotonic() > deadline:
            raise RuntimeError(f"/health not 200 within {deadline_s:.0f} s")
        time.sleep(poll_s)


class Report:
    """Lines printed as they come and kept for the report file."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def out(self, s: str = "") -> None:
        print(s, flush=True)
        self.lines.append(s)

    def run(self, name: str, main: Callable[[], int], path: str) -> None:
        """Runs `main` (exit code 0 = targets met, 2 = a target missed), reports an
        exception as exit code 1, writes the report to `path` and exits with the code."""
        try:
            status = main()
        except Exception as err:  # noqa: BLE001 - report and fail
            self.out(f"{name} bench FAILED: {type(err).__name__}: {err}")
            status = 1
        with open(path, "w") as f:
            f.write("\n".join(self.lines) + "\n")
        print(f"\nwritten to {path}")
        sys.exit(status)
