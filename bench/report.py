"""The tables of docs/BENCHMARKS.md, from one run's results (bench/out/results.json).

The doc's prose is hand-written Markdown; this module writes tables only, each into its
`<!-- generated:NAME -->` … `<!-- /generated:NAME -->` block (bench/docblocks.py), leaving
everything else as it is. `bench/run` calls `write` after measuring; after changing this file,
`.venv/bin/python -m bench.report` rewrites the tables from the last run's results.

Blocks written here: `BLOCKS`. Other blocks of the same doc belong to bench/package_sizes.py,
bench/dashboard_load.py and bench/resource_checks.py (bench/README.md lists them all).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from beaconlake import cost
from bench import clickhouse_report, scale_report
from bench.docblocks import replace_generated, table

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "BENCHMARKS.md"
RESULTS = ROOT / "bench" / "out" / "results.json"
FIREHOSE_RTT_MS = 15.0  # assumed PutRecordBatch round trip inside the region (not measurable here)
STATS_MS = 2000.0  # assumed Athena latency the stats Lambda waits for, per query
VOLUMES = (1_000_000, 10_000_000, 100_000_000)
TARGET_VOLUME = 10_000_000
LOADS = 200
MB = 2**20
SCALES = (1_000_000, 10_000_000)  # bench.main.SCALES: one `queries-<n>m` block each
BLOCKS = (
    "run",
    "targets",
    "collector",
    "coldstart",
    "coldstart-imports",
    "coldstart-steps",
    "http",
    *(f"queries-{n // 1_000_000}m" for n in SCALES),
    "clickhouse",
    "storage",
    "athena",
    "cost",
    "memory",
    "http-profile",
    "http-cpu",
    "query-profile",
)


def _ok(met: bool) -> str:
    return "met" if met else "**missed**"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def _facts(rows: list[tuple[str, str]]) -> str:
    return table(["figure", "value"], [[name, value] for name, value in rows])


def usage(r: dict[str, Any], events: int) -> cost.Usage:
    """The cost model's inputs, from this run's measurements (and two stated assumptions)."""
    big = r["queries"][max(r["queries"])]
    rows = big["rows"]
    return cost.Usage.deployed(
        json.loads((ROOT / "cdk.json").read_text())["context"],
        events_per_month=events,
        dashboard_loads=LOADS,
        record_bytes=round(r["storage"]["json"]["bytes_per_event"]),
        collect_ms=r["coldstart"]["collect"]["warm_ms"] + FIREHOSE_RTT_MS,
        stats_ms=STATS_MS,
        parquet_bytes_per_event=r["storage"]["parquet_bytes_per_event"],
        scan_bytes_per_event=tuple(a["bytes"] / rows for a in r["athena"]),
    )


def targets(r: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    c, cs, h = r["collector"], r["coldstart"], r["http"]
    q = r["queries"][max(r["queries"])]
    d, p = q["duckdb"], q["postgres"]
    small = r["queries"][min(r["queries"])]
    per_m = cost.per_million_events(usage(r, TARGET_VOLUME))
    serve_anon = max(_anon_mb(h["serve"]), _anon_mb(r["serve_dashboard"]))
    warm, cold = c["warm"]["median_us"], c["cold"]["median_us"]
    parquet = r["storage"]["parquet_bytes_per_event"]
    return [
        ("1 collector, warm UA cache", "median ≤ 50 µs", f"{warm:.0f} µs", warm <= 50),
        ("1 collector, cold UA cache", "median ≤ 500 µs", f"{cold:.0f} µs", cold <= 500),
        (
            "2 collector cold start",
            "≤ 1.5 x floor",
            f"{cs['collect']['ratio']:.2f} x",
            cs["collect"]["ratio"] <= 1.5,
        ),
        ("2 stats cold start", "reported", f"{cs['stats']['ratio']:.2f} x", None),
        ("3 HTTP ingest vs bare uvicorn", "≥ 50 %", f"{100 * h['ratio']:.0f} %", h["ratio"] >= 0.5),
        ("3 events lost", "0", f"{h['lost']}", h["lost"] == 0),
        ("4 dashboard set, 10 M events", "≤ 1.0 s", _ms(d["dashboard_s"]), d["dashboard_s"] <= 1.0),
        ("4 funnel, 10 M events", "≤ 2.0 s", _ms(d["funnel_s"]), d["funnel_s"] <= 2.0),
        (
            "4 DuckDB vs PostgreSQL, dashboard, 1 M",
            "≥ 10 x",
            f"{small['postgres']['dashboard_s'] / small['duckdb']['dashboard_s']:.1f} x",
            small["postgres"]["dashboard_s"] >= 10 * small["duckdb"]["dashboard_s"],
        ),
        (
            "4 DuckDB vs PostgreSQL, dashboard, 10 M",
            "≥ 10 x",
            _ratio_text(p, d),
            p["dashboard_s"] >= 10 * d["dashboard_s"],
        ),
        ("5 Parquet at 10 M events", "≤ 30 B/event", f"{parquet:.1f} B", parquet <= 30),
        ("7 cost per million events (10 M/month)", "≤ $2", f"${per_m:.2f}", per_m <= 2),
        (
            "8 collector process peak RSS",
            "≤ 64 MB (half of 128)",
            f"{c['peak_rss_mb']:.0f} MB",
            c["peak_rss_mb"] <= 64,
        ),
        (
            "8 `beaconlake serve` peak RSS, anonymous part (fig. 3, 4)",
            "≤ 300 MB",
            f"{serve_anon:.0f} MB",
            serve_anon <= 300,
        ),
        (
            "8 stats handler, dashboard on 10 M",
            "reported",
            f"{r['stats_handler']['answered']['peak_rss_mb']:.0f} MB",
            None,
        ),
    ]


def _ratio_text(p: dict[str, Any], d: dict[str, Any]) -> str:
    prefix = "≥ " if p.get("timed_out") else ""
    return f"{prefix}{p['dashboard_s'] / d['dashboard_s']:.1f} x"


def _run(r: dict[str, Any]) -> str:
    m = r["machine"]
    return _facts(
        [
            ("date", m["date"]),
            (
                "wall time, start to end",
                f"{r['wall_s'] / 60:.1f} min"
                if "wall_s" in r
                else f"> {r['total_s'] / 60:.1f} min (only the figures' stages were timed)",
            ),
            ("of which the figures' stages", f"{r['total_s'] / 60:.1f} min"),
            (
                "machine",
                f"{m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB RAM, Linux {m['kernel']}",
            ),
            (
                "software",
                f"Python {m['python']}, DuckDB {m['duckdb']}, pyarrow {m['pyarrow']}, "
                f"{m['postgres']}, wrk {m['wrk']}",
            ),
        ]
    )


def _targets(r: dict[str, Any]) -> str:
    rows = [
        [name, target, got, "—" if met is None else _ok(met)]
        for name, target, got, met in targets(r)
    ]
    return table(["figure", "target", "measured", ""], rows)


def _collector(r: dict[str, Any]) -> str:
    c = r["collector"]
    timed = table(
        ["cache", "beacons timed", "median", "p99"],
        [
            [k, f"{c[k]['n']:,}", f"{c[k]['median_us']:.0f} µs", f"{c[k]['p99_us']:.0f} µs"]
            for k in ("warm", "cold")
        ],
    )
    facts = _facts(
        [
            ("distinct beacons from the demo generator", f"{c['beacons']:,}"),
            ("real user agents in its weights", f"{c['distinct_uas']}"),
            ("stored (the rest: bots, DNT)", f"{100 * c['stored_share']:.0f} %"),
        ]
    )
    return f"{timed}\n\n{facts}"


def _coldstart(r: dict[str, Any]) -> str:
    cs = r["coldstart"]
    rows = [
        [
            'floor: `import boto3; boto3.client("firehose")`',
            _ms(cs["floor"]["median_s"]),
            "1.00 x",
            "—",
        ]
    ]
    for kind, label in (
        ("collect", "collector: import handler + first event"),
        ("stats", "stats: import handler + first request"),
        ("collect_source", "collector, layers without bytecode"),
    ):
        k = cs[kind]
        rows.append([label, _ms(k["median_s"]), f"{k['ratio']:.2f} x", f"{k['warm_ms']:.2f} ms"])
    children = table(["child", "median", "vs floor", "then warm, per event"], rows)
    facts = _facts([("rounds counted", f"{cs['rounds']}"), ("back end", cs["backend"])])
    return f"{children}\n\n{facts}"


def _coldstart_imports(r: dict[str, Any]) -> str:
    return table(
        ["package", "import time (self)"],
        [[name, f"{ms:.0f} ms"] for name, ms in r["coldstart"]["collect_imports"]],
    )


def _coldstart_steps(r: dict[str, Any]) -> str:
    return table(
        ["step", "median"],
        [[step, _ms(seconds)] for step, seconds in r["coldstart"]["collect_steps"].items()],
    )


def _http(r: dict[str, Any]) -> str:
    h = r["http"]
    rows = []
    for key, label in (("bare", "bare uvicorn app (202 only)"), ("serve", "`beaconlake serve`")):
        m = h[key]["measured"]
        rows.append(
            [
                label,
                f"{m['events_per_s']:,.0f}",
                f"{m['p50_ms']:.1f} ms",
                f"{m['p99_ms']:.1f} ms",
                f"{m['cpu_us_per_request']['main']:.0f} µs + "
                f"{m['cpu_us_per_request']['other']:.0f} µs",
                f"{h[key]['peak_rss_mb']:.0f} MB",
            ]
        )
    servers = table(
        ["server", "events/s", "p50", "p99", "CPU per request (event loop + rest)", "peak RSS"],
        rows,
    )
    facts = _facts(
        [
            ("wrk", f"1 thread, {h['connections']} connections"),
            ("rounds", f"{h['rounds']} of {h['seconds']} s per server"),
            ("`serve` / bare, median of the rounds", f"{100 * h['ratio']:.0f} %"),
            ("each round", ", ".join(f"{100 * x:.0f} %" for x in h["ratios"])),
            ("requests sent", f"{h['sent']:,}"),
            ("answered 202 and stored (the rest: bots)", f"{h['accepted']:,}"),
            ("rows in Parquet after a graceful stop", f"{h['rows']:,}"),
            ("lost", f"{h['lost']}"),
        ]
    )
    return f"{servers}\n\n{facts}"


def _pg(label: str, seconds: float, p: dict[str, Any], timeout_s: int) -> str:
    if label in p["timed_out"]:
        return f"> {timeout_s} s (cut off)"
    return _ms(seconds)


def _queries(r: dict[str, Any], q: dict[str, Any]) -> str:
    d, p = q["duckdb"], q["postgres"]
    rows = []
    for label, secs in d["per_query_s"].items():
        pg = p["per_query_s"][label]
        ratio = f"{'≥ ' if label in p['timed_out'] else ''}{pg / secs:.1f} x"
        rows.append([label, _ms(secs), _pg(label, pg, p, q["pg_statement_timeout_s"]), ratio])
    rows.append(
        [
            "**dashboard set**",
            f"**{_ms(d['dashboard_s'])}**",
            f"**{'> ' if p['timed_out'] else ''}{_ms(p['dashboard_s'])}**",
            f"**{_ratio_text(p, d)}**",
        ]
    )
    timings = table(["query", "DuckDB", "PostgreSQL", "PG / DuckDB"], rows)
    rollup = q["rollup"]
    facts = _facts(
        [
            ("events", f"{q['rows']:,}"),
            ("DuckDB memory limit", f"{r['duckdb_memory_limit']}"),
            (
                "DuckDB runs (medians)",
                f"{d['runs']}" + (", after a warm-up pass" if q["duckdb_warmup"] else ""),
            ),
            ("PostgreSQL runs (medians)", f"{p['runs']}"),
            (
                "rollups written in",
                f"{rollup['build_s']:.1f} s ({rollup['sessions']:,} sessions, "
                f"{rollup['bytes'] / 1e6:.1f} MB)",
            ),
            ("PostgreSQL load + indexes", f"{q['pg_load']['seconds']:.0f} s"),
            ("PostgreSQL statements cut off after", f"{q['pg_statement_timeout_s']} s"),
            (
                "results",
                "agree (where both finished)"
                if not q["results_differ"]
                else f"differ: {', '.join(q['results_differ'])}",
            ),
        ]
    )
    return f"{facts}\n\n{timings}"


def _storage(r: dict[str, Any]) -> str:
    s = r["storage"]
    return table(
        ["form", "bytes per event"],
        [
            [
                f"Parquet, ZSTD, {s['files']} files ({s['rows']:,} events)",
                f"{s['parquet_bytes_per_event']:.1f}",
            ],
            [
                f"JSON lines as sent to Firehose (sample of {s['json']['sample_rows']:,})",
                f"{s['json']['bytes_per_event']:.0f}",
            ],
            ["the same JSON lines, gzip -6", f"{s['json']['gzip_bytes_per_event']:.1f}"],
            ["PostgreSQL table", f"{s['pg_table_bytes_per_event']:.0f}"],
            [
                "PostgreSQL table + indexes",
                f"{s['pg_table_bytes_per_event'] + s['pg_index_bytes_per_event']:.0f}",
            ],
        ],
    )


def _athena(r: dict[str, Any]) -> str:
    price = cost.PRICES["athena_tb"]
    rows, total = [], 0.0
    for a in r["athena"]:
        billed = cost.athena_billed_bytes(a["bytes"])
        usd = billed / cost.TB * price.usd
        total += usd
        rows.append(
            [
                a["label"],
                ", ".join(a["columns"]),
                f"{a['bytes'] / MB:.1f} MB",
                f"{billed / MB:.1f} MB",
                f"${usd:.5f}",
            ]
        )
    rows.append(["**dashboard load**", "", "", "", f"**${total:.4f}**"])
    scans = table(["query", "columns read", "scanned", "billed", "cost"], rows)
    pricing = table(
        ["Athena price", "billed at least", "source", "read"],
        [[f"${price.usd:.2f} per TB", "10 MB per query", price.source, price.read_on]],
    )
    return f"{scans}\n\n{pricing}"


def _cost(r: dict[str, Any]) -> str:
    rows = []
    for n in VOLUMES:
        u = usage(r, n)
        rows.append(
            [
                f"{n:,}",
                f"${cost.total(cost.monthly_cost(u)):,.2f}",
                f"${cost.per_million_events(u):.2f}",
            ]
        )
    return table(["events a month", "month", "per million events"], rows)


def _failed(d: dict[str, Any]) -> str:
    failed = sum(s != 200 for s in d["statuses"])
    return f"; {failed} of {len(d['statuses'])} requests failed" if failed else ""


def _anon_mb(d: dict[str, Any]) -> float:
    """A process's peak anonymous RSS; its whole peak RSS (a bound) where it was not sampled."""
    return float(d.get("memory", {}).get("anon_mb", d["peak_rss_mb"]))


