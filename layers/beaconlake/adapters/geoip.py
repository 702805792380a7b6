"""Local country look-up with geoip2fast, which ships its own data file (no download)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _reader() -> Any:
    from geoip2fast import GeoIP2Fast

    return GeoIP2Fast(verbose=False)


def geoip_country(ip: str) -> str | None:
    try:
        code = _reader().lookup(ip).country_code
    except Exception:  # a malformed address is simply "unknown"
        return None
    return code if isinstance(code, str) and len(code) == 2 and code.isalpha() else None
