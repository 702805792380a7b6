"""Local SaltStore: a JSON file (mode 0600) in the data directory."""

from __future__ import annotations

import json
import secrets
import threading
from datetime import datetime, timedelta
from pathlib import Path

from beaconlake.adapters.files import write_private_json


def days_to_keep(now: datetime) -> set[str]:
    """Today's and yesterday's salts: a salt lives 48 h from the start of its day."""
    today = now.date()
    return {today.isoformat(), (today - timedelta(days=1)).isoformat()}


class FileSaltStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._cache: dict[str, bytes] = {}

    def _read(self) -> dict[str, str]:
        try:
            return dict(json.loads(self.path.read_text("utf-8")))
        except FileNotFoundError:
            return {}

    def salt_for(self, day: str) -> bytes:
        salt = self._cache.get(day)
        if salt is not None:
            return salt
        with self._lock:
            stored = self._read()
            if day not in stored:
                stored[day] = secrets.token_hex(32)
                write_private_json(self.path, stored)
            self._cache = {d: bytes.fromhex(h) for d, h in stored.items()}
            return self._cache[day]

    def rotate(self, now: datetime) -> None:
        keep = days_to_keep(now)
        with self._lock:
            stored = {d: h for d, h in self._read().items() if d in keep}
            today = now.date().isoformat()
            stored.setdefault(today, secrets.token_hex(32))
            write_private_json(self.path, stored)
            self._cache = {d: bytes.fromhex(h) for d, h in stored.items()}

    def days(self) -> list[str]:
        return sorted(self._read())
