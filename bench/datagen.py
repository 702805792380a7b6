"""Events at scale, straight to Parquet: the traffic of `beaconlake.local.demo`, vectorised.

The same distributions as the demo generator (its user agents, sources, entry pages, pages per
visit, dwell times, engagement, signups, purchases, outbound clicks, weekday and growth
factors, bots and DNT dropped), drawn with numpy instead of one beacon at a time. Each distinct
beacon shape (name, page, source, plan) goes once through the real collector service and the
Parquet sink's `events_to_table`, so every stored value is what ingest would store; user agent
fields come from the real UA parser and countries from the real GeoIP look-up. Files are
written one per day partition with the sink's own `write_parquet_atomically`, rows in time
order as Firehose would deliver them.

Memory: a table of 10 M events takes ~4 GB to build, so more than `ONE_BUILD_EVENTS` are
built in chunks of whole visitors, `CHUNK_EVENTS` at most (chunk i with seed + i; chunk 0 is
the dataset of that size), each chunk's days written as parts, then each day's parts merged
into its one file in time order: at most one chunk and one day are held at once. Up to
`ONE_BUILD_EVENTS` the output is what one build gives (the default run's 1 M and 10 M
datasets do not change).

`python -m bench.datagen ROOT EVENTS` writes a dataset and prints it as JSON.
"""

from __future__ import annotations

import itertools
import json
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from beaconlake.adapters.geoip import geoip_country
from beaconlake.adapters.parquet_sink import events_to_table, write_parquet_atomically
from beaconlake.ingest.service import CollectPolicy, collect
from beaconlake.ingest.useragent import parse_user_agent
from beaconlake.local import demo
from beaconlake.model import RequestMeta
from beaconlake.schema import arrow_schema

SITE = "bench.example"
FIRST_DAY = date(2026, 1, 1)
DAYS = 30
KINDS = ("pageview", "engagement", "Signup", "Purchase", "Outbound Link: Click")
PLANS = ("starter", "growth", "business")
AMOUNTS = {"starter": "9.00", "growth": "29.00", "business": "99.00"}
PATHS = tuple(dict.fromkeys([p for _, p in demo.ENTRY_PAGES] + list(demo.NEXT_PAGES)))
IP_POOL = 20_000
ONE_BUILD_EVENTS = 10_000_000  # up to this, one build (~4 GB of RSS at 10 M events)
CHUNK_EVENTS = 5_000_000  # beyond it, chunks of at most this


@dataclass(frozen=True)
class Dataset:
    root: Path
    target: int
    site: str
    first: date
    last: date
    rows: int
    files: int
    parquet_bytes: int


def _weights(weighted: tuple[tuple[Any, ...], ...]) -> np.ndarray:
    w = np.array([row[0] for row in weighted], dtype=float)
    return w / w.sum()


def _beacon(kind: str, path: str, source: int, plan: str) -> dict[str, Any]:
    """The body `demo._visit` sends; source is -1 after a visit's first page."""
    referrer, utm = (None, {}) if source < 0 else demo.SOURCES[source][1:]
    query = "&".join(f"{k}={v}" for k, v in utm.items())
    url = f"https://{SITE}{path}" + (f"?{query}" if query else "")
    data: dict[str, Any] = {"n": kind, "u": url, "d": SITE}
    if kind == "pageview" and referrer:
        data["r"] = referrer
    if kind == "engagement":
        data |= {"sd": 50, "e": 1000}
    if kind in ("Signup", "Purchase"):
        data["p"] = {"plan": plan}
    if kind == "Purchase":
        data["$"] = {"amount": AMOUNTS[plan], "currency": "EUR"}
    if kind == "Outbound Link: Click":
        data["p"] = {"url": "https://github.com/beaconlake"}
    return data


