"""The bench's readings of a process from /proc: CPU time per thread (figure 3's CPU per
request) and memory (figure 8, the soak)."""

from __future__ import annotations

import threading
import time

from bench.procs import peak_rss_mb, rss_mb, status_mb, thread_cpu_s


def _burn(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_cpu_time_is_split_between_the_main_thread_and_the_others() -> None:
    before = thread_cpu_s()
    worker = threading.Thread(target=_burn, args=(0.3,))
    worker.start()
    worker.join()
    middle = thread_cpu_s()
    _burn(0.3)
    after = thread_cpu_s()

    assert middle["other"] - before["other"] >= 0.25
    assert middle["main"] - before["main"] < 0.15
    assert after["main"] - middle["main"] >= 0.25


def test_memory_figures_come_in_megabytes_from_one_read_of_proc_status() -> None:
    ballast = b"x" * (64 * 2**20)  # written, so resident
    status = status_mb()
    assert status["VmRSS"] >= 64
    assert status["VmHWM"] >= status["VmRSS"]
    assert abs(status["RssAnon"] + status["RssFile"] + status["RssShmem"] - status["VmRSS"]) < 1
    assert peak_rss_mb() >= rss_mb() >= 64
    del ballast
