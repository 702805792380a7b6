"""Child processes of the bench: loopback ports, readiness, peak RSS (and its anonymous and
file-backed parts), stopping, py-spy."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
# Load from one loopback address would hit the collector's per-IP limit at once: off in benches.
NO_RATE_LIMITS = {"BEACONLAKE_INGEST_IP_RATE": "0", "BEACONLAKE_INGEST_SITE_RATE": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[Any], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def status_mb(pid: int | str = "self") -> dict[str, float]:
    """The memory figures in /proc/<pid>/status (VmRSS, VmHWM, RssAnon, RssFile...), in MB,
    from one read, so that figures taken together belong to the same moment."""
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        field, _, value = line.partition(":")
        if value.endswith(" kB"):
            figures[field] = int(value.split()[0]) / 1024
    return figures


def peak_rss_mb(pid: int | str = "self") -> float:
    """VmHWM: the highest resident set size the process has had since it was exec'd. (Not
    ru_maxrss: Linux carries that over from the parent a child was forked from.)"""
    peak = status_mb(pid).get("VmHWM")
    if peak is None:
        raise RuntimeError(f"no VmHWM for pid {pid}")
    return peak


# the parts of VmRSS: what the process allocated (heap, DuckDB's buffer pool, Arrow), the
# pages of mapped files (shared libraries, mmapped Parquet/DuckDB files: the page cache decides
# how many are resident), and shared memory
RSS_PARTS = {"anon_mb": "RssAnon", "file_mb": "RssFile", "shmem_mb": "RssShmem"}
SAMPLE_EVERY_S = 0.05


class PeakSampler:
    """Peaks of a process's RSS and of each of its parts (RSS_PARTS), from /proc/<pid>/status
    read every `every` seconds in a thread while the `with` block runs.

    The parts peak at different moments, so their peaks need not add up to the RSS peak. The
    RSS peak is VmHWM (exact, kept by the kernel), read at the last sample; a part's peak is
    the highest sampled value, so a spike shorter than `every` can be missed."""

    def __init__(self, pid: int | str = "self", every: float = SAMPLE_EVERY_S) -> None:
        self.pid, self.every = pid, every
        self.peak: dict[str, float] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-sampler", daemon=True)

    def sample(self) -> None:
        try:
            status = status_mb(self.pid)
        except (FileNotFoundError, ProcessLookupError):
            return  # it has exited
        if "VmHWM" not in status:
            return  # a zombie: no memory left to read
        self.samples += 1
        now = {"rss_mb": status["VmHWM"], **{k: status.get(f, 0.0) for k, f in RSS_PARTS.items()}}
        for key, value in now.items():
            self.peak[key] = max(self.peak.get(key, 0.0), value)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self) -> PeakSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def result(self) -> dict[str, float]:
        """{"rss_mb", "anon_mb", "file_mb", "shmem_mb"} (peaks, MB), "samples" and "every_s"."""
        return {**self.peak, "samples": self.samples, "every_s": self.every}


def rss_mb(pid: int | str = "self") -> float:
    """VmRSS now; 0 for a process without one (a zombie)."""
    return status_mb(pid).get("VmRSS", 0.0)


def cpu_s(pid: int | str = "self", thread: int | str | None = None) -> float:
    """CPU seconds (user + system) used so far by a process (its ended threads included),
    or by one of its threads."""
    stat = Path(f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat")
    # the fields after the command name, which may itself hold spaces or parentheses
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_s(pid: int | str = "self") -> dict[str, float]:
    """CPU seconds in a process's main thread (for a server, the event loop) and in all its
    other threads."""
    main = cpu_s(pid, os.getpid() if pid == "self" else pid)
    # both are counted in clock ticks, so the difference can come out a tick below zero
    return {"main": main, "other": max(0.0, cpu_s(pid) - main)}


def stop(proc: subprocess.Popen[Any], timeout: float = 30.0) -> int:
    """SIGTERM (a graceful shutdown), then SIGKILL if it does not exit in time."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return int(proc.returncode)


def run_json(
    module: str,
    env: dict[str, str] | None = None,
    args: list[str] | None = None,
    sample_memory: bool = False,
    timeout: float = 900,
) -> Any:
    """`python -m module [args]` in a fresh interpreter; its last line of stdout is JSON (the
    lines before it are the product's own logs). With `sample_memory`, the child's memory is
    sampled from outside (PeakSampler) and added to a dict result as "memory"."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *(args or [])],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sampler = PeakSampler(proc.pid) if sample_memory else None
    try:
        with sampler or contextlib.nullcontext():
            stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"{module} failed ({proc.returncode}):\n{stderr[-3000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    if sampler and isinstance(result, dict):
        result["memory"] = sampler.result()
    return result


def py_spy(pid: int, seconds: int, raw_out: Path) -> subprocess.Popen[Any]:
    """Start sampling `pid` for `seconds` (collapsed stacks, idle threads left out)."""
    return subprocess.Popen(
        [
            str(VENV_BIN / "py-spy"),
            "record",
            "--nonblocking",
            "--gil",
            "-d",
            str(seconds),
            "-p",
            str(pid),
            "-f",
            "raw",
            "-o",
            str(raw_out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# frames every sample of a server has: the event loop, the thread pool, the CLI entry point
SCAFFOLD = frozenset(
    {
        "<module>",
        "main",
        "run",
        "cmd_serve",
        "serve",
        "asyncio_run",
        "Runner.run",
        "Server.run",
        "Server.serve",
        "BaseEventLoop.run_until_complete",
        "BaseEventLoop.run_forever",
        "BaseEventLoop._run_once",
        "Handle._run",
        "Thread._bootstrap",
        "Thread._bootstrap_inner",
        "Thread.run",
        "WorkerThread.run",
    }
)


def summarise_profile(raw: Path, top: int = 10) -> list[tuple[str, float]]:
    """Functions by inclusive share of samples (a stack counts once per function)."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in filter(None, raw.read_text().splitlines()):  # py-spy may leave blank lines
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = {_short(f) for f in stack.split(";") if f}
        for frame in frames:
            inclusive[frame] += n
    if not total:
        return []
    ranked = [
        (f, 100 * n / total) for f, n in inclusive.most_common() if f.split(" ")[0] not in SCAFFOLD
    ]
    return ranked[:top]


def _short(frame: str) -> str:
    """'func (path/to/mod.py:12)' → 'func (mod.py)'."""
    name, _, where = frame.partition(" (")
    module = where.rsplit("/", 1)[-1].split(":", 1)[0]
    return f"{name} ({module})" if module else name
