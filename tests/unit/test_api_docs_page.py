"""`/api/docs` (issue 26): Swagger UI from files in the package, under a CSP, with no request
to any other origin (FastAPI's default page loads it from a public CDN without integrity)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from functions.stats.app import handler as stats
from tests.apigw import Context, http_event

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "layers" / "beaconlake" / "stats" / "static" / "swagger-ui"


def get(path: str, headers: dict[str, str] | None = None) -> dict:
    return stats(http_event("GET", path, headers=headers or {}), Context())


def test_the_docs_page_loads_only_files_of_this_origin_under_a_csp(local_env) -> None:
    res = get("/api/docs")
    assert res["statusCode"] == 200
    page = res["body"]
    assert "://" not in page  # was https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/...
    assert "<script>" not in page  # no inline script: the CSP allows 'self' only
    csp = res["headers"]["content-security-policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert len(assets) == 3
    for asset in assets:
        served = get(asset)
        assert served["statusCode"] == 200, asset
        kind = "css" if asset.endswith(".css") else "javascript"
        assert kind in served["headers"]["content-type"]
        assert "://" not in served["body"].split("sourceMappingURL")[0][-2000:] or kind == "css"


def test_the_vendored_files_are_served_whole_with_their_licence(local_env) -> None:
    bundle = get("/api/docs/static/swagger-ui-bundle.js")
    assert bundle["body"] == (VENDOR / "swagger-ui-bundle.js").read_text("utf-8")
    etag = bundle["headers"]["etag"]
    assert (
        get("/api/docs/static/swagger-ui-bundle.js", {"if-none-match": etag})["statusCode"] == 304
    )
    assert "Apache License" in (VENDOR / "LICENSE").read_text()
    assert (VENDOR / "NOTICE").exists() and (VENDOR / "swagger-ui-bundle.js.LICENSE.txt").exists()
    for name in ("LICENSE", "docs_page.py", "a%00"):
        res = get(f"/api/docs/static/{name}")
        assert res["statusCode"] == 404 and json.loads(res["body"]) == {"error": "not found"}
    for name in ("../api.py", "swagger-ui/LICENSE", "..%2Fapi.py"):
        assert get(f"/api/docs/static/{name}")["statusCode"] == 404


def test_the_docs_init_script_is_the_only_code_of_ours_and_starts_the_bundle() -> None:
    init = (VENDOR.parent / "docs.js").read_text()
    assert "SwaggerUIBundle(" in init and "validatorUrl: null" in init  # no validator badge


def test_the_package_data_ships_the_docs_files() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["beaconlake"]
    package = ROOT / "layers" / "beaconlake"
    shipped = {p for pattern in globs for p in package.glob(pattern) if p.is_file()}
    for path in [*VENDOR.iterdir(), VENDOR.parent / "docs.js"]:
        assert path in shipped, path
