"""Local LoginStore: dashboard logins and shared links in a JSON file (mode 0600).

Rows are keyed by "<kind>:<id>", where the id is derived from a hash of the token; expired
rows are dropped whenever the file is written."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from beaconlake.adapters.files import write_private_json


class FileLoginStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            return dict(json.loads(self.path.read_text("utf-8")))
        except FileNotFoundError:
            return {}

    @staticmethod
    def _live(row: dict[str, Any], now: float) -> bool:
        expires = row.get("expires_at")
        return expires is None or expires > now

    def put(self, kind: str, item_id: str, record: dict[str, Any], expires_at: int | None) -> None:
        with self._lock:
            now = time.time()
            rows = {k: v for k, v in self._read().items() if self._live(v, now)}
            rows[f"{kind}:{item_id}"] = {"record": record, "expires_at": expires_at}
            write_private_json(self.path, rows)

    def get(self, kind: str, item_id: str) -> dict[str, Any] | None:
        row = self._read().get(f"{kind}:{item_id}")
        if row is None or not self._live(row, time.time()):
            return None
        return dict(row["record"])

    def delete(self, kind: str, item_id: str) -> bool:
        with self._lock:
            rows = self._read()
            if rows.pop(f"{kind}:{item_id}", None) is None:
                return False
            write_private_json(self.path, rows)
            return True

    def list(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        now = time.time()
        prefix = f"{kind}:"
        return [
            (key[len(prefix) :], dict(row["record"]))
            for key, row in sorted(self._read().items())
            if key.startswith(prefix) and self._live(row, now)
        ]
