"""The exact-number reference cases on the AWS path: the scenario of the exact tests
(tests/integration/conftest.py) goes beacon by beacon through the collect Lambda handler,
the Firehose stand-in, S3 and the Glue table; every answer comes from the stats Lambda handler
(Mangum) through pyathena and the Athena stand-in, and must equal the SQL-free reference
model (tests/reference.py, tests/reference_behaviour.py), as it does locally."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from beaconlake.stats import behaviour_query
from beaconlake.stats.channels import channel_of
from beaconlake.stats.query import METRICS
from beaconlake.web.auth import Reader
from tests.aws_box.athena_sql import MIN_BILLED, billed_bytes
from tests.aws_box.conftest import Box, aws_box
from tests.aws_box.exports import comparable, fetch_export, local_export
from tests.aws_box.stack import Stack
from tests.integration.conftest import scenario
from tests.reference import (
    Hit,
    breakdown,
    by_start_bucket,
    engagement_metrics,
    group,
    in_days,
    metrics,
    sessions,
    visit_source,
)
from tests.reference_behaviour import funnel, funnel_answer, journeys, paths, ranked

pytestmark = pytest.mark.slow

# The exact tests' own cases and constants (imported by module, so their test functions are not
# collected a second time here)
V2 = importlib.import_module("tests.integration.test_query_v2_exact")
BEHAVIOUR = importlib.import_module("tests.integration.test_behaviour_exact")
FIRST, LAST = "2026-03-09", "2026-03-20"
V1_RANGE = {"site_id": "example.com", "period": "custom", "from": FIRST, "to": LAST}


def cases(module: Any, test: str) -> list[Any]:
    """The argument values of a test's (first) parametrize mark in an exact-test module."""
    (mark,) = [m for m in getattr(module, test).pytestmark if m.name == "parametrize"][:1]
    return list(mark.args[1])


def goals_json() -> str:
    """The v2 tests' goals as BEACONLAKE_GOALS (on AWS goals come from the environment)."""
    out = {}
    for site, goals in V2.GOALS.items():
        out[site] = [
            {"name": g.name, **({"event": g.event} if g.event else {"page": g.page})} for g in goals
        ]
    return json.dumps(out)


# ---- the requests, built once for the tests and for the warm-up ------------------------------

Request = tuple[str, str, dict[str, Any]]  # method, path, keyword arguments of Box.call
V1_METRICS = ",".join(METRICS)
BREAKDOWNS = [
    ("visit:source", "source"),
    ("visit:entry_page", "entry_page"),
    ("visit:exit_page", "exit_page"),
    ("visit:browser", "browser"),
    ("visit:country", "country"),
    ("event:page", "page"),
]
FILTER_TREES = cases(V2, "test_filter_trees")
FUNNELS = cases(BEHAVIOUR, "test_funnel")
JOURNEYS = [(d, *c) for c in cases(BEHAVIOUR, "test_journeys") for d in ("next", "previous")]
PATHS = cases(BEHAVIOUR, "test_paths")
WITH_LABELS = {"metrics": ["visitors", "visits"], "dimensions": ["time:day"]}
EXPORT = {"site_id": "example.com", "date_range": f"{FIRST},{LAST}"}  # CSV: linked files
EXPORT_NDJSON = {**EXPORT, "format": "ndjson"}  # streamed, as locally


def v1_request(path: str, **query: str) -> Request:
    return "GET", f"/api/v1/stats/{path}", {"query": {**V1_RANGE, **query}}


def v2_request(body: dict[str, Any]) -> Request:
    full = {"site_id": "example.com", "date_range": [FIRST, LAST], **body}
    return "POST", "/api/v2/query", {"body": full}


def behaviour_request(path: str, flt: tuple[list, Any], **fields: Any) -> Request:
    body = {"site_id": "example.com", "date_range": [FIRST, LAST], "filters": flt[0], **fields}
    return "POST", f"/api/v2/{path}", {"body": body}