def _memory_row(process: str, during: str, d: dict[str, Any]) -> list[str]:
    parts = d.get("memory")
    split = (
        [f"{parts[k]:.0f} MB" for k in ("anon_mb", "file_mb", "shmem_mb")]
        if parts
        else ["—", "—", "—"]
    )
    return [process, during, f"{d['peak_rss_mb']:.0f} MB", *split]


def _memory(r: dict[str, Any]) -> str:
    sh, sd = r["stats_handler"], r["serve_dashboard"]
    processes = table(
        ["process", "while", "peak RSS", "anonymous", "file-backed", "shared"],
        [
            _memory_row("collector (figure 1 child)", "figure 1", r["collector"]),
            _memory_row(
                "collector handler (cold-start child)",
                "first event + warm events",
                r["coldstart"]["collect"],
            ),
            _memory_row(
                "stats handler (Mangum + FastAPI + DuckDB)",
                f"first dashboard on 10 M (rollup written), limit {sh['answered']['memory_limit']}",
                sh["answered"],
            ),
            _memory_row("`beaconlake serve`", "figure 3 load", r["http"]["serve"]),
            _memory_row(
                "`beaconlake serve`",
                f"first dashboard on 10 M, rollups written during it "
                f"({_ms(sd['seconds'])}{_failed(sd)}), limit {sd['memory_limit']}",
                sd,
            ),
        ],
    )
    tried = table(
        ["DuckDB memory limit", "stats handler, dashboard on 10 M"],
        [
            [
                t["memory_limit"],
                "answered"
                if all(s == 200 for s in t["statuses"])
                else f"failed ({', '.join(str(s) for s in t['statuses'])})",
            ]
            for t in sh["tried"]
        ],
    )
    return f"{processes}\n\n{tried}"


