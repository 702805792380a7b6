"""Athena (engine v3) would take every statement the AWS back end can send it.

sqlglot's athena reader is more lenient than Athena: it takes `LIMIT n OFFSET m` (Trino only
`OFFSET m LIMIT n`), `?` anywhere (Athena only in WHERE) and GROUP BY a SELECT alias (Trino
resolves GROUP BY names in FROM only). So the statements of every builder (stats v1, query
v2, behaviour, rollups, live rollup merges, named queries, the routes' own SQL) are gathered
through the cases of the exact tests and of the statement tests, sent through the real
AthenaEngine over a stand-in pyathena connection that records the text it would submit, and
checked with tests/support/athena_rules.py.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import duckdb
import pytest
import sqlglot

from beaconlake import wiring
from beaconlake.adapters.aws import AthenaEngine
from beaconlake.keys import create_key
from beaconlake.ports import Rollup
from beaconlake.sqldialect import athena_to_duckdb, string_literal
from beaconlake.stats import behaviour, behaviour_query, live_sql, service
from beaconlake.stats.query import METRICS, DateRange, Filter, Goal, StatsQuery
from beaconlake.stats.query_parser import parse_query
from beaconlake.stats.query_runner import parse_include, run_query
from beaconlake.stats.sql import (
    WHOLE_DAY,
    VisitorBucket,
    build,
    page_rollup_statement,
    rollup_statement,
)
from beaconlake.wiring import local_engine
from functions.stats.app import handler as stats
from infra_cdk.catalog import named_queries
from tests.apigw import Context, http_event
from tests.infra.test_athena_sql import requests
from tests.support.athena_rules import athena_violations
from tests.unit import test_behaviour_sql, test_sql_statements

# Fewer would mean a builder or a case list stopped being walked.
MINIMUM_STATEMENTS = 200
ALL_DAYS = DateRange(date(2026, 3, 9), date(2026, 3, 20))
ALL = ["2026-03-09", "2026-03-20"]
GOALS: dict[str, tuple[Goal, ...]] = {
    "example.com": (
        Goal("Signup", event="Signup"),
        Goal("Pricing page", page="/pric*"),
        Goal("Purchase", event="Purchase"),
    )
}
BASIC = ["visitors", "visits", "pageviews", "events", "bounce_rate", "visit_duration"]


class RecordingConnection:
    """pyathena's connection as AthenaEngine uses it: records each submitted text and answers
    with no rows."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def cursor(self) -> RecordingConnection.Cursor:
        return RecordingConnection.Cursor(self.sent)

    class Cursor:
        query_id = "recorded"
        description: list[tuple[str]] = []

        def __init__(self, sent: list[str]) -> None:
            self.sent = sent

        def execute(self, sql: str, params: Any, paramstyle: str, **_options: Any) -> Any:
            assert paramstyle == "qmark"
            assert sql.count("?") >= len(params or ())
            self.sent.append(sql)
            return self

        def fetchall(self) -> list[tuple[Any, ...]]:
            return []

        def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
            return []


class RolledUpAthena(AthenaEngine):
    """The AWS engine as it will be once it keeps session rollups: every whole day rolled up,
    so the statements over rollup tables are sent too."""

    def session_rollup(self, site_id: str, first: date, last: date) -> Rollup | None:
        return Rollup(first, last)


def stats_v1_cases() -> list[tuple[str, StatsQuery]]:
    """tests/integration/test_stats_exact.py's queries, as (service function, query)."""

    def query(days: DateRange = ALL_DAYS, **kw: Any) -> StatsQuery:
        return StatsQuery(site_id="example.com", date_range=days, metrics=METRICS, **kw)

    one = DateRange(date(2026, 3, 10), date(2026, 3, 10))
    cases = [("aggregate", query()), ("aggregate", query(one))]
    dimensions = ["visit:source", "visit:entry_page", "visit:exit_page", "visit:utm_source"]
    dimensions += ["visit:utm_medium", "visit:browser", "visit:os", "visit:device"]
    dimensions += ["visit:country", "event:page"]
    cases += [("breakdown", query(dimension=d, limit=1000)) for d in dimensions]
    for dimension in (None, "visit:source", "visit:country", "event:page"):
        for metric in METRICS:
            q = replace(query(dimension=dimension, limit=1000), metrics=(metric,))
            cases.append(("breakdown" if dimension else "aggregate", q))
    event_metrics = ("visitors", "pageviews", "events")
    for dimension in ("event:name", "event:props:plan"):
        q = replace(query(dimension=dimension, limit=1000), metrics=event_metrics)
        cases.append(("breakdown", q))
    filters = [
        Filter("event:page", "is", ("/pricing",)),
        Filter("event:page", "is_not", ("/pricing", "/")),
        Filter("event:page", "contains", ("BLOG",)),
        Filter("event:page", "contains_not", ("o",)),
        Filter("visit:source", "is", ("Google",)),
        Filter("visit:entry_page", "is", ("/",)),
        Filter("event:props:plan", "is", ("pro",)),
        Filter("visit:country", "is_not", ("DE",)),
    ]
    cases += [("aggregate", query(filters=(f,))) for f in filters]
    cases.append(("timeseries", replace(query(interval="day"), metrics=event_metrics)))
    cases.append(("timeseries", replace(query(one, interval="hour"), metrics=("pageviews",))))
    pages_filters: list[tuple[Filter, ...]] = [
        (),
        (Filter("visit:device", "is", ("desktop",)),),
        (Filter("event:page", "contains", ("o",)), Filter("visit:country", "is_not", ("DE",))),
    ]
    for fs in pages_filters:
        q = StatsQuery("example.com", ALL_DAYS, event_metrics, dimension="event:page", filters=fs)
        cases.append(("breakdown", q))
    pages = Filter("event:page", "is", ("/", "/pricing"))
    cases.append(
        ("aggregate", StatsQuery("example.com", ALL_DAYS, event_metrics, filters=(pages,)))
    )
    return cases