def _template_table(codes: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    """One row per distinct beacon shape, collected by the real service; and each event's row."""
    unique, inverse = np.unique(codes, return_inverse=True)
    policy = CollectPolicy(frozenset({SITE}))
    meta = RequestMeta(ip="192.0.2.1", user_agent=demo.USER_AGENTS[0][1])
    now = datetime(2026, 1, 1, tzinfo=UTC)
    events = []
    for code in unique.tolist():
        rest, plan = divmod(code, len(PLANS))
        rest, source = divmod(rest, len(demo.SOURCES) + 1)
        kind, path = divmod(rest, len(PATHS))
        data = _beacon(KINDS[kind], PATHS[path], source - 1, PLANS[plan])
        outcome = collect(json.loads(json.dumps(data)), meta, policy, lambda _: b"s", now)
        events.append(outcome.events[0])
    return events_to_table(events), inverse


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A keyed-hash stand-in for the visitor HMAC: uniform 64-bit values, vectorised."""
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return (z ^ (z >> np.uint64(31))).view(np.int64)


def _group_start(counts: np.ndarray) -> np.ndarray:
    """For a repeat(…, counts) expansion: each row's index within its group."""
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(int(counts.sum())) - starts


def _visitors(rng: np.random.Generator, visitors_per_day: float) -> dict[str, np.ndarray]:
    day_index = np.arange(DAYS, 0, -1)
    days_from_first = DAYS - day_index
    weekday = np.array([(FIRST_DAY + timedelta(days=int(d))).weekday() for d in days_from_first])
    factor = np.where(weekday >= 5, 0.7, 1.0) * (0.6 + 0.4 * (DAYS - day_index + 1) / DAYS)
    counts = np.maximum(
        1, (visitors_per_day * factor * rng.uniform(0.85, 1.15, DAYS)).astype(np.int64)
    )
    n = int(counts.sum())
    hour = np.clip(np.trunc(rng.normal(14, 4, n)), 0, 23).astype(np.int64)
    start = (
        np.repeat(days_from_first, counts) * 86400
        + hour * 3600
        + rng.integers(0, 60, n) * 60
        + rng.integers(0, 60, n)
    )
    ua = rng.choice(len(demo.USER_AGENTS), n, p=_weights(demo.USER_AGENTS))
    bots = np.array([parse_user_agent(ua_str).is_bot for _, ua_str in demo.USER_AGENTS])
    keep = ~bots[ua] & (rng.random(n) >= 0.02)
    return {
        "start": start[keep],
        "ua": ua[keep],
        "ip": rng.integers(0, IP_POOL, n)[keep],
        "sessions": np.where(rng.random(n) < 0.85, 1, 2)[keep],
        "gap": rng.integers(1, 6, n)[keep] * 3600,
    }


def _events(rng: np.random.Generator, visitors_per_day: float) -> dict[str, np.ndarray]:
    v = _visitors(rng, visitors_per_day)
    visit_visitor = np.repeat(np.arange(len(v["start"])), v["sessions"])
    second = _group_start(v["sessions"]) == 1
    visit_start = v["start"][visit_visitor] + np.where(second, v["gap"][visit_visitor], 0)
    n_visits = len(visit_visitor)
    source = rng.choice(len(demo.SOURCES), n_visits, p=_weights(demo.SOURCES))
    entry = rng.choice(len(demo.ENTRY_PAGES), n_visits, p=_weights(demo.ENTRY_PAGES))
    pages = np.where(rng.random(n_visits) < 0.45, 1, rng.integers(2, 7, n_visits))

    pv_visit = np.repeat(np.arange(n_visits), pages)
    n_pv = len(pv_visit)
    first = _group_start(pages) == 0
    entry_path = np.array([PATHS.index(p) for _, p in demo.ENTRY_PAGES])[entry]
    next_path = np.array([PATHS.index(p) for p in demo.NEXT_PAGES])
    path = np.where(first, entry_path[pv_visit], next_path[rng.integers(0, len(next_path), n_pv)])
    dwell = rng.integers(8, 241, n_pv)
    engaged = rng.random(n_pv) < 0.6
    signup = (path == PATHS.index("/pricing")) & (rng.random(n_pv) < 0.3)
    plan = rng.integers(0, len(PLANS), n_pv)
    purchase = signup & (rng.random(n_pv) < 0.5)
    outbound = rng.random(n_pv) < 0.05
    step = dwell + 1 + 2 * signup + 2 * purchase + outbound
    before = np.cumsum(step) - step
    offset = before - before[np.flatnonzero(first)][np.cumsum(first) - 1]
    at = visit_start[pv_visit] + offset
    src = np.where(first, source[pv_visit] + 1, 0)

    kinds = [
        (0, np.ones(n_pv, bool), at),
        (1, engaged, at + dwell),
        (2, signup, at + dwell + 1),
        (3, purchase, at + dwell + 3),
        (4, outbound, at + dwell + 1 + 2 * signup + 2 * purchase),
    ]
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("t", "code", "pv", "kind")}
    for kind, mask, t in kinds:
        idx = np.flatnonzero(mask)
        code = ((kind * len(PATHS) + path[idx]) * (len(demo.SOURCES) + 1) + src[idx]) * len(
            PLANS
        ) + np.where(kind in (2, 3), plan[idx], 0)
        parts["t"].append(t[idx])
        parts["code"].append(code)
        parts["pv"].append(idx)
        parts["kind"].append(np.full(len(idx), kind))
    ev = {k: np.concatenate(v_) for k, v_ in parts.items()}
    visitor = visit_visitor[pv_visit[ev["pv"]]]
    ev |= {
        "visitor": visitor,
        "ua": v["ua"][visitor],
        "ip": v["ip"][visitor],
        "dwell": dwell[ev["pv"]],
        "depth": rng.integers(10, 101, len(visitor)),
    }
    keep = ev["t"] < DAYS * 86400
    return {k: a[keep] for k, a in ev.items()}