def _http_profile(r: dict[str, Any]) -> str:
    prof = r["http"]["serve"]["profile"]
    return table(["function", "samples"], [[f"`{f}`", f"{pct:.0f} %"] for f, pct in prof])


def _http_cpu(r: dict[str, Any]) -> str:
    bare = r["http"]["bare"]["measured"]["cpu_us_per_request"]["main"]
    serve = r["http"]["serve"]["measured"]["cpu_us_per_request"]["main"]
    return table(
        ["event loop CPU per request", "µs"],
        [
            ["bare app", f"{bare:.0f}"],
            ["`serve`", f"{serve:.0f}"],
            ["`serve`'s own part (`serve` - bare)", f"{serve - bare:.0f}"],
            ["all of it at half the bare rate (2 x bare)", f"{2 * bare:.0f}"],
            ["so `serve`'s own part must fit in", f"{bare:.0f}"],
        ],
    )


def _query_profile(r: dict[str, Any]) -> str:
    op = r["queries"][max(r["queries"])]["duckdb_profile"]
    facts = _facts([("statement", op["label"]), ("alone, 10 M events", _ms(op["seconds"]))])
    operators = table(
        ["operator", "share"], [[name, f"{pct:.0f} %"] for name, pct in op["operators"]]
    )
    return f"{facts}\n\n{operators}"


