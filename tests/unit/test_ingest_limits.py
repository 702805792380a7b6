"""Issue 26, the ingest side: one beacon names at most a few sites and the rate limits count
events; revenue amounts never raise and the < 10^13 rule holds after rounding; a non-ASCII
User-Agent's slow rules see a bounded prefix; the dashboard's static route and the stats
API's trailing-slash handling answer 4xx without trusting the request; every file holding
event rows is 0600 in 0700 directories."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from beaconlake import wiring
from beaconlake.adapters.compaction import FAN_IN
from beaconlake.adapters.parquet_sink import ParquetSink
from beaconlake.ingest import useragent
from beaconlake.ingest.payload import PayloadError, parse_beacon
from beaconlake.wiring import local_engine
from functions.collect.app import handler as collect
from functions.stats.app import handler as stats
from tests.apigw import Context, http_event
from tests.conftest import FIREFOX_UA
from tests.unit.test_session_rollup import store
from tests.unit.test_spool import event

PV = {"n": "pageview", "u": "https://example.com/amp", "d": "example.com"}


def post(data: dict, ip: str = "203.0.113.9") -> dict:
    headers = {"content-type": "text/plain", "user-agent": FIREFOX_UA}
    body = json.dumps(data)
    return collect(
        http_event("POST", "/api/event", body=body, headers=headers, source_ip=ip), Context()
    )


def pixel(query: dict[str, str], ip: str = "203.0.113.9") -> dict:
    headers = {"user-agent": FIREFOX_UA}
    return collect(
        http_event("GET", "/e.gif", headers=headers, query=query, source_ip=ip), Context()
    )


def pending() -> list:
    return wiring.ports().sink.pending()  # type: ignore[attr-defined]


def rejected(data: dict) -> PayloadError:
    with pytest.raises(PayloadError) as err:
        parse_beacon(data)
    return err.value


# --- 1. one beacon, a few sites; the limits count events ---------------------------------


def test_a_site_named_many_times_is_one_site() -> None:
    assert parse_beacon({**PV, "d": ",".join(["example.com"] * 5000)}).domains == ("example.com",)
    folded = parse_beacon({**PV, "d": "Example.com,www.example.com,WWW.EXAMPLE.COM.,shop.test"})
    assert folded.domains == ("example.com", "shop.test")


def test_a_beacon_names_at_most_ten_different_sites() -> None:
    ten = ",".join(f"s{i}.test" for i in range(10))
    assert len(parse_beacon({**PV, "d": ten}).domains) == 10
    err = rejected({**PV, "d": ten + ",s10.test"})
    assert (err.field, err.rule) == ("domain", "max_count")


def test_one_post_repeating_the_site_5000_times_stores_one_event(local_env) -> None:
    res = post({**PV, "d": ",".join(["example.com"] * 5000)})
    assert res["statusCode"] == 202
    assert len(pending()) == 1  # was 5,000


def test_one_pixel_repeating_the_site_3000_times_stores_one_event(local_env) -> None:
    res = pixel({"d": ",".join(["example.com"] * 3000), "u": "https://example.com/"})
    assert res["statusCode"] == 200 and "x-beaconlake-dropped" not in res["headers"]
    assert len(pending()) == 1  # was 3,000


def test_too_many_sites_is_a_400_naming_the_field_and_the_rule(local_env) -> None:
    res = post({**PV, "d": ",".join(f"site{i}.test" for i in range(11)) + ",example.com"})
    assert res["statusCode"] == 400
    body = json.loads(res["body"])
    assert (body["field"], body["rule"]) == ("domain", "max_count") and body["error"]
    assert pending() == []


def test_the_client_limit_counts_events_not_requests(local_env, monkeypatch) -> None:
    monkeypatch.setenv("BEACONLAKE_INGEST_IP_RATE", "0.001")
    monkeypatch.setenv("BEACONLAKE_INGEST_IP_BURST", "3")
    wiring.reset()
    both = {**PV, "d": "example.com,shop.test"}  # two tracked sites: two events
    assert post(both)["statusCode"] == 202
    res = post(both)  # one token left, two events
    assert res["statusCode"] == 429 and json.loads(res["body"])["field"] == "client"
    assert len(pending()) == 2
    assert post(both, ip="203.0.113.10")["statusCode"] == 202  # another client is unaffected


def test_the_site_limit_counts_events(local_env, monkeypatch) -> None:
    monkeypatch.setenv("BEACONLAKE_INGEST_SITE_RATE", "0.001")
    monkeypatch.setenv("BEACONLAKE_INGEST_SITE_BURST", "3")
    wiring.reset()
    repeated = {**PV, "d": "example.com,www.example.com,EXAMPLE.com"}
    codes = [post(repeated, ip=f"198.51.100.{i}")["statusCode"] for i in range(4)]
    assert codes == [202, 202, 202, 429]  # one event each: the repeats are one site
    assert len(pending()) == 3


# --- 2. revenue that can never raise, and a rule enforced exactly --------------------------


@pytest.mark.parametrize(
    "amount",
    ["1e9999999", "-1e9999999", "1E+999999999999999999", "9999999999999.99999", "1e13", 1e13],
)
def test_revenue_amounts_past_the_rule_are_a_400(amount: object) -> None:
    err = rejected({**PV, "n": "Purchase", "$": {"amount": amount, "currency": "EUR"}})
    assert (err.field, err.rule) == ("revenue", "amount")


def test_revenue_just_below_the_rule_and_tiny_amounts_are_kept_rounded() -> None:
    def amount(value: object) -> Decimal | None:
        beacon = parse_beacon({**PV, "$": {"amount": value, "currency": "EUR"}})
        return beacon.revenue_amount

    assert amount("9999999999999.9999") == Decimal("9999999999999.9999")
    assert amount("-9999999999999.99994") == Decimal("-9999999999999.9999")
    assert amount("1e-9999999") == Decimal("0.0000")
    assert amount("12.34565") == Decimal("12.3456")  # half to even, as before
    assert amount(9.5) == Decimal("9.5000")


@pytest.mark.parametrize("amount", ["1e9999999", "9999999999999.99999"])
def test_hostile_revenue_through_the_handler_is_a_400_and_nothing_is_stored(
    local_env, amount: str
) -> None:
    res = post({**PV, "n": "Purchase", "$": json.dumps({"amount": amount, "currency": "USD"})})
    assert res["statusCode"] == 400, res  # was 500 (decimal.Overflow), and 202 with 1e13
    assert json.loads(res["body"])["field"] == "revenue"
    assert pending() == []


# --- 3. a non-ASCII User-Agent's slow rules see a bounded prefix ----------------------------


def test_a_non_ascii_ua_reaches_pythons_regexes_only_as_a_256_character_prefix(
    monkeypatch,
) -> None:
    seen: list[int] = []

    class Recorder:
        def isCrawler(self, ua: str) -> bool:  # noqa: N802 - crawlerdetect's name
            seen.append(len(ua))
            return False

    real_rules = useragent._browser_rules()

    def recorded(rule: Callable[[str], object]) -> Callable[[str], object]:
        def call(ua: str) -> object:
            seen.append(len(ua))
            return rule(ua)

        return call

    monkeypatch.setattr(useragent, "_crawler_detect", Recorder)
    browsers, systems = real_rules
    monkeypatch.setattr(
        useragent, "_browser_rules", lambda: (recorded(browsers), recorded(systems))
    )
    ua = (FIREFOX_UA + " é" + "A1" * 300)[:512]
    agent = useragent.parse_user_agent.__wrapped__(ua)
    assert agent.browser == "Firefox" and not agent.is_bot
    assert seen and max(seen) <= 256  # was 512


def test_a_bot_token_past_the_prefix_of_a_non_ascii_ua_is_still_a_bot() -> None:
    filler = " ü" + "x" * 300
    for token in ("Mediapartners-Google", "HTTrack", "AhrefsSiteAudit/6.1"):
        ua = FIREFOX_UA + filler + " " + token
        assert len(ua) <= useragent.MAX_UA_CHARS
        assert useragent.parse_user_agent.__wrapped__(ua).is_bot, token


# --- 2, 5. the HTTP routes of the stats function -------------------------------------------


def get(path: str, headers: dict[str, str] | None = None) -> dict:
    return stats(http_event("GET", path, headers=headers or {}), Context())


@pytest.mark.parametrize(
    "path",
    [
        "/api/dashboard/static/a%00",
        "/api/dashboard/static/a\x00.js",
        "/api/dashboard/static/" + "a" * 5000 + ".js",
    ],
)
def test_the_dashboards_static_route_answers_404_for_impossible_names(local_env, path) -> None:
    res = get(path)
    assert res["statusCode"] == 404, res  # was 500 (embedded null byte; name too long)
    assert json.loads(res["body"]) == {"error": "not found"}


def test_a_trailing_slash_never_redirects_to_the_host_header(local_env) -> None:
    res = get("/api/docs/", {"host": "evil.test", "x-forwarded-host": "evil.test"})
    location = res.get("headers", {}).get("location", "")
    assert "evil.test" not in location and "evil.test" not in res.get("body", "")
    assert res["statusCode"] == 404 or location.startswith("/")  # was 307 to https://evil.test


# --- 6. rows on disk: 0600 files in 0700 directories ---------------------------------------


def modes(root: Path) -> tuple[set[str], set[str]]:
    """Octal modes of the files that hold rows and of every directory under `root`."""
    files = {oct(stat.S_IMODE(p.stat().st_mode)) for p in root.rglob("*.parquet")}
    dirs = {oct(stat.S_IMODE(p.stat().st_mode)) for p in root.rglob("*") if p.is_dir()}
    return files, dirs


def test_parquet_merged_and_rollup_files_are_private(tmp_path: Path) -> None:
    day = "2026-06-01"
    sink = ParquetSink(tmp_path, flush_rows=10**6, flush_seconds=3600)
    for n in range(FAN_IN + 1):  # enough flushes for a merge
        sink.put([event(n, day)])
        sink.flush()
    sink.close()
    assert list(tmp_path.rglob("merged-*.parquet")), "no merge happened"
    store(tmp_path, "192.0.2.1", "/", datetime(2026, 1, 1, 9, tzinfo=UTC))
    engine = local_engine(tmp_path, cached_answers=0, today=lambda: date(2026, 1, 3))
    engine.session_rollup("example.com", date(2026, 1, 1), date(2026, 1, 2))
    engine.close()
    assert list(tmp_path.rglob("rollup/*/*/*.parquet")), "no rollup was written"
    assert oct(stat.S_IMODE((tmp_path / "spool").stat().st_mode)) == "0o700"
    files, dirs = modes(tmp_path / "events")
    rollup_files, rollup_dirs = modes(tmp_path / "rollup")
    assert files | rollup_files == {"0o600"}  # was 0o644
    assert dirs | rollup_dirs | {
        oct(stat.S_IMODE((tmp_path / d).stat().st_mode)) for d in ("events", "rollup")
    } == {"0o700"}


def hostile_ua_costs() -> list[float]:
    """CPU milliseconds to parse 33 distinct 512-character non-ASCII User-Agents built to be
    slow (long tokens crawlerdetect's and uap's regexes scan repeatedly), each parsed once."""
    import time

    useragent.parse_user_agent.__wrapped__(FIREFOX_UA + " é")  # rules compiled first
    useragent.device_family(FIREFOX_UA + " é")
    prefixes = ("Mozilla/5.0 é", FIREFOX_UA + " ", "Mozilla/5.0 é SmartWatch(")
    fills = ("A", "aé", "é", "1", "A1", "a-", "a.", ";", "日本語", "Ab", "x_")
    costs = []
    for prefix in prefixes:
        for fill in fills:
            ua = (prefix + fill * 600)[:511] + "ü"
            started = time.process_time()
            useragent.parse_user_agent.__wrapped__(ua)
            costs.append((time.process_time() - started) * 1000)
    return sorted(costs)


if __name__ == "__main__":  # .venv/bin/python -m tests.unit.test_ingest_limits
    costs = hostile_ua_costs()
    print(
        f"UA parse, {len(costs)} hostile UAs: median {costs[len(costs) // 2]:.1f} ms, max {costs[-1]:.1f} ms"
    )