def funnel_request(steps: list, window: int, order: str, flt: tuple[list, Any]) -> Request:
    return behaviour_request("funnel", flt, steps=steps, window_minutes=window, order=order)


def journey_request(direction: str, page: str, flt: tuple[list, Any], limit: int) -> Request:
    return behaviour_request("journeys", flt, page=page, direction=direction, limit=limit)


def paths_request(n: int, start: str | None, flt: tuple[list, Any], limit: int) -> Request:
    return behaviour_request("paths", flt, steps=n, start_page=start, limit=limit)


V2_BODIES = {
    "aggregate": {
        "metrics": [*V2.BASIC, "scroll_depth", "time_on_page", "total_revenue", "average_revenue"]
    },
    "two_dimensions": {"metrics": V2.BASIC, "dimensions": ["visit:source", "visit:device"]},
    "channels": {"metrics": ["visitors", "visits"], "dimensions": ["visit:channel"]},
    "goals": {
        "metrics": ["visitors", "events", "conversion_rate", "total_revenue"],
        "dimensions": ["event:goal"],
    },
    "pagination": {
        "metrics": ["visitors", "percentage"],
        "dimensions": ["event:page"],
        "order_by": [["event:page", "asc"]],
        "pagination": {"limit": 2, "offset": 1},
        "include": {"total_rows": True},
    },
    "comparison": {
        "metrics": ["visitors", "pageviews", "bounce_rate"],
        "date_range": ["2026-03-11", "2026-03-12"],
        "include": {"comparisons": {"mode": "previous_period"}},
    },
}


def all_requests() -> list[Request]:
    """Every request the tests below send."""
    hourly = {"period": "custom", "from": "2026-03-10", "to": "2026-03-10"}
    return [
        v1_request("aggregate", metrics=V1_METRICS),
        v1_request("aggregate", metrics=V1_METRICS, filters="event:page==/pricing"),
        *(
            v1_request("breakdown", property=d, limit="1000", metrics=V1_METRICS)
            for d, _ in BREAKDOWNS
        ),
        v1_request("timeseries", interval="day", metrics="visitors,pageviews,events"),
        v1_request("timeseries", interval="hour", metrics="pageviews,visits", **hourly),
        *(v2_request(body) for body in V2_BODIES.values()),
        *(v2_request({"metrics": V2.BASIC, "filters": f}) for f, _ in FILTER_TREES),
        *(funnel_request(*c) for c in FUNNELS),
        *(journey_request(*c) for c in JOURNEYS),
        *(paths_request(*c) for c in PATHS),
        ("GET", "/api/v2/export/events", {"query": EXPORT}),
        ("GET", "/api/v2/export/events", {"query": EXPORT_NDJSON}),
    ]


@pytest.fixture(scope="module")
def loaded(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Box, list]]:
    """The scenario through the AWS path, in time order (as traffic arrives), once per module;
    every beacon must be accepted, and Firehose's buffers are waited out at the end."""
    cache: Path = tmp_path_factory.mktemp("athena-box")
    with aws_box(stack, cache, env={"BEACONLAKE_GOALS": goals_json()}) as box:
        sent = sorted(scenario(7), key=lambda s: s[2].at)
        for data, meta, hit in sent:
            reply = box.beacon(data, meta, hit.at)
            assert reply["statusCode"] == 202, reply
        box.firehose.drain()
        assert box.firehose.received == len(sent) and box.firehose.buffered == 0
        with box.athena.learn():  # one batched rules check for all the module's statements
            for method, path, kw in all_requests():
                box.call(method, path, **kw)
        yield box, [hit for _, _, hit in sent]


def ask(box: Box, request: Request) -> Any:
    method, path, kw = request
    return box.ok(method, path, **kw)


# ---- v1: aggregate, breakdowns, time series ------------------------------------------------------


