"""bench/memprobe.py: the soak's view inside `serve` (glibc's heap, DuckDB's eviction queues)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from bench import memprobe
from bench.soak import probe_markdown, probe_summary


def test_the_probe_counts_the_dead_nodes_queries_leave_in_duckdbs_eviction_queues() -> None:
    db = duckdb.connect()
    db.execute("CREATE TABLE a AS SELECT range AS i, range % 7 AS g FROM range(20000)")
    before = memprobe.sample(db)
    for _ in range(20):
        db.execute("SELECT a.g, count(*) FROM a JOIN a AS b USING (i) GROUP BY a.g").fetchall()
    after = memprobe.sample(db)
    assert after["eviction_queue_dead_nodes"] > before["eviction_queue_dead_nodes"]
    assert after["rss_mb"] > 0
    # RSS is its anonymous part plus its file-backed part (plus shared memory, none here)
    assert abs(after["rss_anon_mb"] + after["rss_file_mb"] - after["rss_mb"]) < 5
    assert after["rss_anon_mb"] > 0
    assert after["glibc_in_use_mb"] > 0  # Linux with glibc, as CI and the benchmarks run


def test_the_summary_covers_the_ingest_after_the_warm_up_and_after_the_queues_filled(
    tmp_path: Path,
) -> None:
    probe = tmp_path / "probe.jsonl"
    samples = [
        {
            "t": t,
            "rss_mb": 200 + min(t, 90) / 3,
            "rss_anon_mb": 100 + t / 30,
            "glibc_in_use_mb": 40 + t / 60,
            "eviction_queue_nodes": 100 * min(t, 90),
            "eviction_queue_dead_nodes": 90 * t,
        }
        for t in (10, 30, 60, 90, 120, 150)
    ]
    probe.write_text("".join(json.dumps(s) + "\n" for s in samples))
    summary = probe_summary(probe, ingest_s=120)
    assert summary["glibc_in_use_mb"] == (40.5, 42.0)  # at 30 s and at 120 s, not 150 s
    assert summary["glibc_second_half_slope_mb_per_min"] == 1.0
    assert summary["eviction_queue_nodes"] == (3000, 9000)
    assert summary["eviction_queue_dead_nodes"] == 10800
    assert "3,000 / 9,000 (10,800)" in probe_markdown(summary)
    # the queues reach their most nodes at 90 s; RSS stops there too
    assert summary["queues_full_s"] == 90
    assert summary["rss_queues_full_mb"] == (230.0, 230.0)
    assert summary["rss_queues_full_slope_mb_per_min"] == 0.0
    assert "230.0 / 230.0 MB; +0.0 MB/min" in probe_markdown(summary)
    # while the anonymous part went on growing, 2 MB/min
    assert summary["rss_anon_queues_full_mb"] == (103.0, 104.0)
    assert summary["rss_anon_queues_full_slope_mb_per_min"] == 2.0
    assert "103.0 / 104.0 MB; +2.0 MB/min" in probe_markdown(summary)


def test_without_samples_the_soak_reports_no_probe_rows(tmp_path: Path) -> None:
    summary = probe_summary(tmp_path / "missing.jsonl", ingest_s=120)
    assert summary == {"probe": []}
    assert probe_markdown(summary) == ""
