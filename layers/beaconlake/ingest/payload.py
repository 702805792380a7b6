"""Parse and validate a beacon: the payload of Plausible's Events API, long or short names.

Pure functions. Limits are Plausible's documented ones, so its own script works unchanged.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, fields
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

from beaconlake.domains import normalise_domain

MAX_BODY_BYTES = 64 * 1024
MAX_URL_BYTES = 2000
MAX_NAME_CHARS = 120
MAX_PROPS = 30
MAX_PROP_KEY_BYTES = 300
MAX_PROP_VALUE_BYTES = 2000
MAX_DOMAIN_CHARS = 253
# Sites one beacon may name (after folding `www.` and case and dropping repeats): one event
# is stored per site, so without a cap a 64 KiB body could store thousands of events. Plausible
# sends to a site and its roll-up dashboards; ten covers that with room to spare.
MAX_DOMAINS = 10
MAX_REVENUE = Decimal("1e13")
MAX_USER_ID_CHARS = 256

_ALIASES = {
    "n": "name",
    "u": "url",
    "d": "domain",
    "r": "referrer",
    "p": "props",
    "m": "props",
    "meta": "props",
    "$": "revenue",
    "i": "interactive",
    "h": "hash_mode",
    "hashMode": "hash_mode",
    "sd": "scroll_depth",
    "e": "engagement_time",
    "uid": "user_id",
}


@cache
def currencies() -> frozenset[str]:
    """ISO 4217 codes, loaded on the first revenue beacon (not at a cold start)."""
    import iso4217

    return frozenset(c.code for c in iso4217.Currency)


class PayloadError(ValueError):
    """A beacon that breaks a rule. `field` and `rule` go into the 400 body."""

    def __init__(self, field_name: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.rule = rule
        self.message = message

    def as_body(self) -> dict[str, str]:
        return {"error": self.message, "field": self.field, "rule": self.rule}


@dataclass(frozen=True, slots=True)
class Beacon:
    """A validated beacon, before anonymisation. Holds no IP and no User-Agent."""

    name: str
    domains: tuple[str, ...]
    hostname: str
    pathname: str
    query: dict[str, str]
    referrer: str | None
    props: dict[str, str] = field(default_factory=dict)
    revenue_amount: Decimal | None = None
    revenue_currency: str | None = None
    interactive: bool = True
    scroll_depth: int | None = None
    engaged_ms: int | None = None
    user_id: str | None = None  # raw; the collector keeps only a keyed hash of it


def decode_body(body: bytes | str) -> dict[str, Any]:
    """Bytes of a POST body → a JSON object, or PayloadError."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadError("body", "max_bytes", f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("body", "utf8", "the body is not valid UTF-8") from None
    try:
        data = _json_decode(text)
    except RecursionError:
        raise PayloadError("body", "json", "the body is nested too deeply") from None
    except ValueError as exc:
        raise PayloadError("body", "json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError("body", "json_object", "the body must be a JSON object")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


# one decoder for every body: json.loads with an option builds a new one per call
_json_decode = json.JSONDecoder(parse_constant=_reject_constant).decode


def normalise_keys(data: dict[str, Any]) -> dict[str, Any]:
    """Short names (n, u, d, ...) → long names; the long name wins if both are sent."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        long = _ALIASES.get(key, key)
        if long not in out or key == long:
            out[long] = value
    return out


def parse_beacon(data: dict[str, Any]) -> Beacon:
    """Validate a decoded payload (long or short names) and return a Beacon."""
    d = normalise_keys(data)
    name = _name(d.get("name"))
    url = _required_str(d, "url")
    if len(url.encode("utf-8", "surrogatepass")) > MAX_URL_BYTES:
        raise PayloadError("url", "max_bytes", f"url must be at most {MAX_URL_BYTES} bytes")
    if url[:5].lower() == "data:":
        raise PayloadError("url", "scheme", "url must not be a data: URL")
    hostname, pathname, query = _split_url(url, hash_mode=_truthy(d.get("hash_mode")))
    domains = _domains(_required_str(d, "domain"))
    referrer = _referrer(d.get("referrer"))
    props = _props(d.get("props"))
    amount, currency = _revenue(d.get("revenue"))
    interactive = d.get("interactive", True)
    if not isinstance(interactive, bool):
        interactive = _truthy(interactive)
    beacon = Beacon(
        name=name,
        domains=domains,
        hostname=hostname,
        pathname=pathname,
        query=query,
        referrer=referrer,
        props=props,
        revenue_amount=amount,
        revenue_currency=currency,
        interactive=interactive,
        scroll_depth=_bounded_int(d, "scroll_depth", 0, 100),
        engaged_ms=_bounded_int(d, "engagement_time", 0, 24 * 3600 * 1000),
        user_id=_user_id(d.get("user_id")),
    )
    _check_text(beacon)
    return beacon


# a lone surrogate (JSON allows "\ud800") cannot be written as UTF-8, so it would poison a
# Parquet file or a Firehose record; NUL ends strings in C tools downstream
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_SOURCE_FIELD = {"domains": "domain", "hostname": "url", "pathname": "url", "query": "url"}


def _check_text(beacon: Beacon) -> None:
    b = beacon
    # every text field in one search; the field is named only once something is found
    every_text = (
        b.name,
        *b.domains,
        b.hostname,
        b.pathname,
        *b.query,
        *b.query.values(),
        b.referrer or "",
        *b.props,
        *b.props.values(),
        b.revenue_currency or "",
        b.user_id or "",
    )
    if not _BAD_TEXT.search("".join(every_text)):
        return
    for f in fields(beacon):
        value = getattr(beacon, f.name)
        texts = value.items() if isinstance(value, dict) else [value]
        for text in texts:
            joined = "".join(text) if isinstance(text, tuple) else text
            if isinstance(joined, str) and _BAD_TEXT.search(joined):
                name = _SOURCE_FIELD.get(f.name, f.name)
                raise PayloadError(
                    name, "unicode", f"{name} contains a NUL or an unpaired surrogate"
                )


def _truthy(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _required_str(d: dict[str, Any], key: str) -> str:
    value = d.get(key)
    if value is None or value == "":
        raise PayloadError(key, "required", f"{key} is required")
    if not isinstance(value, str):
        raise PayloadError(key, "type", f"{key} must be a string")
    return value


def _name(value: Any) -> str:
    if value is None or value == "":
        raise PayloadError("name", "required", "name is required")
    if not isinstance(value, str):
        raise PayloadError("name", "type", "name must be a string")
    if len(value) > MAX_NAME_CHARS:
        raise PayloadError(
            "name", "max_length", f"name must be at most {MAX_NAME_CHARS} characters"
        )
    return value


def _split_url(url: str, *, hash_mode: bool) -> tuple[str, str, dict[str, str]]:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        raise PayloadError("url", "format", "url is not a valid URL") from None
    if parts.scheme.lower() not in {"http", "https"} or not host:
        raise PayloadError("url", "format", "url must be an absolute http(s) URL")
    path = parts.path or "/"
    if hash_mode and parts.fragment:
        path = f"{path}#{parts.fragment}"
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=False).items()}
    host = host[4:] if host.startswith("www.") else host
    return host, path, query


def _domains(raw: str) -> tuple[str, ...]:
    # repeats are dropped (first one wins), so each site is named, and stored, once
    domains = tuple(dict.fromkeys(normalise_domain(d) for d in raw.split(",") if d.strip()))
    if not domains or any(len(d) > MAX_DOMAIN_CHARS for d in domains):
        raise PayloadError("domain", "format", "domain must be one or more site domains")
    if len(domains) > MAX_DOMAINS:
        raise PayloadError(
            "domain", "max_count", f"a beacon may name at most {MAX_DOMAINS} different sites"
        )
    return domains


def _referrer(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise PayloadError("referrer", "type", "referrer must be a string")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_URL_BYTES:
        raise PayloadError(
            "referrer", "max_bytes", f"referrer must be at most {MAX_URL_BYTES} bytes"
        )
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https", "android-app"} or not host:
        return None
    return f"{parts.scheme.lower()}://{host}{parts.path}"


def _maybe_json(value: Any, field_name: str) -> Any:
    """Plausible's script sends props and revenue as JSON-encoded strings."""
    if isinstance(value, str):
        try:
            return _json_decode(value)
        except (ValueError, RecursionError):
            raise PayloadError(field_name, "json", f"{field_name} must be a JSON object") from None
    return value


def _props(value: Any) -> dict[str, str]:
    value = _maybe_json(value, "props")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError("props", "type", "props must be an object of string keys and values")
    props: dict[str, str] = {}
    for key, raw in value.items():
        if raw is None or raw == "":
            continue
        if len(key.encode("utf-8", "surrogatepass")) > MAX_PROP_KEY_BYTES:
            raise PayloadError(
                "props", "key_max_bytes", f"a props key is longer than {MAX_PROP_KEY_BYTES} bytes"
            )
        if isinstance(raw, bool):
            text = "true" if raw else "false"
        elif isinstance(raw, int | str):
            text = str(raw)
        elif isinstance(raw, float) and math.isfinite(raw):
            text = repr(raw)
        else:
            raise PayloadError(
                "props", "value_type", f"props[{key!r}] must be a string, number or boolean"
            )
        if len(text.encode("utf-8", "surrogatepass")) > MAX_PROP_VALUE_BYTES:
            raise PayloadError(
                "props",
                "value_max_bytes",
                f"props[{key!r}] is longer than {MAX_PROP_VALUE_BYTES} bytes",
            )
        props[key] = text
    if len(props) > MAX_PROPS:
        raise PayloadError("props", "max_count", f"at most {MAX_PROPS} props are allowed")
    return props


def _revenue(value: Any) -> tuple[Decimal | None, str | None]:
    value = _maybe_json(value, "revenue")
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise PayloadError("revenue", "type", "revenue must be an object {amount, currency}")
    currency = value.get("currency")
    if not isinstance(currency, str) or currency.upper() not in currencies():
        raise PayloadError("revenue", "currency", "revenue.currency must be an ISO 4217 code")
    amount_raw = value.get("amount")
    if isinstance(amount_raw, bool) or not isinstance(amount_raw, int | float | str):
        raise PayloadError("revenue", "amount", "revenue.amount must be a number")
    amount = _amount(amount_raw)
    if amount is None:
        raise PayloadError("revenue", "amount", "revenue.amount must be a finite number < 1e13")
    return amount, currency.upper()


_REVENUE_CONTEXT = Context(prec=40, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation])
_REVENUE_STEP = Decimal("0.0001")


