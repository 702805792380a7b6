"""Synthetic but realistic traffic, sent through the real ingest service (validation, bot
filtering, anonymisation) into the configured sink, with timestamps spread over past days.

Seeded: the same seed gives the same beacons. Past days get their own random demo salts
(the real salts of past days are deleted, as they must be).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from beaconlake.ingest.service import CollectPolicy, CountryLookup, collect
from beaconlake.model import Event, RequestMeta

USER_AGENTS = (
    (
        30,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    ),
    (
        14,
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    ),
    (
        18,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    ),
    (
        14,
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
    ),
    (8, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0"),
    (
        6,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    ),
    (
        4,
        "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
    ),
    (
        3,
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
    ),
    (3, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
)
SOURCES: tuple[tuple[int, str | None, dict[str, str]], ...] = (
    (35, None, {}),
    (30, "https://www.google.com/", {}),
    (6, "https://duckduckgo.com/", {}),
    (5, "https://news.ycombinator.com/item?id=1", {}),
    (5, "https://t.co/abc", {}),
    (4, "https://www.reddit.com/r/selfhosted/", {}),
    (4, "https://github.com/beaconlake", {}),
    (6, None, {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "november"}),
    (5, None, {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "brand"}),
)
ENTRY_PAGES = (
    (40, "/"),
    (20, "/blog/cookie-less-analytics"),
    (10, "/pricing"),
    (15, "/docs"),
    (8, "/blog/athena-on-a-budget"),
    (7, "/about"),
)
NEXT_PAGES = ("/", "/pricing", "/docs", "/docs/install", "/docs/api", "/blog", "/signup", "/about")


def _pick(rng: random.Random, weighted: tuple[tuple[Any, ...], ...]) -> tuple[Any, ...]:
    return rng.choices(weighted, weights=[w[0] for w in weighted])[0]


@dataclass(frozen=True)
class Beacon:
    """One generated request: body, request metadata and its time."""

    data: dict[str, Any]
    meta: RequestMeta
    at: datetime


def _visit(rng: random.Random, site: str, start: datetime, meta: RequestMeta) -> Iterator[Beacon]:
    _, referrer, utm = _pick(rng, SOURCES)
    path = _pick(rng, ENTRY_PAGES)[1]
    at = start
    query = "&".join(f"{k}={v}" for k, v in utm.items())
    pages = 1 if rng.random() < 0.45 else rng.randint(2, 6)
    for i in range(pages):
        url = f"https://{site}{path}" + (f"?{query}" if query and i == 0 else "")
        data: dict[str, Any] = {"n": "pageview", "u": url, "d": site}
        if i == 0 and referrer:
            data["r"] = referrer
        yield Beacon(data, meta, at)
        dwell = rng.randint(8, 240)
        if rng.random() < 0.6:
            engaged = {
                "n": "engagement",
                "u": url,
                "d": site,
                "sd": rng.randint(10, 100),
                "e": dwell * 1000,
            }
            yield Beacon(engaged, meta, at + timedelta(seconds=dwell))
        at += timedelta(seconds=dwell + 1)
        if path == "/pricing" and rng.random() < 0.3:
            plan = rng.choice(("starter", "growth", "business"))
            yield Beacon({"n": "Signup", "u": url, "d": site, "p": {"plan": plan}}, meta, at)
            at += timedelta(seconds=2)
            if rng.random() < 0.5:
                amount = {"starter": "9.00", "growth": "29.00", "business": "99.00"}[plan]
                yield Beacon(
                    {
                        "n": "Purchase",
                        "u": url,
                        "d": site,
                        "p": {"plan": plan},
                        "$": {"amount": amount, "currency": "EUR"},
                    },
                    meta,
                    at,
                )
                at += timedelta(seconds=2)
        if rng.random() < 0.05:
            yield Beacon(
                {
                    "n": "Outbound Link: Click",
                    "u": url,
                    "d": site,
                    "p": {"url": "https://github.com/beaconlake"},
                },
                meta,
                at,
            )
            at += timedelta(seconds=1)
        path = rng.choice(NEXT_PAGES)


def generate(
    site: str, days: int, visitors_per_day: int, seed: int, end: datetime
) -> Iterator[Beacon]:
    """Beacons for `days` days ending at `end`, in time order per visitor."""
    rng = random.Random(seed)
    for day_index in range(days, 0, -1):
        day = (end - timedelta(days=day_index - 1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        weekday_factor = 0.7 if day.weekday() >= 5 else 1.0
        growth = 0.6 + 0.4 * (days - day_index + 1) / days
        count = max(1, int(visitors_per_day * weekday_factor * growth * rng.uniform(0.85, 1.15)))
        for _ in range(count):
            ip = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            ua = _pick(rng, USER_AGENTS)[1]
            meta = RequestMeta(ip=ip, user_agent=ua, dnt=rng.random() < 0.02)
            hour = min(23, max(0, int(rng.gauss(14, 4))))
            start = day + timedelta(
                hours=hour, minutes=rng.randint(0, 59), seconds=rng.randint(0, 59)
            )
            if start > end:
                continue
            for _session in range(1 if rng.random() < 0.85 else 2):
                yield from (b for b in _visit(rng, site, start, meta) if b.at <= end)
                start += timedelta(hours=rng.randint(1, 5))


def ingest(
    beacons: Iterator[Beacon], policy: CollectPolicy, country_lookup: CountryLookup | None
) -> Iterator[Event | str]:
    """Run each beacon through the collector's service; yields events or drop reasons."""
    salts: dict[str, bytes] = {}

    def salt_for(day: str) -> bytes:
        return salts.setdefault(day, secrets.token_bytes(32))

    for b in beacons:
        outcome = collect(b.data, b.meta, policy, salt_for, b.at, country_lookup)
        if outcome.dropped:
            yield outcome.dropped
        yield from outcome.events


def now_utc() -> datetime:
    return datetime.now(UTC)
