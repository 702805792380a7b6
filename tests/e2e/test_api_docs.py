"""`/api/docs` in real Chromium (issue 26): Swagger UI, vendored, renders the stats API under
the page's CSP and asks no other origin for anything."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By

from tests.e2e.conftest import Browser, Requests, site_url, wait_until
from tests.server import Server

pytestmark = pytest.mark.slow


def test_swagger_ui_renders_from_this_origin_only(server: Server, chromium: Browser) -> None:
    driver = chromium()
    driver.get(site_url(server, "/api/docs"))
    title = wait_until(
        lambda: driver.find_elements(By.CSS_SELECTOR, ".swagger-ui .info .title"), "the title"
    )
    assert "Beaconlake stats API" in title[0].text
    operations = wait_until(
        lambda: driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"), "operations"
    )
    assert any("/api/v1/stats/aggregate" in op.text for op in operations)
    requests = Requests(driver)
    requests.to("/api/docs")
    hosts = {urlsplit(r["url"]).netloc for r in requests.seen if r["url"].startswith("http")}
    assert hosts == {urlsplit(site_url(server, "/")).netloc}, hosts
