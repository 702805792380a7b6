"""Who gets in and what gets out: the collector's domain allow-list and origin check, the
stats API's key handling and brute-force limits, bot filtering, and logs free of keys, IPs
and User-Agents."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from beaconlake import keys, wiring
from beaconlake.ingest import useragent
from beaconlake.ingest.useragent import MAX_UA_CHARS, parse_user_agent
from beaconlake.keys import create_key
from functions.collect.app import handler as collect
from functions.stats.app import handler as stats
from tests.apigw import Context, http_event
from tests.conftest import CHROME_UA, FIREFOX_UA

PV = {"n": "pageview", "u": "https://example.com/a", "d": "example.com"}


def post(data: dict, headers: dict | None = None, ip: str = "203.0.113.9") -> dict:
    hdrs = {"content-type": "text/plain", "user-agent": FIREFOX_UA, **(headers or {})}
    event = http_event("POST", "/api/event", body=json.dumps(data), headers=hdrs, source_ip=ip)
    return collect(event, Context())


def dropped(res: dict) -> str | None:
    assert res["statusCode"] == 202, res
    return res["headers"].get("x-beaconlake-dropped")


def pending() -> list:
    return wiring.ports().sink.pending()  # type: ignore[attr-defined]


def test_events_for_domains_not_on_the_allow_list_are_dropped(local_env) -> None:
    assert dropped(post({**PV, "d": "attacker.test", "u": "https://attacker.test/"})) == (
        "unknown_site"
    )
    assert dropped(post({**PV, "d": "notexample.com"})) == "unknown_site"
    assert pending() == []
    # one beacon for a tracked and an untracked domain: only the tracked one is stored
    assert dropped(post({**PV, "d": "attacker.test,example.com"})) is None
    assert [e.site_id for e in pending()] == ["example.com"]


@pytest.fixture
def origin_checked(local_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEACONLAKE_CHECK_ORIGIN", "1")
    wiring.reset()


@pytest.mark.parametrize(
    "origin",
    ["https://evil.test", "https://example.com.evil.test", "https://notexample.com", "null", "x"],
)
def test_with_origin_checks_a_foreign_origin_is_dropped(origin_checked, origin: str) -> None:
    res = post(PV, {"origin": origin})
    assert dropped(res) == "origin"
    assert json.loads(res["body"]) == {"status": "dropped", "reason": "origin"}
    assert pending() == []


@pytest.mark.parametrize(
    "origin", ["https://example.com", "https://www.example.com", "http://blog.example.com:8080"]
)
def test_with_origin_checks_the_site_and_its_subdomains_pass(origin_checked, origin: str) -> None:
    assert dropped(post(PV, {"origin": origin})) is None
    assert len(pending()) == 1


def test_origin_checks_keep_only_the_sites_the_origin_belongs_to(origin_checked) -> None:
    both = {**PV, "d": "example.com,shop.test"}
    assert dropped(post(both, {"origin": "https://shop.test"})) is None
    assert [e.site_id for e in pending()] == ["shop.test"]


def test_without_an_origin_header_or_with_the_check_off_nothing_is_dropped(
    local_env, monkeypatch
) -> None:
    assert dropped(post(PV, {"origin": "https://evil.test"})) is None  # off by default
    monkeypatch.setenv("BEACONLAKE_CHECK_ORIGIN", "1")
    wiring.reset()
    assert dropped(post(PV)) is None  # the pixel and non-CORS clients send no Origin


def test_long_and_non_browser_user_agents_are_bots_without_running_the_crawler_regexes(
    monkeypatch,
) -> None:
    def no_regex_run():
        raise AssertionError("crawlerdetect must not see this UA")

    parse_user_agent.cache_clear()
    monkeypatch.setattr(useragent, "_crawler_detect", no_regex_run)
    for ua in ["A" * 16_000, CHROME_UA + " x" * MAX_UA_CHARS, "curl/8.5.0", "python-requests/2.32"]:
        assert parse_user_agent(ua).is_bot
    parse_user_agent.cache_clear()


@pytest.mark.parametrize(
    "ua",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/130.0 Safari/537.36",
        "Mozilla/5.0 (compatible; SomeNewCrawler/1.0)",
        "Mozilla/5.0 (Windows NT 10.0) Chrome/130.0 Safari/537.36 (contact: ops@example.net)",
    ],
)
def test_bots_are_dropped_by_the_collector(local_env, ua: str) -> None:
    assert dropped(post(PV, {"user-agent": ua})) == "bot"
    assert pending() == []


# ---- stats API: keys ---------------------------------------------------------------


def test_keys_are_compared_in_constant_time(local_env, monkeypatch) -> None:
    calls: list[tuple[str, str]] = []
    real = keys.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(keys.hmac, "compare_digest", spy)
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    assert keys.verify_key(wiring.ports().keys, token) is not None
    assert keys.verify_key(wiring.ports().keys, token[:-2] + "zz") is None
    assert len(calls) == 2
    assert all(len(a) == len(b) == 64 for a, b in calls)  # SHA-256 hex digests, not secrets
    secret = token.split("_", 2)[2]
    assert all(secret not in a and secret not in b for a, b in calls)


def stats_get(token: str | None, ip: str, site: str = "example.com") -> dict:
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    query = {"site_id": site, "period": "day"}
    event = http_event("GET", "/api/v1/stats/aggregate", headers=headers, query=query, source_ip=ip)
    return stats(event, Context())


def bad_token(key_id: str = "0123456789ab") -> str:
    return f"bl_{key_id}_" + "x" * 43


@pytest.fixture
def strict_auth(local_env, monkeypatch) -> str:
    monkeypatch.setenv("BEACONLAKE_AUTH_FAILURES_PER_MINUTE", "1")
    monkeypatch.setenv("BEACONLAKE_AUTH_FAILURES_BURST", "3")
    wiring.reset()
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    return token


def test_a_client_guessing_keys_is_locked_out_with_429_json(strict_auth) -> None:
    codes = [stats_get(bad_token(), "198.51.100.1")["statusCode"] for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    res = stats_get(strict_auth, "198.51.100.1")  # even a valid key: the client is locked out
    assert res["statusCode"] == 429 and int(res["headers"]["retry-after"]) >= 1
    assert json.loads(res["body"]) == {"error": "too many failed log-in attempts; retry later"}
    assert stats_get(strict_auth, "198.51.100.2")["statusCode"] == 200


def test_guesses_at_one_key_id_from_many_clients_are_limited_but_its_owner_is_not(
    strict_auth,
) -> None:
    key_id = strict_auth.split("_")[1]
    codes = [stats_get(bad_token(key_id), f"198.51.100.{i}")["statusCode"] for i in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    assert stats_get(strict_auth, "198.51.100.99")["statusCode"] == 200
    # other key ids and missing keys are not affected
    assert stats_get(bad_token(), "198.51.100.50")["statusCode"] == 401
    assert stats_get(None, "198.51.100.51")["statusCode"] == 401


def test_a_key_is_scoped_to_its_sites(local_env) -> None:
    token, _ = create_key(wiring.ports().keys, ("shop.test",))
    assert stats_get(token, "198.51.100.1")["statusCode"] == 403
    assert stats_get(token, "198.51.100.1", "shop.test")["statusCode"] == 200


# ---- logs --------------------------------------------------------------------------


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.text: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.text.append(record.getMessage())
        self.text.append(repr(record.__dict__))


@pytest.fixture
def all_logs() -> Iterator[Capture]:
    """Every record of every logger, at DEBUG, with its extra fields."""
    capture = Capture()
    loggers = [logging.getLogger()] + [
        logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(capture)
        lg.setLevel(logging.DEBUG)
    yield capture
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(capture)
        lg.setLevel(level)


SECRET_IP = "198.51.100.231"
SECRET_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0 QuokkaZed/9"


def test_no_key_ip_or_user_agent_reaches_any_log(local_env, monkeypatch, all_logs, capfd) -> None:
    monkeypatch.setenv("BEACONLAKE_INGEST_IP_BURST", "3")
    monkeypatch.setenv("BEACONLAKE_INGEST_IP_RATE", "0.001")
    monkeypatch.setenv("BEACONLAKE_AUTH_FAILURES_BURST", "2")
    wiring.reset()
    token, _ = create_key(wiring.ports().keys, ("example.com",))
    ua = {"user-agent": SECRET_UA}
    post(PV, ua, SECRET_IP)  # accepted
    post({**PV, "d": "other.test"}, ua, SECRET_IP)  # dropped
    post({"n": "pageview"}, ua, SECRET_IP)  # 400
    post(PV, ua, SECRET_IP)  # 429
    pixel = http_event("GET", "/e.gif", headers=ua, query={"d": "x"}, source_ip=SECRET_IP)
    collect(pixel, Context())
    wiring.ports().sink.flush()
    for t in [token, token[:-3] + "abc", bad_token(), bad_token(), "garbage"]:
        stats_get(t, SECRET_IP)
    stats_get(token, "198.51.100.3", "unknown.test")
    printed = capfd.readouterr()
    text = "\n".join([*all_logs.text, printed.out, printed.err])
    assert "stats request with an invalid key" in text, "the capture is broken"
    secret = token.split("_", 2)[2]
    for needle in [SECRET_IP, "QuokkaZed", secret, "xxxxxxxxxx", "garbage"]:
        assert needle not in text, needle


def test_oversized_headers_get_431_json(local_env) -> None:
    res = post(PV, {"x-padding": "a" * 17_000})
    assert res["statusCode"] == 431
    assert json.loads(res["body"])["field"] == "headers"
    assert dropped(post(PV, {"x-padding": "a" * 8_000})) is None


def test_dates_at_the_ends_of_the_calendar_are_4xx_not_5xx(local_env) -> None:
    from fastapi.testclient import TestClient

    from beaconlake.handlers.stats import create_app

    token, _ = create_key(wiring.ports().keys, ("example.com",))
    client = TestClient(create_app(), headers={"authorization": f"Bearer {token}"})
    res = client.get(
        "/api/v1/stats/timeseries", params={"site_id": "example.com", "date": "0001-01-01"}
    )
    assert res.status_code == 422 and res.json()["field"] == "date"
    body = {
        "site_id": "example.com",
        "metrics": ["visitors"],
        "date_range": ["0001-01-01", "0001-01-02"],
        "include": {"comparisons": {"mode": "previous_period"}},
    }
    res = client.post("/api/v2/query", json=body)
    assert res.status_code == 400 and res.json() == {
        "error": "a date is out of range",
        "field": "date_range",
    }
