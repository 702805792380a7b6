"""Local KeyStore: key hashes in a JSON file (mode 0600) in the data directory."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from beaconlake.adapters.files import write_private_json
from beaconlake.keys import stored_key
from beaconlake.ports import STATS_READ, ApiKey


class FileKeyStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        # signatures seen by this process (`beaconlake serve` is one process), until expiry
        self._seen: dict[str, int] = {}

    def _read(self) -> dict[str, dict[str, object]]:
        try:
            return dict(json.loads(self.path.read_text("utf-8")))
        except FileNotFoundError:
            return {}

    @staticmethod
    def _key(key_id: str, row: dict[str, object]) -> ApiKey:
        return stored_key(key_id, row)

    def add(
        self,
        key_id: str,
        secret_hash: str,
        sites: tuple[str, ...],
        label: str,
        scopes: tuple[str, ...] = (STATS_READ,),
    ) -> ApiKey:
        created = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            rows = self._read()
            rows[key_id] = {
                "hash": secret_hash,
                "sites": list(sites),
                "label": label,
                "created": created,
                "scopes": list(scopes),
            }
            write_private_json(self.path, rows)
        return self._key(key_id, rows[key_id])

    def secret_hash(self, key_id: str) -> tuple[ApiKey, str] | None:
        row = self._read().get(key_id)
        if row is None:
            return None
        return self._key(key_id, row), str(row["hash"])

    def list(self) -> list[ApiKey]:
        return [self._key(k, v) for k, v in sorted(self._read().items())]

    def revoke(self, key_id: str) -> bool:
        with self._lock:
            rows = self._read()
            if rows.pop(key_id, None) is None:
                return False
            write_private_json(self.path, rows)
            return True

    def first_use(self, signature_id: str, expires_at: int) -> bool:
        now = int(time.time())
        with self._lock:
            if len(self._seen) > 1024:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
            if self._seen.get(signature_id, 0) > now:
                return False
            self._seen[signature_id] = expires_at
            return True
