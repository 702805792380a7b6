"""The docs' generated tables (bench/docblocks.py): a block is replaced in place and nothing
else is touched; every block in the docs has a program that writes it and every writer's
block is there; and what the writers produce today has the tables the docs hold (a writer
changed without rerunning it fails here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bench import (
    aws_dashboard,
    dashboard_load,
    docblocks,
    package_sizes,
    report,
    resource_checks,
    scale_report,
    soak,
    tracker_peers,
    truncation,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
# doc → every block some program writes into it; a new writer adds its blocks here
WRITERS: dict[str, tuple[str, ...]] = {
    "BENCHMARKS.md": (
        *report.BLOCKS,
        package_sizes.BLOCK,
        resource_checks.BLOCK,
        dashboard_load.BLOCK,
        aws_dashboard.BLOCK,
        *tracker_peers.BLOCKS,
        *scale_report.BLOCKS,
    ),
    "RELIABILITY.md": soak.BLOCKS,
    "PRIVACY.md": (truncation.BLOCK,),
}
DOC = """# A doc

Prose before.

<!-- generated:first -->
| a | b |
|---|---|
| 1 | 2 |
<!-- /generated:first -->

Prose between, by hand.

<!-- generated:second -->
old
<!-- /generated:second -->
"""


def test_a_block_is_replaced_in_place_and_nothing_else_changes(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(DOC)
    docblocks.replace_generated(doc, "second", "| x |\n|---|\n| 3 |")
    text = doc.read_text()
    assert text == DOC.replace("old\n", "| x |\n|---|\n| 3 |\n")
    assert docblocks.blocks(text) == {
        "first": "| a | b |\n|---|---|\n| 1 | 2 |\n",
        "second": "| x |\n|---|\n| 3 |\n",
    }
    docblocks.replace_generated(doc, "second", "\n| x |\n|---|\n| 3 |\n\n")  # same table
    assert doc.read_text() == text
    assert docblocks.stale(doc, {"first": "| a | b |\n|---|---|\n| 1 | 2 |"}) == []
    assert docblocks.stale(doc, {"first": "| a |", "third": "| c |"}) == ["first", "third"]


def test_a_writer_never_adds_a_block_the_doc_lacks(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(DOC)
    with pytest.raises(docblocks.MissingBlock, match="generated:third"):
        docblocks.replace_generated(doc, "third", "| c |")
    doc.write_text(DOC + "\n<!-- generated:first -->\n<!-- /generated:first -->\n")
    with pytest.raises(docblocks.MissingBlock):
        docblocks.replace_generated(doc, "first", "| c |")
    with pytest.raises(ValueError, match="appears twice"):
        docblocks.blocks(doc.read_text())
    with pytest.raises(ValueError, match="lower case"):
        docblocks.markers("Not a name")


def test_every_generated_block_in_the_docs_has_a_writer_and_every_writer_its_block() -> None:
    found = {
        doc.name: tuple(docblocks.blocks(doc.read_text("utf-8")))
        for doc in sorted(DOCS.glob("*.md"))
    }
    assert {name: sorted(b) for name, b in found.items() if b} == {
        name: sorted(b) for name, b in WRITERS.items()
    }
    for text in (doc.read_text("utf-8") for doc in DOCS.glob("*.md")):
        opened = re.findall(r"^<!-- generated:(\S+) -->$", text, re.M)
        closed = re.findall(r"^<!-- /generated:(\S+) -->$", text, re.M)
        assert opened == closed == list(docblocks.blocks(text))  # none unclosed or nested


def _headers(markdown: str) -> list[str]:
    """A block's shape: the header line of each of its tables."""
    lines = markdown.splitlines()
    return [a for a, b in zip(lines, lines[1:], strict=False) if re.fullmatch(r"\|(---\|)+", b)]


