"""Dashboard load time on 1M demo events, locally: `beaconlake serve` over `bench/datagen.py`'s
events, the dashboard in headless Chromium, the clock from navigation start until every panel
of the overview (cards, live count, chart, five breakdowns) has rendered its numbers.

    .venv/bin/python -m bench.dashboard_load [--events 1000000] [--runs 7]

Writes its tables into docs/BENCHMARKS.md's `dashboard-load` block (bench/docblocks.py) and
bench/out/dashboard_load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from beaconlake.adapters.file_keys import FileKeyStore
from beaconlake.keys import create_key
from bench.docblocks import replace_generated, table
from bench.procs import ROOT, VENV_BIN, free_port, stop, wait_port

OUT = ROOT / "bench" / "out"
DOC = ROOT / "docs" / "BENCHMARKS.md"
BLOCK = "dashboard-load"
PANELS = 8
# resolves in the page once no panel says data-state="loading": [ms since navigation start,
# the panels that failed]
WAIT_READY = """
const done = arguments[arguments.length - 1];
(function check() {
  const p = [...document.querySelectorAll('[data-panel]')];
  if (p.length >= PANELS && p.every(e => e.dataset.state !== 'loading'))
    done([performance.now(), p.filter(e => e.dataset.state !== 'ready').map(e => e.dataset.panel)]);
  else requestAnimationFrame(check);
})();
""".replace("PANELS", str(PANELS))


def browser(profile: Path) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1400",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_script_timeout(120)
    return driver


def _loaded(driver: webdriver.Chrome) -> float:
    ms, failed = driver.execute_async_script(WAIT_READY)
    if failed:
        raise RuntimeError(f"panels failed to load: {failed}")
    return float(ms)


def new_data(events_dir: Path) -> None:
    """What a flush of new events does to the engine's result cache: the tree changed."""
    os.utime(events_dir)


def measure(
    base: str, token: str, site: str, first: str, last: str, runs: int, events_dir: Path
) -> dict[str, Any]:
    url = f"{base}/api/dashboard?site={site}&period=custom&from={first}&to={last}"
    with tempfile.TemporaryDirectory() as profile:
        driver = browser(Path(profile))
        try:
            driver.get(url)
            WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "secret"))
            driver.find_element(By.ID, "secret").send_keys(token)
            driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
            first_ms = _loaded(driver)
            times, cached = [], []
            for _ in range(runs):
                new_data(events_dir)
                driver.get(url)
                times.append(_loaded(driver))
                time.sleep(1.1)  # answers are cached once the newest change is a second old
                driver.get(url)
                _loaded(driver)
                driver.get(url)
                cached.append(_loaded(driver))
            numbers = driver.execute_script(
                "return [...document.querySelectorAll('.card[data-metric]')]"
                ".map(c => [c.dataset.metric, c.dataset.value]);"
            )
        finally:
            driver.quit()
    return {
        "first_after_login_ms": first_ms,
        "runs_ms": times,
        "median_ms": statistics.median(times),
        "cached_runs_ms": cached,
        "cached_median_ms": statistics.median(cached),
        "cards": numbers,
    }


def run(events: int, runs: int) -> dict[str, Any]:
    root = OUT / f"dashboard-load-{events}"
    shutil.rmtree(root, ignore_errors=True)
    from bench import datagen  # numpy: the bench extra, not needed for the tables (tests)

    ds = datagen.write_dataset(root, events)
    token, _ = create_key(FileKeyStore(root / "keys.json"), ("*",), "bench")
    port = free_port()
    env = {**os.environ, "BEACONLAKE_SITES": ds.site, "BEACONLAKE_BACKEND": "local"}
    proc = subprocess.Popen(
        [str(VENV_BIN / "beaconlake"), "serve", "--port", str(port), "--data-dir", str(root)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, proc)
        load_before = os.getloadavg()[0]
        result = measure(
            f"http://127.0.0.1:{port}",
            token,
            ds.site,
            str(ds.first),
            str(ds.last),
            runs,
            root / "events",
        )
    finally:
        stop(proc)
    chromium = subprocess.run(
        ["/usr/bin/chromium", "--version"], capture_output=True, text=True, check=False
    )
    return {
        **result,
        "events": ds.rows,
        "days": (ds.last - ds.first).days + 1,
        "parquet_files": ds.files,
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "chromium": chromium.stdout.strip(),
        "load_average_1min": [load_before, os.getloadavg()[0]],
        "duckdb_memory_limit": os.environ.get("BEACONLAKE_DUCKDB_MEMORY_LIMIT", "default"),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def section(r: dict[str, Any], command: str) -> str:
    """The `dashboard-load` block: tables only (the prose around it is in the doc)."""
    load = r["load_average_1min"]
    times = table(
        ["", "time"],
        [
            [
                "first load, right after log-in (cold DuckDB)",
                f"{r['first_after_login_ms']:,.0f} ms",
            ],
            [
                f"**median of {len(r['runs_ms'])} reloads after new data arrived** "
                "(every query runs)",
                f"**{r['median_ms']:,.0f} ms**",
            ],
            ["all those reloads", ", ".join(f"{t:,.0f}" for t in r["runs_ms"]) + " ms"],
            [
                f"median of {len(r['cached_runs_ms'])} reloads with no new data "
                "(answers from the engine's result cache)",
                f"{r['cached_median_ms']:,.0f} ms",
            ],
        ],
    )
    run = table(
        ["run", "value"],
        [
            ["command", f"`{command}`"],
            [
                "data",
                f"{r['events']:,} events, {r['days']} days, one site, "
                f"{r['parquet_files']} Parquet files",
            ],
            ["DuckDB memory limit", r["duckdb_memory_limit"]],
            ["panels timed", f"{PANELS}"],
            [
                "target: reloads after new data under 1 s",
                "met" if r["median_ms"] < 1000 else "**missed**",
            ],
            ["date", r["date"]],
            [
                "machine",
                f"{r['cpus']} CPUs ({r['cpu']}), Python {r['python']}, {r['chromium']}",
            ],
            ["1-minute load average, before / after", f"{load[0]:.1f} / {load[1]:.1f}"],
        ],
    )
    return f"{times}\n\n{run}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    result = run(args.events, args.runs)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "dashboard_load.json").write_text(json.dumps(result, indent=1))
    command = ".venv/bin/python -m bench.dashboard_load"
    if args.events != 1_000_000 or args.runs != 7:
        command += f" --events {args.events} --runs {args.runs}"
    replace_generated(DOC, BLOCK, section(result, command))
    print(json.dumps({k: result[k] for k in ("first_after_login_ms", "median_ms")}))


if __name__ == "__main__":
    main()