def query_v2_bodies() -> list[dict[str, Any]]:
    """tests/integration/test_query_v2_exact.py's request bodies."""
    filter_trees: list[list[Any]] = [
        [["or", [["is", "event:page", ["/docs"]], ["contains", "event:page", ["blog"]]]]],
        [["not", ["is", "visit:device", ["mobile"]]], ["is_not", "visit:source", ["Google"]]],
        [["matches", "event:page", ["^/(docs|signup)$"]]],
        [["matches_not", "event:page", ["^/"]]],
        [["has_done", ["is", "event:name", ["Signup"]]]],
        [["has_not_done", ["is", "event:page", ["/pricing"]]]],
        [["has_done", ["is", "event:goal", ["Pricing page"]]]],
        [
            [
                "and",
                [["is", "visit:channel", ["Organic Search"]], ["is", "event:props:plan", ["pro"]]],
            ]
        ],
    ]
    engagement = ["scroll_depth", "time_on_page", "total_revenue", "average_revenue"]
    return [
        {"metrics": [*BASIC, "views_per_visit", *engagement]},
        {"metrics": BASIC, "dimensions": ["visit:source", "visit:device"]},
        {"metrics": ["visitors", "visits"], "dimensions": ["visit:channel"]},
        *({"metrics": BASIC, "filters": f} for f in filter_trees),
        {
            "metrics": ["visitors", "events", "conversion_rate", "total_revenue"],
            "dimensions": ["event:goal"],
        },
        {  # tests/integration/test_goal_filter.py
            "metrics": ["visitors", "group_conversion_rate", "conversion_rate", "events"],
            "dimensions": ["visit:source"],
            "filters": [["contains", "event:goal", ["sign"]]],
        },
        {
            "metrics": ["visitors", "percentage"],
            "dimensions": ["event:page"],
            "order_by": [["event:page", "asc"]],
            "pagination": {"limit": 2, "offset": 1},
            "include": {"total_rows": True},
        },
        {
            "metrics": ["visitors", "visits"],
            "dimensions": ["time:day"],
            "include": {"time_labels": True},
        },
        {
            "metrics": ["visitors", "pageviews", "bounce_rate"],
            "date_range": ["2026-03-11", "2026-03-12"],
            "include": {"comparisons": {"mode": "previous_period"}},
        },
        {
            "metrics": ["pageviews"],
            "date_range": ["2026-03-10T06:00:00+00:00", "2026-03-10T17:59:59.999+00:00"],
        },
        {"metrics": ["visitors"], "dimensions": ["event:props:plan"], "order_by": []},
    ]


MOBILE = [["is", "visit:device", ["mobile"]]]
SIGNED_UP = [["has_done", ["is", "event:name", ["Signup"]]]]
GOOGLE_OR_DOCS = [["or", [["is", "visit:source", ["Google"]], ["is", "event:page", ["/docs"]]]]]
FUNNELS: list[tuple[list[dict[str, Any]], int, str, list[Any]]] = [
    ([{"page": "/"}, {"event": "Signup", "props": {"plan": "pro"}}], 1440, "ordered", []),
    ([{"page": "/"}, {"page": "/pric*"}, {"event": "Purchase"}], 30, "ordered", []),
    ([{"page": "/pricing"}, {"event": "Purchase"}], 1440, "strict", []),
    ([{"page": "/*"}, {"page": "/*"}, {"page": "/*"}], 60, "strict", []),
    ([{"page": "/*"}] * 8, 43200, "ordered", []),
    ([{"page": "/docs"}, {"page": "/signup"}, {"event": "Signup"}], 1440, "ordered", MOBILE),
    ([{"page": "/"}, {"page": "/blog/*"}], 1440, "ordered", SIGNED_UP),
    ([{"event": "Signup"}, {"page": "/"}], 120, "ordered", GOOGLE_OR_DOCS),
]
SEQUENCES: list[tuple[list[dict[str, Any]], list[Any]]] = [
    ([{"page": "/"}, {"event": "Signup"}], []),
    ([{"page": "/pricing"}, {"page": "/docs"}, {"page": "/"}], []),
    ([{"event": "Signup", "props": {"plan": "free"}}, {"event": "Purchase"}], MOBILE),
]


