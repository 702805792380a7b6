"""The bench's opt-in scales and memory split: the generator builds large datasets chunk by
chunk with the same layout, a process's memory peaks are sampled part by part (anonymous,
file-backed, shared), and the 100 M section's tables come out of the results in the doc's
shape."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from beaconlake.ports import QueryTooLarge
from bench import datagen, docblocks, queries, report, scale, scale_report
from bench.procs import PeakSampler, run_json, status_mb
from tests.unit.test_bench_docs import DOCS, results

MB = 2**20


def test_a_process_s_peaks_are_sampled_apart_and_kept_after_its_memory_goes() -> None:
    before = status_mb()["RssAnon"]
    with PeakSampler(every=0.01) as sampler:
        ballast = bytearray(96 * MB)
        ballast[::4096] = b"x" * len(ballast[::4096])  # touch every page: resident
        while sampler.samples < 3:
            pass  # let the thread see it
        del ballast
    peak = sampler.result()
    assert peak["anon_mb"] >= before + 90
    assert peak["file_mb"] > 0  # the interpreter's own mapped pages
    assert peak["rss_mb"] >= peak["anon_mb"]
    assert status_mb()["RssAnon"] < peak["anon_mb"] - 60  # gone, the peak stays
    assert peak["every_s"] == 0.01


def test_a_child_s_memory_is_sampled_from_outside(tmp_path: Path) -> None:
    out = run_json("bench.datagen", args=[str(tmp_path / "d"), "20000"], sample_memory=True)
    memory = out.pop("memory")
    ds = datagen.from_json(out)
    assert ds.rows == sum(
        pq.read_metadata(p).num_rows for p in (ds.root / "events").rglob("*.parquet")
    )
    assert memory["samples"] >= 1
    assert memory["anon_mb"] > 20  # an interpreter with numpy and pyarrow
    assert memory["rss_mb"] >= memory["anon_mb"]


def test_chunks_cover_the_target_in_near_equal_parts() -> None:
    assert datagen.chunks(100_000_000) == [5_000_000] * 20
    assert datagen.chunks(10_000_000) == [10_000_000]  # the default run: one build
    assert datagen.chunks(12_000_001) == [4_000_001, 4_000_000, 4_000_000]
    assert datagen.chunks(25, 10) == [25]  # within ONE_BUILD_EVENTS
    assert datagen.chunks(25, 10, one_build=10) == [9, 8, 8]
    assert datagen.chunks(10_000_001, 4_000_000) == [3_333_334, 3_333_334, 3_333_333]


def test_a_chunked_dataset_has_one_time_ordered_file_per_day_and_chunk_zero_is_the_small_one(
    tmp_path: Path,
) -> None:
    big = datagen.write_dataset(tmp_path / "big", 30_000, chunk_events=10_000, one_build=10_000)
    small = datagen.write_dataset(tmp_path / "small", 10_000)
    files = sorted((big.root / "events").rglob("*.parquet"))
    assert big.files == len(files) == datagen.DAYS
    assert not (big.root / "chunks").exists()
    assert 29_000 <= big.rows == sum(pq.read_metadata(f).num_rows for f in files) <= 30_000
    assert big.parquet_bytes == sum(f.stat().st_size for f in files)
    small_files = sorted((small.root / "events").rglob("*.parquet"))
    for mine, theirs in zip(files, small_files, strict=True):
        assert mine.parent.name == theirs.parent.name  # same days
        day = pq.read_table(mine)
        ts = day.column("ts").to_numpy()
        assert (ts[1:] >= ts[:-1]).all()
        assert day.schema == pq.read_table(theirs).schema
        # chunk 0 uses the same seed: the small dataset's visitors are all in the big one
        visitors = set(pc.unique(day.column("visitor_id")).to_pylist())
        assert set(pc.unique(pq.read_table(theirs).column("visitor_id")).to_pylist()) <= visitors
        assert (
            len(visitors)
            > 2 * pc.count_distinct(pq.read_table(theirs).column("visitor_id")).as_py()
        )


def test_scales_are_read_with_their_unit() -> None:
    assert scale.parse_scale("100m") == 100_000_000
    assert scale.parse_scale("3M") == 3_000_000
    assert scale.parse_scale("500k") == 500_000
    for bad in ("100", "m", "1.5m", "0m", "10g"):
        with pytest.raises(ValueError, match="scale"):
            scale.parse_scale(bad)
    assert scale.results_path("100M").name == "results-100m.json"


def _headers(markdown: str) -> list[str]:
    return [
        re.sub(r"\d+ M", "N M", line)
        for line in markdown.splitlines()
        if line.startswith("| figure")
    ]


def opt_in() -> dict[str, Any]:
    """A results-100m.json in the shape bench/scale.py writes (made-up values)."""
    memory = {"rss_mb": 380.0, "anon_mb": 250.0, "file_mb": 130.0, "shmem_mb": 0.0}
    return {
        "scale": "100m",
        "target": 100_000_000,
        "date": "2026-01-01 00:00 UTC",
        "cores": 2,
        "load_average_before": 1.0,
        "load_average_after": 2.0,
        "total_s": 1800.0,
        "memory_limit": "256MB",
        "dataset": {
            "rows": 99_999_990,
            "files": 30,
            "parquet_bytes": 800_000_000,
            "bytes_per_event": 8.0,
            "generate_s": 400.0,
            "generate_peak_rss_mb": 4000.0,
        },
        "serve_dashboard": {
            "seconds": 500.0,
            "statuses": [200] * 8,
            "peak_rss_mb": 380.0,
            "memory": {**memory, "samples": 9000, "every_s": 0.05},
            "memory_limit": "256MB",
        },
        "rollup": {"build_s": 420.0, "sessions": 22_000_000, "bytes": 900 * MB},
        "duckdb": {"runs": 3, "dashboard_s": 2.5, "funnel_s": 4.0, "per_query_s": {}},
    }


def default_run() -> dict[str, Any]:
    r = results()
    r["stages_s"] = {"4 generate 1,000,000 events": 4.0, "4 generate 10,000,000 events": 40.0}
    r["datasets"] = {"1000000": {"rows": 1_000_000, "files": 30, "parquet_bytes": 10_000_000}}
    r["serve_dashboard"]["memory"] = {
        "rss_mb": 306.0,
        "anon_mb": 200.0,
        "file_mb": 106.0,
        "shmem_mb": 0.0,
    }
    return r


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip("|").split("|")]


def test_the_growth_table_gives_each_figure_at_each_scale_and_its_factor_per_10x() -> None:
    r = default_run()
    r["queries"]["10000000"]["duckdb"]["dashboard_s"] = 1.0
    big = opt_in()
    lines = scale_report.growth_block(r, big).splitlines()[2:]
    rows = {cells[0]: cells[1:] for cells in (_cells(line) for line in lines)}
    assert rows["dashboard set"] == [
        "90 ms",
        "1,000 ms",
        "2,500 ms",
        "x 11.1",
        "x 2.5",
    ]
    assert rows["Parquet bytes per event"] == [
        "10.0 B",
        "8.9 B",
        "8.0 B",
        "x 0.9",
        "x 0.9",
    ]
    # 1 M has no serve figure: no factor either
    assert rows["`serve` peak RSS, anonymous part"] == [
        "—",
        "200 MB",
        "250 MB",
        "—",
        "x 1.2",
    ]


def test_the_100m_targets_judge_the_anonymous_part() -> None:
    big = opt_in()
    block = scale_report.scale_block(big)
    assert "| dashboard set | ≤ 2 s | 2,500 ms | **missed** |" in block
    assert "| funnel (4 steps) | ≤ 5 s | 4,000 ms | met |" in block
    assert "| `serve` peak RSS, anonymous part | ≤ 400 MB | 250 MB | met |" in block
    big["serve_dashboard"]["memory"]["anon_mb"] = 401.0
    assert "| 401 MB | **missed** |" in scale_report.scale_block(big)


def test_the_100m_blocks_have_the_doc_s_shape_and_are_written_only_after_an_opt_in_run(
    tmp_path: Path,
) -> None:
    held = docblocks.blocks((DOCS / "BENCHMARKS.md").read_text("utf-8"))
    tables = scale_report.tables(default_run(), opt_in())
    assert tuple(tables) == scale_report.BLOCKS
    for name, markdown in tables.items():  # the same headers, whatever scale the doc holds
        assert _headers(markdown) == _headers(held[name]), f"{name}: rerun its writer"
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text((DOCS / "BENCHMARKS.md").read_text("utf-8"))
    missing = tmp_path / "results-100m.json"
    scale_report.write(default_run(), doc, missing)
    assert docblocks.blocks(doc.read_text()) == held  # no opt-in run: left as they are
    missing.write_text(json.dumps(opt_in()))
    scale_report.write(default_run(), doc, missing)
    assert docblocks.stale(doc, tables) == []


def test_the_memory_table_splits_each_sampled_process_and_the_serve_target_is_anonymous() -> None:
    r = default_run()
    tables = report.tables(r)
    assert "| 306 MB | 200 MB | 106 MB | 0 MB |" in tables["memory"]
    assert "| figure 3 load | 240 MB | — | — | — |" in tables["memory"]  # not sampled
    # the figure 3 serve was not sampled: its whole RSS bounds its anonymous part
    assert (
        "| 8 `beaconlake serve` peak RSS, anonymous part (fig. 3, 4) | ≤ 300 MB | 240 MB | met |"
        in tables["targets"]
    )
    r = copy.deepcopy(r)
    r["serve_dashboard"]["memory"]["anon_mb"] = 301.0
    assert "| ≤ 300 MB | 301 MB | **missed** |" in report.tables(r)["targets"]


def test_a_query_the_engine_stops_is_timed_as_stopped_and_the_run_goes_on() -> None:
    @dataclass(frozen=True)
    class TooBig:
        label: str = "funnel (4 steps)"

        def run(self, engine: Any) -> Any:
            raise QueryTooLarge("the query ran 10 s, past its 10 s time budget")

    for warmup in (False, True):  # stopped in the warm-up pass too (a 100 M run did)
        [timing] = queries.run_set(None, [scale.Budgeted(TooBig())], runs=3, warmup=warmup)  # type: ignore[arg-type, list-item]
        assert timing.timed_out and len(timing.seconds) == 1  # not repeated
    big = opt_in()
    big["duckdb"]["timed_out"] = ["funnel (4 steps)"]
    block = scale_report.scale_block(big)
    assert "| > 4,000 ms (stopped by the time budget) | **missed** |" in block
