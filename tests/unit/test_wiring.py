"""The process-wide ports are built once, even when threads ask for them together."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from beaconlake.wiring import Once


def test_once_builds_a_single_value_for_concurrent_first_calls() -> None:
    builds: list[int] = []
    gate = threading.Event()

    def build() -> object:
        gate.wait(1)
        time.sleep(0.01)
        builds.append(1)
        return object()

    shared = Once(build)
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(shared) for _ in range(8)]
        gate.set()
        values = {id(f.result()) for f in futures}
    assert len(builds) == 1 and len(values) == 1
    shared.forget()
    assert not shared.built
    shared()
    assert len(builds) == 2 and shared.built
