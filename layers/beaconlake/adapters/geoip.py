"""Local country look-up with geoip2fast, which ships its own data file (no download)."""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

# Without it, concurrent first look-ups (the local gateway's worker threads) would each load
# the data, ~27 MB apiece.
_load_lock = threading.Lock()


@lru_cache(maxsize=1)
def _load() -> Any:
    from geoip2fast import GeoIP2Fast

    return GeoIP2Fast(verbose=False)


def _reader() -> Any:
    with _load_lock:
        return _load()


def geoip_country(ip: str) -> str | None:
    try:
        code = _reader().lookup(ip).country_code
    except Exception:  # a malformed address is simply "unknown"
        return None
    return code if isinstance(code, str) and len(code) == 2 and code.isalpha() else None