def run_behaviour(engine: AthenaEngine) -> None:
    """tests/integration/test_behaviour_exact.py's requests."""
    scope: dict[str, Any] = {"site_id": "example.com", "date_range": ALL}
    body: dict[str, Any]
    for steps, window, order, filters in FUNNELS:
        body = {**scope, "steps": steps, "filters": filters}
        q = behaviour_query.parse_funnel({**body, "window_minutes": window, "order": order}, GOALS)
        behaviour.run_funnel(engine, q)
    for steps, filters in SEQUENCES:
        for unit in ("visitors", "visits"):
            body = {**scope, "steps": steps, "filters": filters, "unit": unit}
            behaviour.run_sequence(engine, behaviour_query.parse_sequence(body, GOALS))
    for direction in ("next", "previous"):
        for page, filters, limit in (("/", [], 100), ("/pricing", [], 3), ("/blog/*", MOBILE, 9)):
            body = {**scope, "filters": filters, "direction": direction, "limit": limit}
            behaviour.run_journeys(
                engine, behaviour_query.parse_journey({**body, "page": page}, {})
            )
    for n, start, filters, limit in ((2, None, [], 100), (4, "/", SIGNED_UP, 5)):
        body = {**scope, "filters": filters, "steps": n, "start_page": start, "limit": limit}
        behaviour.run_paths(engine, behaviour_query.parse_paths(body, {}))
    for period in ("week", "day"):
        retention = behaviour_query.parse_retention({**scope, "period": period})
        behaviour.run_retention(engine, retention, enabled=True)
    behaviour.run_realtime(engine, "example.com", datetime(2026, 3, 10, 12, tzinfo=UTC), [])


def run_builders(engine: AthenaEngine) -> None:
    """Every case of the exact tests and of the statement tests, through the services."""
    for function, q in stats_v1_cases():
        getattr(service, function)(engine, q)
    for q in test_sql_statements.statements():
        st = service.statement(engine, q)
        engine.query(st.sql, st.params)
    for body in query_v2_bodies():
        request = {"site_id": "example.com", "date_range": ALL, **body}
        q = parse_query(request, GOALS, date(2026, 3, 20))
        run_query(engine, q, parse_include(body.get("include")), date(2026, 3, 20))
    run_behaviour(engine)
    for _, st in test_behaviour_sql.statements():
        engine.query(st.sql, st.params)


def run_jobs(engine: AthenaEngine) -> None:
    """The daily rollups (whole and in visitor buckets) and the live day's merges."""
    day = date(2026, 3, 10)
    for bucket in (WHOLE_DAY, VisitorBucket(3, 4)):
        for rollup in (rollup_statement, page_rollup_statement):
            st = rollup(site_id="example.com", day=day, bucket=bucket)
            engine.query(st.sql, st.params)
    site_day = ["example.com", day.isoformat()]
    engine.query(live_sql.late_events(), site_day)
    engine.query(live_sql.merged_sessions(), site_day * 2)
    engine.query(live_sql.merged_pages(), site_day)


