"""Who may manage what: the key scopes (Plausible's names: `stats:read:*`, `sites:read:*`,
`sites:provision:*`), the site checks of the management API, and its route class, which
reads Plausible's form bodies as JSON and answers a CatalogueError in the error shape.

A GET of the management API needs `sites:read:*`, a change `sites:provision:*`, the stats
routes `stats:read:*`: 403 `{"error", "field": "authorization", "rule": "scope"}` otherwise.
A shared link changes nothing (403, rule "read_only")."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from email import policy
from email.parser import BytesParser
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from beaconlake.domains import normalise_domain
from beaconlake.ports import SITES_PROVISION, SITES_READ, STATS_READ
from beaconlake.site_ports import CatalogueError, Site
from beaconlake.web.auth import AuthError, Reader, require_reader
from beaconlake.web.errors import ErrorBody

MAX_FORM_BYTES = 64 * 1024
# documented on every operation of the management API (400 and 422: web.errors.RESPONSES)
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No key, or not a valid one"},
    403: {"model": ErrorBody, "description": "The key lacks the scope or the site"},
    404: {"model": ErrorBody, "description": "No such site or item"},
    409: {"model": ErrorBody, "description": "It exists already"},
}
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _scope_error(scope: str) -> AuthError:
    return AuthError(
        403,
        f"this API key lacks the {scope} scope (beaconlake keys add --scope {scope})",
        None,
        "authorization",
        "scope",
    )


def _with_scope(reader: Reader, scope: str) -> Reader:
    if not reader.key.can(scope):
        raise _scope_error(scope)
    return reader


def stats_reader(reader: Annotated[Reader, Depends(require_reader)]) -> Reader:
    """The stats routes' scope: `stats:read:*` (every key made before scopes has it)."""
    return _with_scope(reader, STATS_READ)


# every route that reads stats: give its router `dependencies=STATS_SCOPE`
STATS_SCOPE = [Depends(stats_reader)]


def site_reader(reader: Annotated[Reader, Depends(require_reader)]) -> Reader:
    return _with_scope(reader, SITES_READ)


def provisioner(reader: Annotated[Reader, Depends(require_reader)]) -> Reader:
    if reader.shared:
        raise AuthError(403, "a shared link is read-only", None, "session", "read_only")
    return _with_scope(reader, SITES_PROVISION)


def note_reader(reader: Annotated[Reader, Depends(require_reader)]) -> Reader:
    """Annotations are read by `sites:read:*` and by a shared link (its own site's)."""
    return reader if reader.shared else _with_scope(reader, SITES_READ)


SiteReader = Annotated[Reader, Depends(site_reader)]
Provisioner = Annotated[Reader, Depends(provisioner)]
NoteReader = Annotated[Reader, Depends(note_reader)]


def allowed(reader: Reader, site_id: str) -> str:
    """The normalised domain, if the key may manage it (else a 403)."""
    domain = normalise_domain(site_id)
    if not reader.key.allows(domain):
        raise AuthError(
            403, f"this API key has no access to site {site_id!r}", None, "site_id", "scope"
        )
    return domain


def site_of(reader: Reader, site_id: str, field_name: str = "site_id") -> Site:
    """The site, if the key may manage it (403) and it exists (404, as Plausible answers)."""
    found = reader.ports.catalogue().site(allowed(reader, site_id))
    if found is None:
        raise CatalogueError(404, field_name, "site could not be found", "exists")
    return found


# ---- Plausible's form bodies ---------------------------------------------------------------


def _multipart(content_type: str, body: bytes) -> dict[str, str] | None:
    try:
        head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    except UnicodeEncodeError:
        return None
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return None
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode("utf-8", "replace")
    return fields


def form_fields(content_type: str, body: bytes) -> dict[str, str] | None:
    """A form body (`curl -F` or `-d a=b`, as Plausible's docs and clients send) as fields,
    or None when it is not one or cannot be read (the JSON reader then refuses it)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind not in _FORMS or len(body) > MAX_FORM_BYTES:
        return None
    if kind == _FORMS[0]:
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            return None
    try:
        return _multipart(content_type, body)
    except (ValueError, TypeError, LookupError):
        return None


async def _as_json(request: Request) -> Request:
    fields = form_fields(request.headers.get("content-type", ""), await request.body())
    if fields is None:
        return request
    data = json.dumps(fields).encode()
    headers = [
        (k, v) for k, v in request.scope["headers"] if k not in (b"content-type", b"content-length")
    ]
    headers += [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
    ]
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": data, "more_body": False}

    return Request({**request.scope, "headers": headers}, receive)


class ManagementRoute(APIRoute):
    """Takes JSON bodies and, as Plausible does, form bodies; a CatalogueError (a value the
    catalogue refuses, an unknown item, a duplicate) is its status and `{"error", "field",
    "rule"}`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            if request.method in ("POST", "PUT", "DELETE"):
                request = await _as_json(request)
            try:
                return await handler(request)
            except CatalogueError as exc:
                return JSONResponse(exc.as_body(), status_code=exc.status)

        return route