def results() -> dict[str, Any]:
    """A run's results.json in the shape bench/main.py writes (made-up values)."""

    def timings(label_s: dict[str, float], timed_out: list[str]) -> dict[str, Any]:
        return {
            "runs": 3,
            "per_query_s": label_s,
            "dashboard_s": sum(v for k, v in label_s.items() if not k.startswith("funnel")),
            "funnel_s": label_s["funnel (4 steps)"],
            "timed_out": timed_out,
        }

    def scale(rows: int) -> dict[str, Any]:
        labels = {"aggregate": 0.05, "breakdown visit:source": 0.04, "funnel (4 steps)": 0.5}
        return {
            "rows": rows,
            "rollup": {"build_s": 3.0, "sessions": rows // 5, "bytes": 9e6},
            "duckdb": timings(labels, []),
            "duckdb_warmup": True,
            "postgres": timings({k: 10 * v for k, v in labels.items()}, ["funnel (4 steps)"]),
            "pg_statement_timeout_s": 45,
            "pg_load": {"seconds": 5.0},
            "results_differ": [],
            "duckdb_profile": {
                "label": "funnel (4 steps)",
                "seconds": 0.8,
                "operators": [("WINDOW", 36.0)],
            },
        }

    def chdb_scale() -> dict[str, Any]:
        labels = {"aggregate": 0.1, "funnel (4 steps)": 1.0}
        both = {"without rollups": timings(labels, []), "with rollups": timings(labels, [])}
        return {
            "runs": 3,
            "raw_runs": 1,
            "version": "26.9.2.1",
            "load": {"seconds": 9.0, "bytes_on_disk": 5e7},
            "duckdb": both,
            "chdb": both,
            "results_differ": {"chdb without rollups": [], "chdb with rollups": []},
            "chdb_profile": {
                "label": "aggregate",
                "lead_s": 0.1,
                "pipeline": ["Resize"],
                "duckdb": [("WINDOW", 36.0)],
            },
        }

    server = {
        "measured": {
            "events_per_s": 5000.0,
            "p50_ms": 6.0,
            "p99_ms": 15.0,
            "cpu_us_per_request": {"main": 200.0, "other": 5.0},
        },
        "peak_rss_mb": 240.0,
    }
    child = {"median_s": 0.2, "ratio": 1.5, "warm_ms": 1.2, "peak_rss_mb": 50.0}
    return {
        "machine": {
            "date": "2026-01-01 00:00 UTC",
            "cores": 2,
            "cpu": "cpu",
            "memory_gib": 8.0,
            "kernel": "6",
            "python": "3.11",
            "duckdb": "2",
            "pyarrow": "26",
            "postgres": "postgres 15",
            "wrk": "4",
        },
        "total_s": 800.0,
        "collector": {
            "warm": {"n": 3000, "median_us": 40.0, "p99_us": 80.0},
            "cold": {"n": 1000, "median_us": 200.0, "p99_us": 400.0},
            "beacons": 1000,
            "distinct_uas": 9,
            "stored_share": 0.95,
            "peak_rss_mb": 49.0,
        },
        "coldstart": {
            "floor": {"median_s": 0.14},
            "collect": child,
            "stats": child,
            "collect_source": child,
            "rounds": 12,
            "backend": "aws",
            "collect_imports": [("botocore", 28.0)],
            "collect_steps": {"importing the handler module": 0.05},
        },
        "http": {
            "bare": server,
            "serve": {**server, "profile": [("ingest (asgi.py)", 47.0)]},
            "connections": 32,
            "rounds": 3,
            "seconds": 10,
            "ratio": 0.47,
            "ratios": [0.47, 0.44, 0.48],
            "sent": 1000,
            "accepted": 990,
            "rows": 990,
            "lost": 0,
        },
        "queries": {"1000000": scale(999_993), "10000000": scale(9_999_998)},
        "clickhouse": {"1000000": chdb_scale(), "10000000": chdb_scale()},
        "duckdb_memory_limit": "256MB",
        "storage": {
            "rows": 9_999_998,
            "files": 30,
            "parquet_bytes_per_event": 8.9,
            "json": {"bytes_per_event": 557.0, "sample_rows": 100_000, "gzip_bytes_per_event": 23},
            "pg_table_bytes_per_event": 175.0,
            "pg_index_bytes_per_event": 72.0,
        },
        "athena": [{"label": "aggregate", "columns": ["name", "ts"], "bytes": 45e6}],
        "stats_handler": {
            "tried": [{"memory_limit": "256MB", "statuses": [200], "peak_rss_mb": 322.0}],
            "answered": {"memory_limit": "256MB", "statuses": [200], "peak_rss_mb": 322.0},
        },
        "serve_dashboard": {
            "seconds": 39.0,
            "statuses": [200],
            "peak_rss_mb": 306.0,
            "memory_limit": "256MB",
        },
    }


def _shapes_match(doc: str, tables: dict[str, str]) -> None:
    held = docblocks.blocks((DOCS / doc).read_text("utf-8"))
    for name, markdown in tables.items():
        assert _headers(markdown), name
        assert _headers(held[name]) == _headers(markdown), f"{name}: rerun its writer"


def test_the_benchmark_tables_in_the_doc_have_the_shape_the_report_writes_today() -> None:
    tables = report.tables(results())
    assert tuple(tables) == report.BLOCKS
    _shapes_match("BENCHMARKS.md", tables)
    targets = tables["targets"]
    assert "| 3 HTTP ingest vs bare uvicorn | ≥ 50 % | 47 % | **missed** |" in targets
    assert "| 1 collector, warm UA cache | median ≤ 50 µs | 40 µs | met |" in targets


def test_report_writes_every_table_into_its_block_and_leaves_the_prose(tmp_path: Path) -> None:
    doc = tmp_path / "BENCHMARKS.md"
    original = (DOCS / "BENCHMARKS.md").read_text("utf-8")
    doc.write_text(original)
    report.write(results(), doc)
    assert docblocks.stale(doc, report.tables(results())) == []
    strip = re.compile(r"(<!-- generated:([a-z0-9-]+) -->\n).*?(<!-- /generated:\2 -->)", re.S)
    prose = strip.sub(r"\1\3", doc.read_text())
    assert prose == strip.sub(r"\1\3", original)


def test_the_other_writers_tables_have_the_docs_shape() -> None:
    load = {
        "first_after_login_ms": 3900.0,
        "runs_ms": [490.0, 500.0],
        "median_ms": 495.0,
        "cached_runs_ms": [159.0],
        "cached_median_ms": 159.0,
        "events": 1000,
        "days": 30,
        "parquet_files": 30,
        "duckdb_memory_limit": "default",
        "date": "2026-01-01 00:00 UTC",
        "cpus": 2,
        "cpu": "cpu",
        "python": "3.11",
        "chromium": "Chromium",
        "load_average_1min": [1.0, 1.5],
    }
    check = resource_checks.Check("a check", "< 1 s", "2 ms", True, "test_x.py::test_y")
    _shapes_match(
        "BENCHMARKS.md",
        {
            dashboard_load.BLOCK: dashboard_load.section(load, "cmd"),
            resource_checks.BLOCK: resource_checks.markdown([check], "cmd"),
        },
    )
    durability = {
        "date": "2026-01-01 00:00 UTC",
        "rounds": 3,
        "median": {
            ms: {"events_per_s": 1.0, "p50_ms": 1.0, "p99_ms": 1.0, "cpu_ms_per_request": 1.0}
            for ms in (20, 0)
        },
    }
    _shapes_match("RELIABILITY.md", {"durability": soak.durability_markdown(durability, "cmd")})
