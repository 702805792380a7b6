"""Local UserIdSecrets: one random secret per site in a JSON file (mode 0600)."""

from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path

from beaconlake.adapters.files import write_private_json


class FileUserIdSecrets:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._cache: dict[str, bytes] = {}

    def secret_for(self, site_id: str) -> bytes:
        secret = self._cache.get(site_id)
        if secret is not None:
            return secret
        with self._lock:
            try:
                stored = dict(json.loads(self.path.read_text("utf-8")))
            except FileNotFoundError:
                stored = {}
            if site_id not in stored:
                stored[site_id] = secrets.token_hex(32)
                write_private_json(self.path, stored)
            self._cache = {s: bytes.fromhex(h) for s, h in stored.items()}
            return self._cache[site_id]