def tables(r: dict[str, Any]) -> dict[str, str]:
    """Block name → its Markdown, for every block in `BLOCKS`."""
    r = {**r, "queries": {int(n): q for n, q in r["queries"].items()}}
    out = {
        "run": _run(r),
        "targets": _targets(r),
        "collector": _collector(r),
        "coldstart": _coldstart(r),
        "coldstart-imports": _coldstart_imports(r),
        "coldstart-steps": _coldstart_steps(r),
        "http": _http(r),
        **{f"queries-{n // 1_000_000}m": _queries(r, r["queries"][n]) for n in SCALES},
        "clickhouse": clickhouse_report.block(r),
        "storage": _storage(r),
        "athena": _athena(r),
        "cost": _cost(r),
        "memory": _memory(r),
        "http-profile": _http_profile(r),
        "http-cpu": _http_cpu(r),
        "query-profile": _query_profile(r),
    }
    assert tuple(out) == BLOCKS
    return out


def write(r: dict[str, Any], doc: Path = DOC) -> None:
    for name, markdown in tables(r).items():
        replace_generated(doc, name, markdown)
    scale_report.write(r, doc)  # the 100 M section, if `bench/run --scale 100m` has run


if __name__ == "__main__":
    write(json.loads(RESULTS.read_text()))
