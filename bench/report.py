"""docs/BENCHMARKS.md from one run's results (bench/out/results.json); docs/COST.md's tables
are bench/cost_tables.py's.

The package-size section of BENCHMARKS.md belongs to bench/package_sizes.py: it is read from
the old file and put back unchanged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from beaconlake import cost

PKG_START, PKG_END = "<!-- package-sizes:start -->", "<!-- package-sizes:end -->"
FIREHOSE_RTT_MS = 15.0  # assumed PutRecordBatch round trip inside the region (not measurable here)
STATS_MS = 2000.0  # assumed Athena latency the stats Lambda waits for, per query
VOLUMES = (1_000_000, 10_000_000, 100_000_000)
TARGET_VOLUME = 10_000_000
LOADS = 200
MB = 2**20


def _ok(met: bool) -> str:
    return "met" if met else "**missed**"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(r) + " |" for r in rows]


def usage(r: dict[str, Any], events: int) -> cost.Usage:
    """The cost model's inputs, from this run's measurements (and two stated assumptions)."""
    big = r["queries"][max(r["queries"])]
    rows = big["rows"]
    return cost.Usage.deployed(
        json.loads((Path(__file__).resolve().parent.parent / "cdk.json").read_text())["context"],
        events_per_month=events,
        dashboard_loads=LOADS,
        record_bytes=round(r["storage"]["json"]["bytes_per_event"]),
        collect_ms=r["coldstart"]["collect"]["warm_ms"] + FIREHOSE_RTT_MS,
        stats_ms=STATS_MS,
        parquet_bytes_per_event=r["storage"]["parquet_bytes_per_event"],
        scan_bytes_per_event=tuple(a["bytes"] / rows for a in r["athena"]),
    )


def _other_sections(path: Path) -> str:
    """The `<!-- name:start -->…<!-- name:end -->` sections other bench scripts write
    (package sizes, dashboard load, soak), kept as they are; a placeholder for package sizes."""
    old = path.read_text() if path.exists() else ""
    found = [
        m.group(0) for m in re.finditer(r"<!-- ([a-z-]+):start -->.*?<!-- \1:end -->", old, re.S)
    ]
    if not any(f.startswith(PKG_START) for f in found):
        found.insert(0, f"{PKG_START}\n(written by bench/package_sizes.py)\n{PKG_END}")
    return "\n\n".join(found)


def targets(r: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    c, cs, h = r["collector"], r["coldstart"], r["http"]
    q = r["queries"][max(r["queries"])]
    d, p = q["duckdb"], q["postgres"]
    small = r["queries"][min(r["queries"])]
    per_m = cost.per_million_events(usage(r, TARGET_VOLUME))
    serve_rss = max(h["serve"]["peak_rss_mb"], r["serve_dashboard"]["peak_rss_mb"])
    return [
        (
            "1 collector, warm UA cache",
            "median ≤ 50 µs",
            f"{c['warm']['median_us']:.0f} µs",
            c["warm"]["median_us"] <= 50,
        ),
        (
            "1 collector, cold UA cache",
            "median ≤ 500 µs",
            f"{c['cold']['median_us']:.0f} µs",
            c["cold"]["median_us"] <= 500,
        ),
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
        (
            "5 Parquet at 10 M events",
            "≤ 30 B/event",
            f"{r['storage']['parquet_bytes_per_event']:.1f} B",
            r["storage"]["parquet_bytes_per_event"] <= 30,
        ),
        ("7 cost per million events (10 M/month)", "≤ $2", f"${per_m:.2f}", per_m <= 2),
        (
            "8 collector process peak RSS",
            "≤ 64 MB (half of 128)",
            f"{c['peak_rss_mb']:.0f} MB",
            c["peak_rss_mb"] <= 64,
        ),
        (
            "8 `beaconlake serve` peak RSS (fig. 3, 4)",
            "≤ 300 MB",
            f"{serve_rss:.0f} MB",
            serve_rss <= 300,
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


def benchmarks_md(r: dict[str, Any], package_section: str) -> str:
    m = r["machine"]
    lines = [
        "# Benchmarks",
        "",
        "<!-- Written by bench/run from its own measurements; edit bench/, not this file. -->",
        "",
        f"Command: `bench/run` (installs what it needs, then runs every figure; this run took "
        f"{r['total_s'] / 60:.1f} min). Run on {m['date']}.",
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB RAM, Linux "
        f"{m['kernel']}; Python {m['python']}, DuckDB {m['duckdb']}, pyarrow {m['pyarrow']}, "
        f"{m['postgres']}, wrk {m['wrk']}. The CPU is shared with other work, so every time is a "
        "median of several runs and every ratio compares runs made side by side in this run.",
        "",
        "## Targets",
        "",
    ]
    rows = [
        [name, target, got, "—" if met is None else _ok(met)]
        for name, target, got, met in targets(r)
    ]
    lines += _table(["figure", "target", "measured", ""], rows)
    lines += [
        "",
        *_collector(r),
        *_coldstart(r),
        *_http(r),
        *_queries(r),
        *_storage(r),
        *_athena(r),
    ]
    lines += [*_cost(r), *_memory(r), *_limits(r), "", package_section, ""]
    return "\n".join(lines)


def _collector(r: dict[str, Any]) -> list[str]:
    c = r["collector"]
    return [
        "## 1. Collector work per beacon",
        "",
        f"`receive_event` in process (decode, validate, bot/DNT rules, UA, visitor hash, the "
        f"Event row, its JSON line; the sink only serialises), on {c['beacons']:,} beacons from "
        f"the demo generator ({c['distinct_uas']} real user agents in its weights, bots and DNT "
        f"included; {100 * c['stored_share']:.0f} % stored). Warm: UAs parsed before. Cold: "
        "each beacon's UA made unique, so no cache answers.",
        "",
        *_table(
            ["cache", "beacons timed", "median", "p99"],
            [
                [k, f"{c[k]['n']:,}", f"{c[k]['median_us']:.0f} µs", f"{c[k]['p99_us']:.0f} µs"]
                for k in ("warm", "cold")
            ],
        ),
        "",
    ]


def _coldstart(r: dict[str, Any]) -> list[str]:
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
    return [
        "## 2. Cold start",
        "",
        f"A fresh interpreter per sample, {cs['rounds']} rounds with the kinds interleaved "
        "after one round not counted (the first reads the layers from disk); "
        "vs floor is the median over rounds of each round's time against that round's floor "
        "(`paired_ratio`); the clock starts at the child's first line. "
        f"Back end: {cs['backend']}. Fake "
        "credentials and region; no call leaves the machine. Each child runs as a Lambda "
        "function would: `python -S` (no site-packages) with the package layer and the "
        "dependency layer on its path, built by the CDK app's recipe (`infra_cdk/layers.py`) "
        "for this machine's Python and platform, with the bytecode the recipe compiles into "
        "them. Lambda cannot write `__pycache__` under /opt, so a layer without bytecode is "
        "compiled again at every cold start: the last row runs the collector on source-only "
        "copies of the same layers, as a deploy ships them when synth finds no Python of the "
        "runtime's version (synth warns then).",
        "",
        *_table(["child", "median", "vs floor", "then warm, per event"], rows),
        "",
        *(
            [
                "Back end aws: real botocore clients (collector) and boto3/pyathena (stats) "
                "whose calls (SSM salt, Firehose "
                "PutRecordBatch, DynamoDB key look-up, Athena start/poll/results) go to a "
                "loopback stand-in (`bench/fake_aws.py`) instead of AWS, so the figure holds "
                "import time, client creation and one loopback round trip per call, but not "
                "AWS's own latency.",
                "",
            ]
            if cs["backend"] == "aws"
            else []
        ),
        "Slowest packages to import in the collector's cold start (`python -X importtime`, the "
        "self times of each package's modules summed): "
        + ", ".join(f"{name} {ms:.0f} ms" for name, ms in cs["collect_imports"])
        + ".",
        "",
        "The collector's cold start taken apart: a fourth child per round does the same work "
        "step by step, checking a first UA before its first event (medians):",
        "",
        *_table(
            ["step", "median"],
            [[step, _ms(seconds)] for step, seconds in cs["collect_steps"].items()],
        ),
        "",
    ]


def _http(r: dict[str, Any]) -> list[str]:
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
    return [
        "## 3. Local ingest over HTTP",
        "",
        f"wrk, 1 thread, {h['connections']} connections, POST /api/event with demo beacons "
        "and their user agents (bots included), same script for both servers, on 127.0.0.1. "
        f"Both servers run at once, warmed up, then are measured in turns, {h['rounds']} "
        f"rounds of {h['seconds']} s each, each turn once the other server's background work "
        "(Parquet writes) has settled; medians of the rounds, and the ratio is the median of "
        "each round's `serve` against bare.",
        "",
        *_table(
            ["server", "events/s", "p50", "p99", "CPU per request (event loop + rest)", "peak RSS"],
            rows,
        ),
        "",
        f"Ratio: {100 * h['ratio']:.0f} % (rounds: "
        + ", ".join(f"{100 * x:.0f} %" for x in h["ratios"])
        + f"). Sent {h['sent']:,}, answered 202 and stored "
        f"{h['accepted']:,} (the rest dropped as bots, on purpose), rows in Parquet after a "
        f"graceful stop: {h['rows']:,}; lost: {h['lost']}. (Rows may exceed the answers by the "
        "requests in flight when wrk stopped: stored, but not counted by wrk.)",
        "",
    ]


def _queries(r: dict[str, Any]) -> list[str]:
    lines = [
        "## 4. Queries at scale",
        "",
        "Events from `bench/datagen.py`: the demo generator's distributions, vectorised, each "
        "distinct beacon through the real collector, written with the schema's Arrow schema "
        "and the sink's `write_parquet_atomically` (ZSTD), one file per day, 30 days, one site. "
        "Dashboard = aggregate (6 metrics) + time series (days) + 6 breakdowns (source, page, "
        "entry page, country, browser, device; top 10), built by the stats service and SQL "
        "builder; funnel = 4 steps (/ → /pricing → Signup → Purchase), the funnel "
        "endpoint's statement with its defaults (in order, within 24 hours). DuckDB: the product's `DuckDBEngine`, 2 threads, memory limit "
        f"{r['duckdb_memory_limit']}. PostgreSQL: same rows, one table, B-tree indexes on "
        "(site_id, ts), (site_id, dt), (site_id, visitor_id, ts), VACUUM ANALYZE; the same "
        "SQL transpiled with sqlglot; `min_by`/`max_by` (absent in PostgreSQL) become "
        "`(array_agg(x ORDER BY ts))[1]`.",
        "",
        "DuckDB reads each day's rollups (`rollup/site_id=…/dt=…/`: `sessions.parquet`, "
        "one row per session, and `pages.parquet`, one row per visitor and page; written by "
        "the engine from that day's events, one bucket of visitors at a time, and rewritten "
        "when they change; a visitor id is "
        "salted per day, so no session crosses midnight and the rollups are exact); the time "
        "to write them is given per scale and is not in the query times. PostgreSQL derives "
        "every session from the events table on every query, as Umami does; the results are "
        "compared.",
        "",
    ]
    for _, q in sorted(r["queries"].items()):
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
        lines += [
            f"### {q['rows']:,} events",
            "",
            f"Medians of {d['runs']} DuckDB runs"
            + (" (after a warm-up pass)" if q["duckdb_warmup"] else " (files already cached)")
            + f" and {p['runs']} PostgreSQL run(s); rollups written in "
            f"{q['rollup']['build_s']:.1f} s ({q['rollup']['sessions']:,} sessions, "
            f"{q['rollup']['bytes'] / 1e6:.1f} MB, once per day of data); "
            "PostgreSQL load + indexes "
            f"{q['pg_load']['seconds']:.0f} s; PostgreSQL statements cut off after "
            f"{q['pg_statement_timeout_s']} s (a cut-off counts as that time, so its ratio is a "
            "lower bound)."
            + (
                " Results agree (where both finished)."
                if not q["results_differ"]
                else f" Results differ: {', '.join(q['results_differ'])}."
            ),
            "",
            *_table(["query", "DuckDB", "PostgreSQL", "PG / DuckDB"], rows),
            "",
        ]
    return lines


def _pg(label: str, seconds: float, p: dict[str, Any], timeout_s: int) -> str:
    if label in p["timed_out"]:
        return f"> {timeout_s} s (cut off)"
    return _ms(seconds)


def _storage(r: dict[str, Any]) -> list[str]:
    s = r["storage"]
    return [
        "## 5. Storage",
        "",
        *_table(
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
        ),
        "",
        "Firehose writes smaller files (one per partition per buffer interval), which compress "
        "somewhat worse than these one-per-day files.",
        "",
    ]


def _athena(r: dict[str, Any]) -> list[str]:
    price = cost.PRICES["athena_tb"].usd
    rows, total = [], 0.0
    for a in r["athena"]:
        billed = cost.athena_billed_bytes(a["bytes"])
        usd = billed / cost.TB * price
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
    return [
        "## 6. Athena cost per dashboard load",
        "",
        "30 days of one site with 10 M events. Columns: what DuckDB's optimiser reads for the "
        "same SQL; bytes: their compressed column chunks in those 30 partitions (Parquet "
        f"footers). Athena: ${price:.2f} per TB, at least 10 MB per query "
        f"({cost.PRICES['athena_tb'].source}, read {cost.PRICES['athena_tb'].read_on}).",
        "",
        *_table(["query", "columns read", "scanned", "billed", "cost"], rows),
        "",
    ]


def _cost(r: dict[str, Any]) -> list[str]:
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
    return [
        "## 7. Cost per million events on AWS",
        "",
        f"`beaconlake cost --events-per-month N`; inputs from this run, {LOADS} dashboard loads "
        "a month, the stack as cdk.json deploys it; line by line, prices, assumptions and "
        "levers in [COST.md](COST.md).",
        "",
        *_table(["events a month", "month", "per million events"], rows),
        "",
    ]


def _memory(r: dict[str, Any]) -> list[str]:
    sh = r["stats_handler"]
    tried = "; ".join(
        f"{t['memory_limit']}: "
        + (
            "answered"
            if all(s == 200 for s in t["statuses"])
            else f"failed ({', '.join(str(s) for s in t['statuses'])})"
        )
        for t in sh["tried"]
    )
    sd = r["serve_dashboard"]
    return [
        "## 8. Memory (peak RSS)",
        "",
        *_table(
            ["process", "while", "peak RSS"],
            [
                [
                    "collector (figure 1 child)",
                    "figure 1",
                    f"{r['collector']['peak_rss_mb']:.0f} MB",
                ],
                [
                    "collector handler (cold-start child)",
                    "first event + warm events",
                    f"{r['coldstart']['collect']['peak_rss_mb']:.0f} MB",
                ],
                [
                    "stats handler (Mangum + FastAPI + DuckDB)",
                    f"first dashboard on 10 M (rollup written), "
                    f"limit {sh['answered']['memory_limit']}",
                    f"{sh['answered']['peak_rss_mb']:.0f} MB",
                ],
                [
                    "`beaconlake serve`",
                    "figure 3 load",
                    f"{r['http']['serve']['peak_rss_mb']:.0f} MB",
                ],
                [
                    "`beaconlake serve`",
                    f"first dashboard on 10 M, rollups written during it "
                    f"({_ms(sd['seconds'])}{_failed(sd)}), limit {sd['memory_limit']}",
                    f"{sd['peak_rss_mb']:.0f} MB",
                ],
            ],
        ),
        "",
        f"DuckDB memory limit (BEACONLAKE_DUCKDB_MEMORY_LIMIT), smallest that answers the "
        f"dashboard on 10 M events: {tried}.",
        "",
        "The engine writes a day's rollups one bucket of visitors at a time (about 65,536 "
        "events each; docs/QUERY_API.md), so the memory the first dashboard needs does not "
        "grow with a day's traffic: writing all of them on one day's events at once took "
        "`serve` to 385 MB here (2026-11-26 run before the change).",
        "",
    ]


def _failed(d: dict[str, Any]) -> str:
    failed = sum(s != 200 for s in d["statuses"])
    return f"; {failed} of {len(d['statuses'])} requests failed" if failed else ""


def _limits(r: dict[str, Any]) -> list[str]:
    lines = ["## What limits the figures", ""]
    prof = r["http"]["serve"]["profile"]
    bare_cpu = r["http"]["bare"]["measured"]["cpu_us_per_request"]["main"]
    serve_cpu = r["http"]["serve"]["measured"]["cpu_us_per_request"]["main"]
    lines += [
        "**HTTP ingest.** py-spy (`--gil`: only the thread holding the GIL, the bottleneck of "
        "one Python process) on `beaconlake serve` under the same wrk load; the share of "
        "samples in which each function is on the stack:",
        "",
        *_table(["function", "samples"], [[f"`{f}`", f"{pct:.0f} %"] for f, pct in prof]),
        "",
        "Per request `serve` runs uvicorn's pure-Python HTTP/1.1 parser, as the bare app does, "
        "and then the collector's service (`answer_event`: parse, validate, bot and UA checks, "
        "GeoIP, visitor id, spool append) on the event loop; the Lambda emulation is not on this "
        "path. Both servers are bound by their event loop's thread, which runs at about one "
        f"core: in this run it spent {bare_cpu:.0f} µs per request in the bare app and "
        f"{serve_cpu:.0f} µs in `serve` (figure 3's table; `serve`'s other threads, which "
        "write Parquet and compact it, add little). Half the bare rate allows "
        f"{2 * bare_cpu:.0f} µs, so `serve` would have to do its own part in "
        f"{bare_cpu:.0f} µs instead of {serve_cpu - bare_cpu:.0f}. Where that part goes, "
        "measured by hand on 2026-11-26 by stubbing parts out (server CPU per request under "
        "this load): answering as the bare app does about 101 µs, with the gateway's plumbing "
        "about 126, with the collector (sink stubbed) about 200, and in full about 250 µs (was "
        "about 310 before that day's changes: one regex over a beacon's text, one shared JSON "
        "decoder, a spool line of values instead of records, limits looked up once, gc.freeze "
        "at start). Inside the server the collector's parts cost 2-2.5 x their tight-loop "
        "time: parse_beacon 17 µs, GeoIP 11, visitor-id HMAC 7, the Event 5-8, the sink's put "
        "20 (spool encoding 9). So even at their tight-loop cost they would just fit.",
        "",
        "More processes would not reach it reliably on these machines either, and cost too "
        "much for what they give, so `serve` stays one process (decided 2026-11-27). Two "
        "`serve` processes side by side (by hand that day, each with its own data directory, "
        "wrk at both at once, 16 connections each) took 5,940 events/s together, 62 % of one "
        "bare uvicorn process (9,573 in the same script); the bare app cannot be run on two "
        "workers for a like-for-like figure (`uvicorn --workers 2` answered 720 requests/s: "
        "its multi-process listener leaves Nagle's algorithm on, Kludex/uvicorn#3149). The "
        "design one `serve` could use is a helper process that runs the collector and owns the "
        "sink, fed over a pipe in batches, leaving HTTP alone on the event loop. Its upper "
        "bound, `.venv/bin/python -m bench.two_process_ingest` (a prototype without the "
        "dashboard, realtime or restarts, measured as this figure is, 2026-11-27 08:27 UTC): "
        "54 % (rounds 54, 59, 46 %), with `serve` at 46 % (40, 48, 46 %) just after it, "
        "because wrk, the event loop and the helper share the 2 cores. The CPU per event "
        "stays the same (event loop 205 µs + helper 142 µs, against `serve`'s 346 + 16 µs), "
        "so on the one-core servers many self-hosters use it gains nothing. Against it: a "
        "second resident process of 147 MB (peak, with pyarrow and GeoIP), which would take "
        "`serve` past figure 8's 300 MB; and realtime's pending events and the durable spool "
        "behind a pipe. One process takes 2,500-3,800 events/s on one "
        "core, 200-300 million a day.",
        "",
    ]
    op = r["queries"][max(r["queries"])]["duckdb_profile"]
    lines += [
        f"**Queries.** DuckDB's own profile of the slowest dashboard statement ({op['label']}, "
        f"10 M events, {_ms(op['seconds'])} alone): operator time by operator type.",
        "",
        *_table(["operator", "share"], [[name, f"{pct:.0f} %"] for name, pct in op["operators"]]),
        "",
        "The session-level statements read each day's rollups (figure 4), so the "
        "slowest statement is the funnel, which numbers each visitor's events in order "
        "(WINDOW) and has no rollup. Since 2026-11-27 figure 4 times the funnel endpoint's own "
        "statement (before, a shorter one written for the bench, which the endpoint never "
        "ran): an ordered funnel numbers only the events that match one of its steps, and only "
        "sequences count the units in scope, a second pass over the range that a funnel never "
        "used. By hand that day (the same 10 M events, medians of 3, other work running) the "
        "endpoint's funnel went from 5.1 to 1.3-1.5 s. A statement computes only the raw columns its "
        "metrics and order read (`raw_columns_needed` in stats/sql.py): a panel of visitors "
        "reads two columns of the sessions rollup instead of nine. On 2026-11-26 (by hand, "
        "the same 10 M events, the dashboard set alternated 6 times in one process, medians) "
        "that took the set from 883 to 462 ms; a breakdown from about 120 to 52 ms. With it, "
        "the rollup files' layout matters little: ZSTD, LZ4 and no compression gave 462, 469 "
        "and 464 ms (without it, 883, 793 and 750 ms); one row group per file instead of "
        "16,384 rows each, 443 against 463 ms."
        + (
            f" With DuckDB's default memory limit ({r['stats_handler']['tried'][0]['memory_limit']}) "
            "the stats API cannot answer the dashboard at 10 M events (figure 8)."
            if len(r["stats_handler"]["tried"]) > 1
            else ""
        ),
        "",
        "**Cold start.** Figure 2 takes the collector's first event apart. On 2026-11-26 "
        "(by hand, `bench.main.cold_start()` with 7 rounds) it went from 1.89 x the floor to "
        "1.44 x in three steps: the children now run on the Lambda layers' contents instead "
        "of the development venv (which added PyYAML, imported by ua_parser when present, "
        "and the editable install's import hook, together about 23 ms); the collector's "
        "handler reads its two routes itself instead of through Powertools' event resolver, "
        "whose import (every resolver kind) was about 35 ms (importing the handler: 101 to "
        "66 ms, both on the layers; 1.59 x); and the layer's botocore carries SSM's model trimmed to the four "
        "operations the salt store calls, which botocore otherwise parses whole (1.5 MB of "
        "JSON) when the first event builds the SSM client (the first event: 166 to 151 ms; "
        "1.44 x). What is left above the floor: Powertools' Logger and beaconlake's modules "
        "(about 40 ms), the first bot check (ua_parser's package and crawlerdetect's rules "
        "compiled into RE2) and the first UA parse (uap's 637 browser and OS rules into an "
        "RE2 filter, about 20 ms; an RE2 set compiles in half that but matched a UA 8 x "
        "slower, 226 against 27 µs, so it was not taken).",
        "",
    ]
    return lines


def write(r: dict[str, Any], docs: Path) -> None:
    r = {**r, "queries": {int(n): q for n, q in r["queries"].items()}}
    bench_md = docs / "BENCHMARKS.md"
    section = _other_sections(bench_md)
    bench_md.write_text(benchmarks_md(r, section))


if __name__ == "__main__":
    # rewrite the docs from the last run's results, e.g. after changing this file
    root = Path(__file__).resolve().parent.parent
    write(json.loads((root / "bench" / "out" / "results.json").read_text()), root / "docs")
