"""`GET /api/docs`: Swagger UI for the stats API, from files shipped in the package.

FastAPI's own page loads Swagger UI from a public CDN without integrity checks: a request to a
third party from a privacy product. Here `swagger-ui-dist` 5.36.0 (Apache-2.0; its LICENSE,
NOTICE and the bundled libraries' licences beside it) is vendored in `static/swagger-ui/`,
and the page runs under a Content-Security-Policy that allows this origin only.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

STATIC = Path(__file__).parent / "static"
DOCS = "/api/docs"
OPENAPI_URL = "/api/openapi.json"
SWAGGER_UI_VERSION = "5.36.0"
FILES = {
    "swagger-ui-bundle.js": ("swagger-ui/swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    "swagger-ui.css": ("swagger-ui/swagger-ui.css", "text/css; charset=utf-8"),
    "docs.js": ("docs.js", "text/javascript; charset=utf-8"),
}
# Swagger UI sets inline styles (React's style attributes) and shows SVG icons as data: URLs;
# it fetches the OpenAPI document and sends "Try it out" requests to this origin only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Beaconlake stats API</title>
<link rel="stylesheet" href="{DOCS}/static/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{OPENAPI_URL}"></div>
<script src="{DOCS}/static/swagger-ui-bundle.js"></script>
<script src="{DOCS}/static/docs.js"></script>
</body>
</html>
"""

router = APIRouter()


@cache
def _file(name: str) -> tuple[bytes, str]:
    relative, _ = FILES[name]
    data = (STATIC / relative).read_bytes()
    return data, '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


@router.get(DOCS, include_in_schema=False)
def docs_page() -> HTMLResponse:
    return HTMLResponse(PAGE, headers={**HEADERS, "cache-control": "no-cache"})


@router.get(DOCS + "/static/{name}", include_in_schema=False)
def docs_file(name: str, request: Request) -> Response:
    if name not in FILES:
        return JSONResponse({"error": "not found"}, status_code=404)
    data, etag = _file(name)
    headers = {
        **HEADERS,
        "content-type": FILES[name][1],
        "cache-control": "public, max-age=3600",
        "etag": etag,
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, headers=headers)