def test_the_scenario_landed_in_s3_as_firehose_delivers_it(loaded: tuple[Box, list[Hit]]) -> None:
    box, hits = loaded
    days = {h.at.date().isoformat() for h in hits}
    keys = {d.key.rsplit("/", 1)[0] for d in box.firehose.deliveries}
    assert keys == {f"events/site_id=example.com/dt={d}" for d in days}
    assert sum(d.records for d in box.firehose.deliveries) == len(hits)
    assert len(box.firehose.deliveries) > len(days)  # the 120 s buffers cut each day in parts


def test_aggregate_matches_reference(loaded: tuple[Box, list[Hit]]) -> None:
    box, hits = loaded
    got = ask(box, v1_request("aggregate", metrics=V1_METRICS))["results"]
    assert {k: v["value"] for k, v in got.items()} == metrics(hits)


@pytest.mark.parametrize(("dimension", "key"), BREAKDOWNS)
def test_breakdowns_match_reference(loaded: tuple[Box, list[Hit]], dimension, key) -> None:
    box, hits = loaded
    request = v1_request("breakdown", property=dimension, limit="1000", metrics=V1_METRICS)
    rows = ask(box, request)["results"]
    result_key = dimension.split(":")[-1]
    got = {(r[result_key] if r[result_key] != "Direct / None" else None): r for r in rows}
    expected = breakdown(hits, key)
    assert set(got) == set(expected)
    for value, exp in expected.items():
        assert {m: got[value][m] for m in METRICS} == exp, value


def test_filtered_aggregate_matches_reference(loaded: tuple[Box, list[Hit]]) -> None:
    box, hits = loaded
    request = v1_request("aggregate", metrics=V1_METRICS, filters="event:page==/pricing")
    got = ask(box, request)["results"]
    expected = metrics(hits, lambda h, s: h.path == "/pricing")
    assert {k: v["value"] for k, v in got.items()} == expected


def test_daily_timeseries_matches_reference(loaded: tuple[Box, list[Hit]]) -> None:
    box, hits = loaded
    wanted = ("visitors", "pageviews", "events")
    request = v1_request("timeseries", interval="day", metrics="visitors,pageviews,events")
    series = ask(box, request)["results"]
    first, last = date.fromisoformat(FIRST), date.fromisoformat(LAST)
    assert [row["date"] for row in series] == [
        (first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)
    ]
    for row in series:
        day_hits = [h for h in hits if h.at.date().isoformat() == row["date"]]
        exp = metrics(day_hits) if day_hits else dict.fromkeys(wanted, 0)
        assert {m: row[m] for m in wanted} == {m: exp[m] for m in wanted}


def test_hourly_timeseries_counts_visits_by_session_start(loaded: tuple[Box, list[Hit]]) -> None:
    box, hits = loaded
    day = {"period": "custom", "from": "2026-03-10", "to": "2026-03-10"}
    request = v1_request("timeseries", interval="hour", metrics="pageviews,visits", **day)
    series = ask(box, request)["results"]
    assert len(series) == 24
    day_hits = [h for h in hits if h.at.date() == date(2026, 3, 10)]
    for row in series:
        hour = datetime.fromisoformat(row["date"]).hour
        assert row["pageviews"] == sum(h.name == "pageview" and h.at.hour == hour for h in day_hits)
        assert row["visits"] == sum(s.first.at.hour == hour for s in sessions(day_hits))


# ---- v2 query ----------------------------------------------------------------------------------


def test_v2_aggregate_all_metrics(loaded: tuple[Box, list[Hit]]) -> None:
    box, hits = loaded
    wanted = V2_BODIES["aggregate"]["metrics"]
    got = V2.as_map(ask(box, v2_request(V2_BODIES["aggregate"])), wanted)[()]
    exp = metrics(hits) | engagement_metrics(hits)
    assert got == {m: exp[m] for m in wanted}


def test_v2_two_dimensions(loaded: tuple[Box, list[Hit]]) -> None:
    box, hits = loaded
    result = ask(box, v2_request(V2_BODIES["two_dimensions"]))
    key = lambda h, s: (visit_source(s), h.device)  # noqa: E731
    expected = {k: metrics(hits, keep) for k, keep in group(hits, key).items()}
    assert V2.as_map(result, V2.BASIC) == {tuple(k): v for k, v in expected.items()}


