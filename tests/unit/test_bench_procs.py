"""The bench's reading of a server's CPU time per thread (figure 3's CPU per request)."""

from __future__ import annotations

import threading
import time

from bench.procs import thread_cpu_s


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
