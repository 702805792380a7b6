"""The screenshot of downsampled retention for docs/img: two years of demo data, the first
year's raw events deleted by `beaconlake retention` (their daily rollups kept, and the
oldest half year's condensed into per-month rollups), and the dashboard's chart over both
years, by month, drawn by the real `beaconlake serve` in Debian's headless Chromium at
1400 px.

    .venv/bin/python scripts/screenshot_retention.py   # docs/img/retention-two-years-1400.png

Nothing leaves the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from screenshots import BIN, OUT, PASSWORD, ROOT, SITE, browser, free_port, wait
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

DAYS = 730
KEPT = 365
DAILY = 180  # days of daily rollups after the raw events: older whole months are per-month


def settled(driver: WebDriver) -> bool:
    """Every panel answered (a panel the rollups cannot answer shows its 400) and the chart
    drawn."""
    return bool(
        driver.execute_script(
            "const p = [...document.querySelectorAll('[data-panel]')];"
            "return p.length > 0 && p.every(e => e.dataset.state !== 'loading')"
            " && !document.querySelector('.chart.placeholder');"
        )
    )


def run(data: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own console script
        [str(BIN), *args, "--data-dir", str(data)], env=env, check=True, capture_output=True
    )
    return done.stdout.decode()


def main() -> None:
    from beaconlake.dashboard.passwords import hash_password

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # a data directory to reuse (made on the first run), or a throw-away one
        data = Path(os.environ.get("RETENTION_SHOT_DATA") or Path(tmp) / "data")
        fresh = not (data / "events").exists()
        env = {
            **os.environ,
            "BEACONLAKE_BACKEND": "local",
            "BEACONLAKE_DATA_DIR": str(data),
            "BEACONLAKE_SITES": SITE,
            "BEACONLAKE_DASHBOARD_PASSWORD_HASH": hash_password(PASSWORD),
        }
        if fresh:
            demo = ("demo", "--days", str(DAYS), "--visitors", "40", "--quiet")
            print(run(data, env, *demo).strip())
            retention = ("retention", "--days", str(KEPT), "--daily-days", str(DAILY))
            print(run(data, env, *retention).strip())
            # the daily job over the kept year too, so the dashboard's first queries are quick
            job = "from beaconlake import wiring; print(wiring.run_daily_job())"
            subprocess.run([sys.executable, "-c", job], env=env, check=True, capture_output=True)  # noqa: S603
        port = free_port()
        log = open(Path(tmp) / "server.log", "wb")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(  # noqa: S603 - our own console script
            [str(BIN), "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        )
        base = f"http://127.0.0.1:{port}"
        driver = None
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            driver = browser(Path(tmp) / "owner")
            driver.get(f"{base}/api/dashboard")
            wait(driver, lambda d: d.find_elements(By.ID, "secret"), "the log-in form", 60)
            driver.find_element(By.XPATH, "//button[normalize-space()='Password']").click()
            driver.find_element(By.ID, "secret").send_keys(PASSWORD)
            driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
            wait(driver, lambda d: not d.find_elements(By.ID, "secret"), "the log-in", 120)
            today = datetime.now(UTC).date()
            first = (today - timedelta(days=DAYS - 1)).replace(day=1)  # per-month: whole months
            url = f"{base}/api/dashboard?period=custom&from={first}&to={today}&interval=month"
            metrics = {"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": False}
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
            driver.get(url)
            try:
                wait(driver, settled, "the two-year chart", 300)
            except SystemExit:
                states = "return [...document.querySelectorAll('[data-panel]')].map(e => e.dataset.panel + ':' + e.dataset.state)"
                print(driver.execute_script(states))
                driver.save_screenshot(str(Path(tmp).parent / "retention-debug.png"))
                raise
            time.sleep(1)
            height = driver.execute_script("return document.documentElement.scrollHeight")
            metrics["height"] = min(int(height), 4000)
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
            time.sleep(1)
            path = OUT / "retention-two-years-1400.png"
            driver.save_screenshot(str(path))
            print(path.relative_to(ROOT))
        finally:
            if driver is not None:
                driver.quit()
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
