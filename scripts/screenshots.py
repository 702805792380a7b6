"""Screenshots of the dashboard for docs/img: the real `beaconlake serve` on fresh demo data,
Debian's headless Chromium at 1400 px and 390 px wide.

    .venv/bin/python scripts/screenshots.py            # writes docs/img/<view>-<width>.png

Views: overview, goal-filter, realtime, details, share-small-counts (a shared link whose
small-count threshold hides the rare values). Nothing leaves the machine.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
BIN = Path(sys.executable).parent / "beaconlake"
SITE = "example.com"
PASSWORD = "screenshots-pass-1"  # noqa: S105 - a throw-away server's
WIDTHS = (1400, 390)
UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
)
VIEWS = {
    "overview": "?period=7d",
    "goal-filter": "?period=30d&f=event:goal==Signup",
    "realtime": "?view=realtime",
    "details": "?period=30d&details=pages:top",
}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    from beaconlake.dashboard.passwords import hash_password

    env = {
        **os.environ,
        "BEACONLAKE_BACKEND": "local",
        "BEACONLAKE_DATA_DIR": str(data),
        "BEACONLAKE_SITES": SITE,
        "BEACONLAKE_FLUSH_SECONDS": "1",
        "BEACONLAKE_CLIENT_IP_HEADER": "x-forwarded-for",
        "BEACONLAKE_DASHBOARD_PASSWORD_HASH": hash_password(PASSWORD),
    }
    demo = [str(BIN), "demo", "--days", "30", "--quiet", "--data-dir", str(data)]
    subprocess.run(demo, env=env, check=True, capture_output=True, timeout=300)  # noqa: S603
    port = free_port()
    log = open(data.parent / "server.log", "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(  # noqa: S603 - our own console script
        [str(BIN), "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def visit_now(base: str) -> None:
    """A few visitors right now, so the realtime view has something to show."""
    pages = ["/", "/pricing", "/docs", "/blog/launch", "/"]
    referrers = ["https://www.google.com/", "", "https://news.ycombinator.com/", "", ""]
    for i in range(12):
        body = {
            "n": "pageview",
            "u": f"https://{SITE}{pages[i % len(pages)]}",
            "d": SITE,
            "r": referrers[i % len(referrers)],
        }
        httpx.post(
            f"{base}/api/event",
            json=body,
            headers={"user-agent": UA, "x-forwarded-for": f"203.0.113.{10 + i}"},
            timeout=10,
        )
    time.sleep(2.5)  # the flush interval


def browser(profile: Path) -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--user-agent={UA}",
        "--window-size=1400,900",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def ready(driver: WebDriver) -> bool:
    return bool(
        driver.execute_script(
            "const p = [...document.querySelectorAll('[data-panel]')];"
            "return p.length > 0 && p.every(e => e.dataset.state === 'ready')"
            " && !document.querySelector('.chart.placeholder');"
        )
    )


def wait(driver: WebDriver, check: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check(driver)
        if result:
            return result
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def shoot(driver: WebDriver, url: str, name: str) -> None:
    for width in WIDTHS:
        metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        driver.get(url)
        wait(driver, ready, f"{name} at {width} px")
        time.sleep(0.8)  # the chart's resize
        # a dialog: the screen it covers; a page: all of it
        height = driver.execute_script(
            "const d = document.querySelector('.dialog');"
            "return d ? Math.max(900, d.scrollHeight + 60) : document.documentElement.scrollHeight;"
        )
        metrics["height"] = min(int(height), 4000)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        time.sleep(0.8)
        path = OUT / f"{name}-{width}.png"
        driver.save_screenshot(str(path))
        overflow = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        print(f"{path.relative_to(ROOT)}{'  (scrolls sideways!)' if overflow > 0 else ''}")


SETUP = """
const [site, day] = arguments, done = arguments[arguments.length - 1];
const send = (method, path, body) => fetch(path, {method, credentials: 'same-origin',
  headers: {'content-type': 'application/json'}, body: body && JSON.stringify(body)})
  .then(r => r.json());
(async () => {
  const goals = (await send('GET', `/api/v1/sites/goals?site_id=${site}`)).goals || [];
  const purchase = goals.find(g => g.event_name === 'Purchase');
  if (purchase && !purchase.currency) {
    await send('DELETE', `/api/v1/sites/goals/${purchase.id}`, {site_id: site});
    await send('PUT', '/api/v1/sites/goals', {site_id: site, goal_type: 'event',
      event_name: 'Purchase', display_name: 'Purchase', currency: 'EUR'});
  }
  await send('PUT', '/api/v1/sites/annotations', {site_id: site, date: day, text: 'Launched the blog'});
  await send('PUT', '/api/v1/sites/segments', {site_id: site, name: 'Mobile visitors',
    filters: [['is', 'visit:device', ['mobile']]]});
  return send('POST', '/api/dashboard/shares', {site_id: site, label: 'Public', min_count: 10});
})().then(done, e => done({error: String(e)}));
"""


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        proc, base = start(Path(tmp) / "data")
        owner = guest = None
        try:
            visit_now(base)
            owner = browser(Path(tmp) / "owner")
            owner.get(f"{base}/api/dashboard")
            wait(owner, lambda d: d.find_elements(By.ID, "secret"), "the log-in form")
            owner.find_element(By.XPATH, "//button[normalize-space()='Password']").click()
            owner.find_element(By.ID, "secret").send_keys(PASSWORD)
            owner.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
            wait(owner, ready, "the dashboard")
            day = (date.today() - timedelta(days=12)).isoformat()
            share = owner.execute_async_script(SETUP, SITE, day)
            if not re.match(r"^/", str(share.get("path", ""))):
                raise SystemExit(f"no shared link: {share}")
            for name, query in VIEWS.items():
                shoot(owner, f"{base}/api/dashboard{query}", name)
            guest = browser(Path(tmp) / "guest")
            # one day: small numbers, so the threshold has something to hide
            shoot(guest, f"{base}{share['path']}?period=day", "share-small-counts")
        finally:
            for driver in (owner, guest):
                if driver is not None:
                    driver.quit()
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
