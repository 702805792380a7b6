"""Figure 3's figures over rounds."""

from __future__ import annotations

from bench.http_ingest import medians


def test_each_figure_is_the_median_of_the_rounds_cpu_by_thread_kind() -> None:
    rounds = [
        {
            "events_per_s": rate,
            "p50_ms": p50,
            "p99_ms": 10 * p50,
            "cpu_us_per_request": {"main": main, "other": 1.0},
        }
        for rate, p50, main in ((3000.0, 9.0, 300.0), (2000.0, 12.0, 360.0), (3100.0, 8.0, 310.0))
    ]
    assert medians(rounds) == {
        "events_per_s": 3000.0,
        "p50_ms": 9.0,
        "p99_ms": 90.0,
        "cpu_us_per_request": {"main": 310.0, "other": 1.0},
    }