def _amount(raw: int | float | str) -> Decimal | None:
    """The amount rounded to 4 decimals, or None unless it is a finite number whose rounded
    value is below 10^13 in magnitude. Never raises: huge exponents (`1e9999999`) are refused
    by their digits alone, before any arithmetic could overflow."""
    try:
        amount = Decimal(raw if isinstance(raw, str) else str(raw))
    except (InvalidOperation, ValueError):
        return None  # not a number; ValueError: an int past Python's digit limit
    if not amount.is_finite() or amount.adjusted() >= 13:
        return None
    if amount.adjusted() < -5:
        return Decimal(0).quantize(_REVENUE_STEP)  # below half a step: rounds to 0.0000
    # at most 13 + 4 digits, well within the context's 40: exact, no trap can fire
    rounded = amount.quantize(_REVENUE_STEP, context=_REVENUE_CONTEXT)
    return rounded if abs(rounded) < MAX_REVENUE else None


def _bounded_int(d: dict[str, Any], key: str, low: int, high: int) -> int | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError(key, "type", f"{key} must be a number")
    if not math.isfinite(value) or not low <= value <= high:
        raise PayloadError(key, "range", f"{key} must be between {low} and {high}")
    return int(value)


def _user_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PayloadError("user_id", "type", "user_id must be a string or an integer")
    text = str(value)
    if len(text) > MAX_USER_ID_CHARS:
        raise PayloadError(
            "user_id", "max_length", f"user_id must be at most {MAX_USER_ID_CHARS} characters"
        )
    return text