def test_v2_channels(loaded: tuple[Box, list[Hit]]) -> None:
    box, hits = loaded
    wanted = ["visitors", "visits"]
    got = V2.as_map(ask(box, v2_request(V2_BODIES["channels"])), wanted)
    key = lambda h, s: channel_of(s.first.source, s.first.utm.get("utm_medium"))  # noqa: E731
    expected = {
        (k,): {m: metrics(hits, keep)[m] for m in wanted} for k, keep in group(hits, key).items()
    }
    assert got == expected


@pytest.mark.parametrize(("filters", "keep"), FILTER_TREES)
def test_v2_filter_trees(loaded: tuple[Box, list[Hit]], filters, keep) -> None:
    box, hits = loaded
    result = ask(box, v2_request({"metrics": V2.BASIC, "filters": filters}))
    assert V2.as_map(result, V2.BASIC)[()] == metrics(hits, keep)


def test_v2_goals_with_conversion_rate_and_revenue(loaded: tuple[Box, list[Hit]]) -> None:
    box, hits = loaded
    wanted = V2_BODIES["goals"]["metrics"]
    got = V2.as_map(ask(box, v2_request(V2_BODIES["goals"])), wanted)
    assert got == V2.expected_goals(hits)


def test_v2_order_pagination_and_total_rows(loaded: tuple[Box, list[Hit]]) -> None:
    box, hits = loaded
    result = ask(box, v2_request(V2_BODIES["pagination"]))
    pages = sorted({h.path for h in hits})
    total = metrics(hits)["visitors"]
    assert result["meta"]["total_rows"] == len(pages)
    assert [r["dimensions"][0] for r in result["results"]] == pages[1:3]
    for r in result["results"]:
        v = metrics(hits, lambda h, s, p=r["dimensions"][0]: h.path == p)["visitors"]
        assert r["metrics"] == [v, round(100 * v / total, 1)]


def test_v2_previous_period_comparison(loaded: tuple[Box, list[Hit]]) -> None:
    box, hits = loaded
    (row,) = ask(box, v2_request(V2_BODIES["comparison"]))["results"]
    now = [h for h in hits if date(2026, 3, 11) <= h.at.date() <= date(2026, 3, 12)]
    before = [h for h in hits if date(2026, 3, 9) <= h.at.date() <= date(2026, 3, 10)]
    cur, prev = metrics(now), metrics(before)
    wanted = V2_BODIES["comparison"]["metrics"]
    assert row["metrics"] == [cur[m] for m in wanted]
    assert row["comparison"]["metrics"] == [prev[m] for m in wanted]


# ---- behaviour ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("steps", "window", "order", "flt"), FUNNELS)
def test_funnel(loaded: tuple[Box, list[Hit]], steps, window, order, flt) -> None:
    box, hits = loaded
    request = funnel_request(steps, window, order, flt)
    got = ask(box, request)
    labels = [s.label for s in behaviour_query.parse_funnel(request[2]["body"], V2.GOALS).steps]
    window_ = timedelta(minutes=window)
    counts = funnel(hits, BEHAVIOUR._steps(steps), window_, order == "strict", flt[1])
    assert got == funnel_answer(labels, counts)
    assert counts[0] > 0


@pytest.mark.parametrize(("direction", "page", "flt", "limit"), JOURNEYS)
def test_journeys(loaded: tuple[Box, list[Hit]], direction, page, flt, limit) -> None:
    box, hits = loaded
    got = ask(box, journey_request(direction, page, flt, limit))
    counts, total = journeys(hits, page, direction, flt[1])
    assert got["visits"] == total > 0
    assert got["results"] == [
        {"page": p, "visits": n, "percentage": round(100 * n / total, 1)}
        for p, n in ranked(counts, limit)
    ]