def run_http(engine: AthenaEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stats Lambda's whole HTTP surface (tests/infra/test_athena_sql.py's walk), so SQL
    written inline in a route (the raw export, the dashboard's property keys) is sent too."""
    monkeypatch.setattr(wiring, "build_engine", lambda settings: engine)
    wiring.reset()
    token, _ = create_key(wiring.ports().keys, ("*",), "athena validity")
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    spec = json.loads(stats(http_event("GET", "/api/openapi.json"), Context())["body"])
    for method, path, body, query in requests(spec):
        payload = json.dumps(body) if body else None
        stats(http_event(method, path, body=payload, headers=headers, query=query), Context())


@pytest.mark.slow  # every statement through the Trino grammar (node): not in the fast loop
def test_athena_takes_every_statement_the_aws_back_end_sends(
    local_env, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = RecordingConnection()
    plain = AthenaEngine("wg", "db", lambda **_: connection, timeout_seconds=60)
    rolled_up = RolledUpAthena("wg", "db", lambda **_: connection, timeout_seconds=60)
    for engine in (plain, rolled_up):
        run_builders(engine)
    run_jobs(plain)
    run_http(plain, monkeypatch)
    for _, sql in named_queries("example.com").values():
        plain.query(sql, [])
    assert any("UNNEST(map_keys(props))" in sql for sql in connection.sent)  # dashboard
    assert any(sql.startswith("SELECT ts, name") for sql in connection.sent)  # raw export

    statements = sorted(set(connection.sent))
    print(f"\n{len(statements)} distinct statements checked against Athena's rules")
    assert len(statements) >= MINIMUM_STATEMENTS
    violations = athena_violations(statements)
    broken = {sql for sql, _ in violations}
    ungrammatical = {sql for sql, reason in violations if reason.startswith("Trino grammar")}
    misplaced = {sql for sql, reason in violations if reason.startswith("parameter outside")}
    aliased = {sql for sql, reason in violations if reason.startswith("GROUP BY")}
    report = "\n".join(f"- {reason}\n  in: {sql[:160]!r}" for sql, reason in violations[:25])
    assert not violations, (
        f"{len(broken)} of {len(statements)} statements break Athena's rules: "
        f"{len(ungrammatical)} are not Trino's grammar, {len(misplaced)} have a `?` outside "
        f"WHERE, {len(aliased)} group by a SELECT alias ({len(violations)} violations):\n{report}"
    )


def test_the_rules_catch_what_athena_refuses() -> None:
    """The checker itself: what Athena refuses, and the same statements made right."""
    refused = [
        "SELECT a FROM t WHERE b = ? ORDER BY a LIMIT 5 OFFSET 10",
        "SELECT ? AS goal_name, * FROM t WHERE b = 1",
        "SELECT element_at(props, ?) FROM t GROUP BY 1",
        "SELECT * FROM t JOIN u ON t.a = u.a AND u.b <= ?",
        "SELECT max(CASE WHEN name = ? THEN 1 ELSE 0 END) OVER (PARTITION BY a) FROM t",
        "SELECT count(*) FILTER (WHERE name = ?) FROM t",
        "SELECT a FROM t WHERE a IN (SELECT ? FROM u)",
        "SELECT coalesce(a, '') AS k0, count(*) AS n FROM t GROUP BY k0",
    ]
    taken = [
        "SELECT a FROM t WHERE b = ? ORDER BY a OFFSET 10 LIMIT 5",
        "WITH s AS (SELECT * FROM t WHERE b = ? AND c LIKE ? ESCAPE '\\') SELECT 'it''s' FROM s",
        "SELECT * FROM t JOIN (SELECT * FROM u WHERE b <= ?) v ON t.a = v.a WHERE t.c = ?",
        "SELECT coalesce(a, '') AS k0, m.k1 AS k1, count(*) AS n FROM m GROUP BY 1, k1",
    ]
    violations = athena_violations(refused + taken)
    assert {sql for sql, _ in violations} == set(refused)
    assert any("OFFSET" in reason for _, reason in violations)


# Texts that would end a badly quoted literal, or a str.format template, or look like a `?`.
HOSTILE_TEXTS = [
    "it's",
    "ends in a backslash\\",
    "x\\' OR 1=1 --",
    "'); DROP TABLE events; --",
    "ünïcödé ✓ 日本 \u2028 🙂",
    "{ts} {0} {",
    "what?",
]


def test_goal_names_are_inlined_as_one_literal_and_props_keys_stay_parameters(tmp_path) -> None:
    """A goal's name is output (a SELECT list, where Athena takes no parameter), so it is
    inlined: it must come back as exactly itself, in Athena's parse and in DuckDB. A props key
    a breakdown groups by is user text: it stays a parameter, in a WHERE."""
    engine = local_engine(tmp_path)
    days = DateRange(date(2026, 1, 1), date(2026, 1, 31))
    statements = []
    for text in HOSTILE_TEXTS:
        literal = string_literal(text)
        assert duckdb.execute(athena_to_duckdb(f"SELECT {literal} AS v")).fetchall() == [(text,)]
        goals = (Goal(text, event="Signup"),)
        by_goal = build(
            StatsQuery("example.com", days, ("visitors",), dimension="event:goal", goals=goals)
        )
        (tree,) = sqlglot.parse(by_goal.sql, read="athena")
        assert tree is not None
        strings = [lit.this for lit in tree.find_all(sqlglot.exp.Literal) if lit.is_string]
        assert text in strings, text
        assert text not in by_goal.params
        by_key = build(
            StatsQuery("example.com", days, ("visitors",), dimension=f"event:props:{text}")
        )
        assert text in by_key.params and literal not in by_key.sql, text
        for st in (by_goal, by_key):
            assert engine.query(st.sql, st.params) == [], text
            statements.append(st.sql)
    assert athena_violations(statements) == []