def _thin(ev: dict[str, np.ndarray], rng: np.random.Generator, target: int) -> np.ndarray:
    """Keep whole visitors, drawn at random, until `target` events (uniform thinning)."""
    order = rng.permutation(int(ev["visitor"].max()) + 1)
    per_visitor = np.bincount(ev["visitor"], minlength=len(order))
    kept = order[np.cumsum(per_visitor[order]) <= target]
    mask = np.zeros(len(order), bool)
    mask[kept] = True
    return np.flatnonzero(mask[ev["visitor"]])


def _ip_pool(rng: np.random.Generator) -> list[str]:
    """Addresses drawn like the demo's; visitors share this pool for the country look-up."""
    octets = zip(
        rng.integers(1, 224, IP_POOL).tolist(),
        rng.integers(0, 256, IP_POOL).tolist(),
        rng.integers(0, 256, IP_POOL).tolist(),
        rng.integers(1, 255, IP_POOL).tolist(),
        strict=True,
    )
    return [f"{a}.{b}.{c}.{d}" for a, b, c, d in octets]


def _column(values: list[Any], index: np.ndarray, typ: pa.DataType) -> pa.Array:
    return pa.array(values, typ).take(pa.array(index))


def build_table(target_events: int, seed: int) -> pa.Table:
    """About `target_events` rows (whole visitors only), sorted by time."""
    rng = np.random.default_rng(seed)
    # the demo stores ~4.6 events per visitor drawn and the day factors average ~0.74:
    # draw ~15 % more than needed, then thin to the target
    ev = _events(rng, 1.15 * target_events / (DAYS * 4.6 * 0.74))
    take = _thin(ev, rng, target_events)
    ev = {k: a[take] for k, a in ev.items()}
    order = np.argsort(ev["t"], kind="stable")
    ev = {k: a[order] for k, a in ev.items()}

    templates, rows = _template_table(ev["code"])
    table = templates.take(pa.array(rows))
    epoch_ms = int(datetime(*FIRST_DAY.timetuple()[:3], tzinfo=UTC).timestamp()) * 1000
    agents = [parse_user_agent(ua) for _, ua in demo.USER_AGENTS]
    countries = [geoip_country(ip) for ip in _ip_pool(np.random.default_rng(seed + 1))]
    engagement = ev["kind"] == 1
    day = ev["t"] // 86400
    overrides: dict[str, pa.Array] = {
        "ts": pa.array(epoch_ms + ev["t"] * 1000, pa.timestamp("ms")),
        "visitor_id": pa.array(_splitmix64(ev["visitor"] * 1000 + day + seed * 10**12)),
        "browser": _column([a.browser for a in agents], ev["ua"], pa.string()),
        "browser_version": _column([a.browser_version for a in agents], ev["ua"], pa.string()),
        "os": _column([a.os for a in agents], ev["ua"], pa.string()),
        "os_version": _column([a.os_version for a in agents], ev["ua"], pa.string()),
        "device": _column([a.device for a in agents], ev["ua"], pa.string()),
        "country": _column(countries, ev["ip"], pa.string()),
        "scroll_depth": pa.array(ev["depth"], pa.int32(), mask=~engagement),
        "engaged_ms": pa.array(ev["dwell"] * 1000, pa.int64(), mask=~engagement),
    }
    schema = arrow_schema()
    columns = [overrides.get(f.name, table.column(f.name)) for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def _write_days(table: pa.Table, events_dir: Path, name: str | None = None) -> dict[str, Path]:
    """One file per day of a time-ordered table: day → its file."""
    days = pc.strftime(table.column("ts"), format="%Y-%m-%d").to_numpy(zero_copy_only=False)
    bounds = np.flatnonzero(np.r_[True, days[1:] != days[:-1], True])
    written = {}
    for lo, hi in itertools.pairwise(bounds.tolist()):
        directory = events_dir / f"site_id={SITE}" / f"dt={days[lo]}"
        written[days[lo]] = write_parquet_atomically(table.slice(lo, hi - lo), directory, name)
    return written


def chunks(
    target_events: int, chunk_events: int = CHUNK_EVENTS, one_build: int = ONE_BUILD_EVENTS
) -> list[int]:
    """Events per chunk: one up to `one_build`; beyond it as few as keep each within
    `chunk_events`, near-equal."""
    if target_events <= max(one_build, chunk_events):
        return [target_events]
    n = -(-target_events // chunk_events)
    return [target_events // n + (i < target_events % n) for i in range(n)]


def write_dataset(
    root: Path,
    target_events: int,
    seed: int = 42,
    chunk_events: int = CHUNK_EVENTS,
    one_build: int = ONE_BUILD_EVENTS,
) -> Dataset:
    """Generate and write `root/events/site_id=<site>/dt=<day>/part-….parquet`."""
    sizes = chunks(target_events, chunk_events, one_build)
    events_dir = root / "events"
    if len(sizes) == 1:
        table = build_table(target_events, seed)
        paths = list(_write_days(table, events_dir).values())
        rows = table.num_rows
        del table
    else:
        staging = root / "chunks"
        parts: dict[str, list[Path]] = {}
        rows = 0
        for i, size in enumerate(sizes):
            table = build_table(size, seed + i)
            rows += table.num_rows
            for day, path in _write_days(table, staging, f"chunk-{i:04d}.parquet").items():
                parts.setdefault(day, []).append(path)
            del table
        paths = []
        for day, day_parts in sorted(parts.items()):
            # each part is in time order: a stable sort of their concatenation is the day's
            merged = pa.concat_tables(pq.read_table(p, schema=arrow_schema()) for p in day_parts)
            merged = merged.take(pc.sort_indices(merged, [("ts", "ascending")]))
            directory = events_dir / f"site_id={SITE}" / f"dt={day}"
            paths.append(write_parquet_atomically(merged, directory))
            del merged
            for p in day_parts:
                p.unlink()
        shutil.rmtree(staging)
    return Dataset(
        root=root,
        target=target_events,
        site=SITE,
        first=FIRST_DAY,
        last=FIRST_DAY + timedelta(days=DAYS - 1),
        rows=rows,
        files=len(paths),
        parquet_bytes=sum(p.stat().st_size for p in paths),
    )


def to_json(ds: Dataset) -> dict[str, Any]:
    return {**ds.__dict__, "root": str(ds.root), "first": str(ds.first), "last": str(ds.last)}


def from_json(d: dict[str, Any]) -> Dataset:
    return Dataset(
        **{
            **d,
            "root": Path(d["root"]),
            "first": date.fromisoformat(d["first"]),
            "last": date.fromisoformat(d["last"]),
        }
    )


if __name__ == "__main__":
    print(json.dumps(to_json(write_dataset(Path(sys.argv[1]), int(sys.argv[2])))))