@pytest.mark.parametrize(("n", "start", "flt", "limit"), PATHS)
def test_paths(loaded: tuple[Box, list[Hit]], n, start, flt, limit) -> None:
    box, hits = loaded
    got = ask(box, paths_request(n, start, flt, limit))
    expected = ranked(paths(hits, n, start, flt[1]), limit)
    assert got["results"] == [{"path": list(p), "visits": v} for p, v in expected]
    assert expected


# ---- export ------------------------------------------------------------------------------------


def test_export_links_files_holding_every_event_as_the_local_export(
    loaded: tuple[Box, list[Hit]], tmp_path: Path
) -> None:
    """CSV on AWS: an UNLOAD to the results bucket, answered with presigned links; the files
    fetched through them hold the rows the local (streamed) export writes for the same
    stored events."""
    box, hits = loaded
    answer = box.ok("GET", "/api/v2/export/events", query=EXPORT)
    assert answer["rows"] == len(hits) and answer["format"] == "csv"
    assert answer["date_range"] == [FIRST, LAST]
    text, _ = fetch_export(answer, box.env["BEACONLAKE_RESULTS_BUCKET"])
    header, rows = comparable(text)
    local = local_export(box.firehose.s3, box.firehose.bucket, tmp_path, EXPORT)
    assert (header, rows) == comparable(local)
    by_time = [dict(zip(header, row, strict=True)) for row in rows]  # sorted: ts (ISO) first
    assert [(r["name"], r["pathname"]) for r in by_time] == [(h.name, h.path) for h in hits]
    # Firehose wrote INT96 timestamps and Athena answers timestamp(3): milliseconds survive
    stamps = [datetime.fromisoformat(r["ts"]) for r in by_time]
    assert stamps == [h.at.replace(tzinfo=None) for h in hits]


def test_ndjson_export_is_streamed(loaded: tuple[Box, list[Hit]]) -> None:
    box, hits = loaded
    status, text = box.call("GET", "/api/v2/export/events", query=EXPORT_NDJSON)
    assert status == 200, (text, box.failures())
    rows = [json.loads(line) for line in text.splitlines()]
    assert [(r["name"], r["pathname"]) for r in rows] == [(h.name, h.path) for h in hits]
    assert {r["site_id"] for r in rows} == {"example.com"}


# ---- what a dashboard costs --------------------------------------------------------------------


def test_dashboard_like_requests_cost_what_athena_would_bill(loaded: tuple[Box, list[Hit]]) -> None:
    """The requests a dashboard view sends (top cards with comparison, the chart, four
    breakdowns) over the scenario's range: per request, the queries it ran and what Athena
    would scan, bill and open. Every query reads the range's objects only, and is billed
    Athena's 10 MB minimum at this size (`pytest -s` prints the figures)."""
    box, _ = loaded
    view = [
        ("top cards", v2_request(V2_BODIES["comparison"])),
        ("chart", v1_request("timeseries", interval="day", metrics="visitors,pageviews,events")),
        *(
            (
                f"breakdown {d}",
                v1_request("breakdown", property=d, limit="1000", metrics=V1_METRICS),
            )
            for d in ("visit:source", "event:page", "visit:country", "visit:browser")
        ),
    ]
    in_range = [d for d in box.firehose.deliveries if FIRST <= d.key.split("dt=")[1][:10] <= LAST]
    lines = []
    for name, request in view:
        mark = len(box.athena.queries)
        ask(box, request)
        ran = box.queries_since(mark)
        assert ran and all(q.state == "SUCCEEDED" for q in ran)
        for q in ran:
            assert q.bytes_billed == billed_bytes(q.bytes_scanned) == MIN_BILLED
            assert 0 < q.bytes_scanned < sum(d.size for d in in_range)
            assert q.objects_read <= len(in_range)
        lines.append(
            f"{name}: {len(ran)} queries, scanned {sum(q.bytes_scanned for q in ran)} B, "
            f"billed {sum(q.bytes_billed for q in ran)} B, "
            f"objects read {sum(q.objects_read for q in ran)}"
        )
    print("\naws_box dashboard view:\n  " + "\n  ".join(lines))


