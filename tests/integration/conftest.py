"""Fixtures for the exact-stats tests: a seeded scenario loaded through the real collector
service, Parquet sink and DuckDB engine, and the same hits for the reference model."""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from beaconlake import wiring
from beaconlake.adapters.duckdb_engine import DuckDBEngine
from beaconlake.config import Settings
from beaconlake.ingest.service import collect
from beaconlake.model import RequestMeta
from beaconlake.wiring import local_engine
from tests.conftest import CHROME_UA, FIREFOX_UA, IPHONE_UA
from tests.reference import Hit

AGENTS = [
    (CHROME_UA, "Chrome", "Windows", "desktop"),
    (IPHONE_UA, "Mobile Safari", "iOS", "mobile"),
    (FIREFOX_UA, "Firefox", "Linux", "desktop"),
]
REFERRERS = [
    (None, None),
    ("https://www.google.com/search?q=x", "Google"),
    ("https://news.ycombinator.com/item?id=1", "Hacker News"),
    ("https://other.org/post?id=9#c", "other.org"),
    ("https://example.com/internal", None),
]
PAGES = ["/", "/pricing", "/blog/a", "/docs", "/signup"]
DAY0 = datetime(2026, 3, 9, tzinfo=UTC)


def day_visitor(v: int, at: datetime) -> int:
    """The reference's visitor: as in production, one person's id changes at midnight UTC,
    because the collector salts it with the day's salt."""
    return v * 100 + (at - DAY0).days


def day_salt(day: str) -> bytes:
    return hashlib.sha256(day.encode()).digest()


def scenario(seed: int) -> list[tuple[dict, RequestMeta, Hit]]:
    rng = random.Random(seed)
    out = []
    for v in range(40):
        ua, browser, os_, device = AGENTS[v % len(AGENTS)]
        country = rng.choice(["DE", "US", None])
        meta = RequestMeta(ip=f"10.1.{v}.7", user_agent=ua, country_header=country)
        at = DAY0 + timedelta(hours=rng.randint(0, 60), seconds=rng.randint(0, 3599))
        for _session in range(rng.randint(1, 3)):
            referrer, source = rng.choice(REFERRERS)
            utm = {"utm_source": "news", "utm_medium": "email"} if rng.random() < 0.2 else {}
            if utm:
                source = "news"
            for i in range(rng.randint(1, 4)):
                path = rng.choice(PAGES)
                query = "?" + "&".join(f"{k}={x}" for k, x in utm.items()) if utm and i == 0 else ""
                data = {
                    "n": "pageview",
                    "u": f"https://example.com{path}{query}",
                    "d": "example.com",
                }
                if i == 0 and referrer:
                    data["r"] = referrer
                common = dict(browser=browser, os=os_, device=device, country=country)
                hit_source = source
                out.append(
                    (
                        data,
                        meta,
                        Hit(day_visitor(v, at), at, "pageview", path, hit_source, utm, **common),
                    )
                )
                at += timedelta(seconds=rng.randint(5, 1200), milliseconds=rng.randint(1, 999))
                if rng.random() < 0.3:
                    plan = rng.choice(["free", "pro"])
                    interactive = rng.random() < 0.7
                    ev = {
                        "n": "Signup",
                        "u": f"https://example.com{path}",
                        "d": "example.com",
                        "p": {"plan": plan},
                        "i": interactive,
                    }
                    out.append(
                        (
                            ev,
                            meta,
                            Hit(
                                day_visitor(v, at),
                                at,
                                "Signup",
                                path,
                                hit_source,
                                utm,
                                {"plan": plan},
                                interactive,
                                **common,
                            ),
                        )
                    )
                    at += timedelta(seconds=rng.randint(1, 30))
                if rng.random() < 0.3:
                    depth, engaged = rng.randint(0, 100), rng.randint(500, 90_000)
                    eng = {
                        "n": "engagement",
                        "u": f"https://example.com{path}",
                        "d": "example.com",
                        "sd": depth,
                        "e": engaged,
                    }
                    out.append(
                        (
                            eng,
                            meta,
                            Hit(
                                day_visitor(v, at),
                                at,
                                "engagement",
                                path,
                                hit_source,
                                utm,
                                scroll_depth=depth,
                                engaged_ms=engaged,
                                **common,
                            ),
                        )
                    )
                    at += timedelta(seconds=rng.randint(1, 30))
                if path == "/pricing" and rng.random() < 0.4:
                    amount = rng.choice([9, 29, 99])
                    buy = {
                        "n": "Purchase",
                        "u": "https://example.com/pricing",
                        "d": "example.com",
                        "$": {"amount": amount, "currency": "EUR"},
                    }
                    out.append(
                        (
                            buy,
                            meta,
                            Hit(
                                day_visitor(v, at),
                                at,
                                "Purchase",
                                path,
                                hit_source,
                                utm,
                                revenue=float(amount),
                                **common,
                            ),
                        )
                    )
                    at += timedelta(seconds=rng.randint(1, 30))
            # the next session starts 30 minutes or more after the last event
            at += timedelta(minutes=rng.choice([30, 31, 45, 600]))
    return out


FLUSH_EVERY = 40


def load(sent: list[tuple[dict, RequestMeta, Hit]]) -> list[Hit]:
    """`sent` through the collector, flushed every FLUSH_EVERY beacons; after each flush the
    engine brings its live day up to date, so that day takes its beacons in flush by flush."""
    p = wiring.ports()
    for i, (data, meta, hit) in enumerate(sent, 1):
        outcome = collect(data, meta, p.policy, day_salt, hit.at)
        assert outcome.dropped is None, outcome
        p.sink.put(outcome.events)
        if i % FLUSH_EVERY == 0 or i == len(sent):
            p.sink.flush()
            today = wiring.engine().today()  # type: ignore[attr-defined]
            wiring.engine().session_rollup("example.com", today, today)
    return [hit for _, _, hit in sent]


@pytest.fixture
def loaded(local_env):
    """The scenario, loaded (see `load`)."""
    return load(scenario(7))


# The scenario two days earlier, from 2026-03-07: across the change to daylight saving time
# in America/Los_Angeles (2026-03-08 10:00 UTC), for the time zone tests.
DST_SHIFT = timedelta(days=2)


def dst_scenario() -> list[tuple[dict, RequestMeta, Hit]]:
    return [(d, m, replace(h, at=h.at - DST_SHIFT)) for d, m, h in scenario(7)]


@pytest.fixture
def dst_loaded(local_env):
    return load(dst_scenario())


# "today" for the engine, and the events per bucket of visitors its rollups are computed in:
# after every day of the scenario (all rolled up, a few visitors per bucket), on its third day
# (two days rolled up, whole days per statement, the third one live, the rest computed from
# events), on its second day in small buckets, or before it (nothing rolled up).
ROLLUP_TODAY = {
    "rolled_up": (date(2026, 4, 1), 64),
    "partly_rolled_up": (date(2026, 3, 11), 1_000_000),
    "live_day_in_buckets": (date(2026, 3, 10), 64),
    "live": (date(2026, 3, 1), 1_000_000),
}


@pytest.fixture(params=list(ROLLUP_TODAY))
def engine_mode(request, local_env, monkeypatch) -> DuckDBEngine:
    """Runs a test once per session-rollup state: every answer must be the same."""
    today, rows_per_bucket = ROLLUP_TODAY[request.param]
    engine = local_engine(
        Settings.from_env().data_dir,
        cached_answers=0,
        today=lambda: today,
        rows_per_bucket=rows_per_bucket,
    )
    monkeypatch.setattr(wiring, "engine", wiring.Once(lambda: engine))
    return engine
