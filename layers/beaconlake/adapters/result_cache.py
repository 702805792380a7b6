"""The local engine's cache of recent answers (adapters/duckdb_engine.py)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import Any


class ResultCache:
    """Answers of recent statements, valid while the Parquet tree is unchanged: every file
    the sink, erasure or compaction writes lands by a rename into a `dt=` directory, which
    changes that directory's mtime, so the key (statement, parameters, tree signature) can
    never return an answer computed before the data changed. Answers are only kept once the
    newest change is a second old, beyond the coarseness of file timestamps. Only answers for
    the tree as it is now are kept: the others can never be asked for again."""

    def __init__(self, events_dir: Path, entries: int = 256, max_rows: int = 10_000) -> None:
        self.events_dir = events_dir
        self.entries = entries
        self.max_rows = max_rows
        self._answers: OrderedDict[Hashable, list[dict[str, Any]]] = OrderedDict()
        self._signature = (0, 0)
        self._lock = threading.Lock()

    def signature(self) -> tuple[int, int]:
        """(number of day directories, newest mtime among them and their parents)."""
        dirs = [self.events_dir, *self.events_dir.glob("site_id=*")]
        dirs += [d for site in dirs[1:] for d in site.glob("dt=*")]
        mtimes = [d.stat().st_mtime_ns for d in dirs if d.exists()]
        return len(mtimes), max(mtimes, default=0)

    def get(self, key: Hashable) -> list[dict[str, Any]] | None:
        with self._lock:
            rows = self._answers.get(key)
            if rows is None:
                return None
            self._answers.move_to_end(key)
        return [dict(r) for r in rows]

    def put(self, key: Hashable, signature: tuple[int, int], rows: list[dict[str, Any]]) -> None:
        if len(rows) > self.max_rows or time.time_ns() - signature[1] < 1_000_000_000:
            return
        with self._lock:
            if signature != self._signature:
                if signature[1] < self._signature[1]:
                    return  # computed before a change that newer answers already saw
                self._answers.clear()
                self._signature = signature
            self._answers[key] = [dict(r) for r in rows]
            while len(self._answers) > self.entries:
                self._answers.popitem(last=False)
