"""Send events to a Beaconlake collector from a server (docs/SENDING.md). Standard library
only, so a site's back end can copy this one file.

    sender = Sender("https://stats.example.com/api/event", "bl_<id>_<secret>")
    sender.event("Signup", "https://example.com/welcome", ip=client_ip, ua=user_agent)

Events are queued and sent in batches (a JSON array, at most 100) by a background thread:
when `batch_size` are queued, every `interval` seconds and on `flush()`/`close()`. A batch
that meets a network error, a 429 or a 5xx is sent again after a growing pause (the
`Retry-After` a 429 gives, at least); `event()` never raises and never waits for the
network. Every batch is signed (`X-Beaconlake-Signature`, see `signature`), so it may carry
the visitor's `ip` and `ua` and the event's own time `ts`; a retry repeats the signature, so
a batch that arrived although its reply was lost is answered "already received" and is not
counted twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger("beaconlake.send")

MAX_BATCH = 100  # the collector's limit per request
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def signature(key: str, body: bytes, t: int) -> str:
    """`t=<t>,v1=<hex>`: HMAC-SHA256 of "<t>.<body>" keyed with the hex SHA-256 of the key's
    secret (the part after `bl_<id>_`), which is what the collector stores."""
    secret = key.split("_", 2)[2] if key.startswith("bl_") and key.count("_") >= 2 else key
    signing_key = hashlib.sha256(secret.encode()).hexdigest().encode()
    mac = hmac.new(signing_key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


class Sender:
    """A batching, retrying client of POST /api/event for one ingest key."""

    def __init__(
        self,
        url: str,
        key: str,
        sign: bool = True,
        batch_size: int = 50,
        interval: float = 2.0,
        retries: int = 5,
        backoff: float = 0.5,
        timeout: float = 5.0,
    ) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError("the collector URL must be http:// or https://")
        self.url, self.key, self.sign = url, key, sign
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self.interval, self.retries, self.backoff, self.timeout = (
            interval,
            retries,
            backoff,
            timeout,
        )
        self.sent = 0  # events the collector accepted (or had already received)
        self.lost = 0  # events given up on: refused (4xx) or out of retries
        self._queue: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.sleep: Callable[[float], None] = time.sleep

    def event(
        self,
        name: str,
        url: str,
        *,
        ip: str | None = None,
        ua: str | None = None,
        props: dict[str, Any] | None = None,
        revenue: dict[str, Any] | None = None,
        ts: float | None = None,
        domain: str | None = None,
        referrer: str | None = None,
    ) -> None:
        """Queue one event (a pageview is name "pageview"). Never raises."""
        try:
            item: dict[str, Any] = {
                "n": name,
                "u": url,
                "d": domain or (urlsplit(url).hostname or "").removeprefix("www."),
            }
            if referrer:
                item["r"] = referrer
            if props:
                item["p"] = props
            if revenue:
                item["$"] = revenue
            if self.sign:  # the collector takes these from a signed request only
                item["ts"] = round(time.time() if ts is None else ts, 3)
                if ip:
                    item["ip"] = ip
                if ua:
                    item["ua"] = ua
            with self._lock:
                if self._closed:
                    self.lost += 1
                    return
                self._queue.append(item)
                full = len(self._queue) >= self.batch_size
                self._start()
            if full:
                self._wake.set()
        except Exception:  # a tracking call must never break the caller's request
            logger.exception("beaconlake: could not queue an event")

    def flush(self) -> None:
        """Send everything queued now, in this thread."""
        while True:
            with self._lock:
                batch, self._queue = self._queue[: self.batch_size], self._queue[self.batch_size :]
            if not batch:
                return
            with self._send_lock:
                self._deliver(batch)

    def close(self) -> None:
        """Send what is queued and stop the background thread."""
        with self._lock:
            self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.timeout * (self.retries + 2))
        self.flush()

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="beaconlake-send", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:
                logger.exception("beaconlake: sending failed")
            if self._closed:
                return

    def _request(self, body: bytes, sig: str | None) -> urllib.request.Request:
        headers = {"content-type": "application/json", "authorization": f"Bearer {self.key}"}
        if sig:
            headers["x-beaconlake-signature"] = sig
        # S310: the scheme is http(s), checked in __init__
        return urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        body = json.dumps(batch, separators=(",", ":")).encode()
        sig = signature(self.key, body, int(time.time())) if self.sign else None
        for attempt in range(self.retries + 1):
            wait = self.backoff * 2**attempt
            try:
                request = self._request(body, sig)
                with urllib.request.urlopen(request, timeout=self.timeout):  # noqa: S310
                    self.sent += len(batch)
                    return
            except urllib.error.HTTPError as exc:
                reply = exc.read()
                if exc.code == 401 and b"already received" in reply:
                    self.sent += len(batch)  # an earlier attempt arrived
                    return
                if exc.code not in RETRY_STATUSES:
                    logger.warning("beaconlake: events refused (%s): %s", exc.code, reply[:200])
                    break
                retry_after = exc.headers.get("retry-after", "")
                if retry_after.isdigit():
                    wait = max(wait, float(retry_after))
            except (OSError, ValueError) as exc:  # URLError, timeouts, connection resets
                logger.info("beaconlake: sending failed (%s); will retry", type(exc).__name__)
            if attempt < self.retries:
                self.sleep(wait)
        self.lost += len(batch)


# ---- middleware: one pageview per successful GET, with the visitor's address and UA ------


def _first(value: str) -> str:
    return value.split(",", 1)[0].strip()


def wsgi_middleware(app: Any, sender: Sender, ip_header: str = "") -> Any:
    """Wrap a WSGI app (Flask: `app.wsgi_app = wsgi_middleware(app.wsgi_app, sender)`).
    `ip_header` names a trusted proxy header (e.g. "X-Forwarded-For") holding the client."""
    environ_key = "HTTP_" + ip_header.upper().replace("-", "_") if ip_header else ""

    def middleware(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        def recording_start(status: str, headers: Any, *rest: Any) -> Any:
            if environ.get("REQUEST_METHOD") == "GET" and status[:1] in "23":
                host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
                url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}"
                url += environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
                ip = _first(environ.get(environ_key, "")) or environ.get("REMOTE_ADDR")
                ua = environ.get("HTTP_USER_AGENT")
                sender.event("pageview", url, ip=ip, ua=ua, referrer=environ.get("HTTP_REFERER"))
            return start_response(status, headers, *rest)

        result: Iterable[bytes] = app(environ, recording_start)
        return result

    return middleware


def asgi_middleware(app: Any, sender: Sender, ip_header: str = "") -> Any:
    """Wrap an ASGI app (FastAPI/Starlette: `app = asgi_middleware(app, sender)`)."""
    header = ip_header.lower().encode()

    async def middleware(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "GET":
            await app(scope, receive, send)
            return
        headers = {k.lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}

        async def recording_send(message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.start" and message["status"] < 400:
                host = headers.get(b"host", "")
                url = f"{scope.get('scheme', 'http')}://{host}{scope.get('path', '/')}"
                client = scope.get("client") or ("", 0)
                ip = _first(headers.get(header, "")) if header else ""
                sender.event(
                    "pageview",
                    url,
                    ip=ip or client[0],
                    ua=headers.get(b"user-agent"),
                    referrer=headers.get(b"referer"),
                )
            await send(message)

        await app(scope, receive, recording_send)

    return middleware


def django_middleware(sender: Sender) -> Callable[[Any], Any]:
    """A Django middleware factory: in a module of your project write
    `tracking = django_middleware(sender)` and list "<module>.tracking" in MIDDLEWARE."""

    def factory(get_response: Any) -> Any:
        def middleware(request: Any) -> Any:
            response = get_response(request)
            if request.method == "GET" and response.status_code < 400:
                meta = request.META
                sender.event(
                    "pageview",
                    request.build_absolute_uri(request.path),
                    ip=meta.get("REMOTE_ADDR"),
                    ua=meta.get("HTTP_USER_AGENT"),
                    referrer=meta.get("HTTP_REFERER"),
                )
            return response

        return middleware

    return factory