# ---- sites in other time zones: the same answers as the local engine and the reference --------

ZONES = ["America/Los_Angeles", "Asia/Kolkata"]  # a change to DST in the first range; +05:30
BASIC = "visitors,visits,pageviews,events,bounce_rate,visit_duration,views_per_visit"


@contextmanager
def site_zone(tz: str) -> Iterator[None]:
    """The site's time zone as the catalogue would give it to the stats handler."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Reader, "timezone", lambda self, site: tz)
        yield


def zone_requests() -> list[Request]:
    week = {"period": "custom", "from": "2026-03-02", "to": "2026-03-14"}  # LA's DST change
    one = {"period": "custom", "from": "2026-03-10", "to": "2026-03-10", "interval": "hour"}
    v1 = "/api/v1/stats/"
    flow = {"steps": [{"page": "/"}, {"page": "/pric*"}], "window_minutes": 1440}
    return [
        ("GET", v1 + "aggregate", {"query": {**V1_RANGE, **week, "metrics": BASIC}}),
        ("GET", v1 + "timeseries", {"query": {**V1_RANGE, **week, "metrics": BASIC}}),
        ("GET", v1 + "timeseries", {"query": {**V1_RANGE, **one, "metrics": "visits,pageviews"}}),
        v2_request({"metrics": V2.BASIC, "dimensions": ["visit:source"], "date_range": TWO}),
        behaviour_request("funnel", ([], None), date_range=["2026-03-09", "2026-03-11"], **flow),
    ]


TWO = ["2026-03-10", "2026-03-11"]


@pytest.fixture(scope="module")
def zoned(loaded: tuple[Box, list[Hit]]) -> dict[str, list[Any]]:
    """Each zone's answers to zone_requests (their statements checked in one batch)."""
    box, _ = loaded
    answers: dict[str, list[Any]] = {}
    with box.athena.learn():
        for tz in ZONES:
            with site_zone(tz):
                for method, path, kw in zone_requests():
                    box.call(method, path, **kw)
    for tz in ZONES:
        with site_zone(tz):
            answers[tz] = [ask(box, r) for r in zone_requests()]
    return answers


@pytest.mark.parametrize("tz", ZONES)
def test_zone_answers_match_reference(loaded, zoned, tz: str) -> None:
    _, hits = loaded
    aggregate, daily, hourly, sources, funnel_ = zoned[tz]
    wanted = BASIC.split(",")
    week = in_days(hits, tz, date(2026, 3, 2), date(2026, 3, 14))
    assert {m: aggregate["results"][m]["value"] for m in wanted} == {
        m: metrics(week)[m] for m in wanted
    }
    by_day = by_start_bucket(week, tz, "day")
    assert len(daily["results"]) == 13
    for row in daily["results"]:
        exp = metrics(by_day.get(row["date"], []))
        assert {m: row[m] for m in wanted} == {m: exp[m] for m in wanted}, row["date"]
    by_hour = by_start_bucket(in_days(hits, tz, date(2026, 3, 10), date(2026, 3, 10)), tz, "hour")
    assert len(hourly["results"]) == 24
    for row in hourly["results"]:
        exp = metrics(by_hour.get(row["date"], []))
        assert (row["visits"], row["pageviews"]) == (exp["visits"], exp["pageviews"])
    two = in_days(hits, tz, date(2026, 3, 10), date(2026, 3, 11))
    expected = {
        (k,): [metrics(two, keep)[m] for m in V2.BASIC]
        for k, keep in group(two, lambda h, s: visit_source(s)).items()
    }
    assert {tuple(r["dimensions"]): r["metrics"] for r in sources["results"]} == expected
    assert sources["meta"]["timezone"] == tz
    three = in_days(hits, tz, date(2026, 3, 9), date(2026, 3, 11))
    counts = funnel(three, BEHAVIOUR._steps([{"page": "/"}, {"page": "/pric*"}]), timedelta(1))
    assert [s["visitors"] for s in funnel_["steps"]] == counts
