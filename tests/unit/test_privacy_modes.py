"""Minimal mode and its flags on the collector (ingest.privacy via `collect`), address
truncation before the hash, the settings that switch them, and what the stats answers say."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from beaconlake.config import Privacy, Settings
from beaconlake.ingest.anonymise import visitor_id
from beaconlake.ingest.privacy import truncate_address
from beaconlake.ingest.service import CollectPolicy, collect
from beaconlake.model import RequestMeta
from beaconlake.stats import registry_privacy
from tests.conftest import CHROME_UA, IPHONE_UA

NOW = datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
PV = {
    "n": "pageview",
    "u": "https://example.com/p",
    "d": "example.com",
    "r": "https://news.example.org/item?id=7#top",
}
SALT = b"s" * 32
POLICY = CollectPolicy(sites=frozenset({"example.com"}))


def row(privacy: Privacy, ip: str = "198.51.100.7", ua: str = IPHONE_UA, **policy):
    meta = RequestMeta(ip=ip, user_agent=ua)
    policy_ = replace(POLICY, privacy=privacy, **policy)
    (event,) = collect(PV, meta, policy_, lambda day: SALT, NOW).events
    return event


def test_standard_mode_keeps_everything() -> None:
    event = row(Privacy())
    assert event.ts == datetime(2026, 5, 1, 12, 30, 15, 123000)
    assert event.browser_version and event.os_version and event.device == "mobile"
    assert event.referrer == "https://news.example.org/item"
    assert event.visitor_id == visitor_id(SALT, "example.com", "198.51.100.7", IPHONE_UA)


def test_hourly_timestamps_round_down_to_the_hour_and_keep_the_day() -> None:
    event = row(Privacy(hourly_timestamps=True))
    assert event.ts == datetime(2026, 5, 1, 12, 0, 0)
    assert event.dt == "2026-05-01"
    assert event.browser_version is not None  # nothing else changes


def test_no_versions_keeps_the_families() -> None:
    event = row(Privacy(no_versions=True))
    assert (event.browser_version, event.os_version) == (None, None)
    assert (event.browser, event.os) == ("Mobile Safari", "iOS")
    assert event.device == "mobile"


def test_no_device_drops_the_device() -> None:
    event = row(Privacy(no_device=True))
    assert event.device is None
    assert event.browser == "Mobile Safari"


def test_referrer_host_only_keeps_the_host() -> None:
    assert row(Privacy(referrer_host_only=True)).referrer == "news.example.org"
    assert row(Privacy(referrer_host_only=True)).referrer_source == "news.example.org"


def test_country_only_keeps_the_country() -> None:
    meta = RequestMeta(ip="198.51.100.7", user_agent=CHROME_UA, country_header="DE")
    policy = replace(POLICY, privacy=Privacy(country_only=True))
    (event,) = collect(PV, meta, policy, lambda day: SALT, NOW).events
    assert event.country == "DE"


def test_no_visitor_id_gives_every_event_its_own_id() -> None:
    ids = itertools.count(1)
    privacy = Privacy(no_visitor_id=True)
    first = row(privacy, event_id=lambda: next(ids))
    second = row(privacy, event_id=lambda: next(ids))
    assert (first.visitor_id, second.visitor_id) == (1, 2)
    # the default id is fresh each time and not the visitor hash
    a, b = row(privacy), row(privacy)
    hashed = visitor_id(SALT, "example.com", "198.51.100.7", IPHONE_UA)
    assert a.visitor_id != b.visitor_id and hashed not in (a.visitor_id, b.visitor_id)


def test_no_visitor_id_drops_engagement_beacons() -> None:
    engagement = {"n": "engagement", "u": "https://example.com/p", "d": "example.com", "e": 5000}
    meta = RequestMeta(ip="198.51.100.7", user_agent=CHROME_UA)
    policy = replace(POLICY, privacy=Privacy(no_visitor_id=True))
    outcome = collect(engagement, meta, policy, lambda day: SALT, NOW)
    assert (outcome.events, outcome.dropped) == ((), "engagement")
    assert collect(engagement, meta, POLICY, lambda day: SALT, NOW).events


def test_truncation_hashes_the_network_not_the_address() -> None:
    privacy = Privacy(truncate_addresses=True)
    one, two = row(privacy, ip="198.51.100.7"), row(privacy, ip="198.51.100.250")
    assert one.visitor_id == two.visitor_id
    assert one.visitor_id == visitor_id(SALT, "example.com", "198.51.100.0", IPHONE_UA)
    assert row(privacy, ip="198.51.101.7").visitor_id != one.visitor_id
    assert row(Privacy(), ip="198.51.100.250").visitor_id != row(Privacy()).visitor_id


def test_truncation_applies_to_the_country_lookup_too() -> None:
    seen: list[str] = []

    def lookup(ip: str) -> str:
        seen.append(ip)
        return "NL"

    policy = replace(POLICY, privacy=Privacy(truncate_addresses=True))
    meta = RequestMeta(ip="2001:db8:aaaa:bbbb:cccc::1", user_agent=CHROME_UA)
    collect(PV, meta, policy, lambda day: SALT, NOW, lookup)
    assert seen == ["2001:db8:aaaa::"]


@pytest.mark.parametrize(
    ("address", "truncated"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("203.0.113.0", "203.0.113.0"),
        ("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", "2001:db8:aaaa::"),
        ("::ffff:203.0.113.77", "203.0.113.0"),
        ("unknown", "unknown"),
    ],
)
def test_truncate_address(address: str, truncated: str) -> None:
    assert truncate_address(address) == truncated


def test_minimal_mode_switches_on_all_but_no_visitor_id(monkeypatch) -> None:
    monkeypatch.setenv("BEACONLAKE_PRIVACY", "minimal")
    privacy = Settings.from_env().privacy
    assert privacy == Privacy.minimal()
    assert privacy.hourly_timestamps and privacy.truncate_addresses and privacy.no_device
    assert not privacy.no_visitor_id
    monkeypatch.setenv("BEACONLAKE_PRIVACY_NO_VISITOR_ID", "true")
    monkeypatch.setenv("BEACONLAKE_PRIVACY_NO_DEVICE", "false")
    privacy = Settings.from_env().privacy
    assert privacy.no_visitor_id and not privacy.no_device


def test_each_flag_exists_alone(monkeypatch) -> None:
    monkeypatch.delenv("BEACONLAKE_PRIVACY", raising=False)
    assert Settings.from_env().privacy == Privacy()
    monkeypatch.setenv("BEACONLAKE_TRUNCATE_ADDRESSES", "true")
    monkeypatch.setenv("BEACONLAKE_PRIVACY_REFERRER_HOST_ONLY", "1")
    assert Settings.from_env().privacy == Privacy(truncate_addresses=True, referrer_host_only=True)


def test_a_bad_mode_is_refused_with_a_sentence(monkeypatch) -> None:
    monkeypatch.setenv("BEACONLAKE_PRIVACY", "strict")
    with pytest.raises(ValueError, match="BEACONLAKE_PRIVACY must be one of standard, minimal"):
        Settings.from_env()


def test_minimal_mode_in_one_row() -> None:
    event = row(Privacy.minimal(), ip="198.51.100.99")
    assert event.ts.minute == 0 and event.ts.second == 0
    assert (event.browser_version, event.os_version, event.device) == (None, None, None)
    assert event.referrer == "news.example.org"
    assert event.visitor_id == visitor_id(SALT, "example.com", "198.51.100.0", IPHONE_UA)


def test_v2_answer_nulls_the_unavailable_metrics_and_says_why() -> None:
    answer = {
        "query": {"metrics": ["visitors", "bounce_rate", "visit_duration"]},
        "results": [
            {
                "dimensions": [],
                "metrics": [10, 40.0, 120],
                "comparison": {"dimensions": [], "metrics": [8, 50.0, 90], "change": [25, -10, 33]},
            }
        ],
        "meta": {},
    }
    out = registry_privacy.blank_unavailable(answer, Privacy(hourly_timestamps=True))
    assert out["results"][0]["metrics"] == [10, None, None]
    assert out["results"][0]["comparison"]["metrics"] == [8, None, None]
    assert out["results"][0]["comparison"]["change"] == [25, None, None]
    assert set(out["meta"]["unavailable"]) == {"bounce_rate", "visit_duration"}
    assert "hour" in out["meta"]["unavailable"]["bounce_rate"]
    assert "visitors_are_visits" not in out["meta"]
    assert "approximate" not in out["meta"]  # visits were not asked for


def test_hourly_timestamps_make_visits_approximate_and_leave_engaged_time() -> None:
    hourly = Privacy(hourly_timestamps=True)
    meta = registry_privacy.privacy_meta(hourly, ["visits", "time_on_page", "scroll_depth"])
    assert list(meta) == ["approximate"]
    assert "two" in meta["approximate"]["visits"]


def test_no_visitor_id_says_visitors_are_visits() -> None:
    meta = registry_privacy.privacy_meta(Privacy(no_visitor_id=True), ["visitors", "bounce_rate"])
    assert meta["visitors_are_visits"] is True
    assert "visitor id" in meta["unavailable"]["bounce_rate"]
    engaged = registry_privacy.unavailable(Privacy(no_visitor_id=True))
    assert "engagement" in engaged["time_on_page"] and "scroll_depth" in engaged
    assert registry_privacy.privacy_meta(Privacy(), ["bounce_rate"]) == {}


def test_v1_rows_and_aggregates_are_nulled() -> None:
    aggregate = {"visitors": {"value": 3}, "bounce_rate": {"value": 12.5, "change": 4}}
    meta = registry_privacy.blank_v1(aggregate, Privacy.minimal())
    assert aggregate == {"visitors": {"value": 3}, "bounce_rate": {"value": None, "change": None}}
    assert list(meta["unavailable"]) == ["bounce_rate"]
    rows = [{"date": "2026-05-01", "visitors": 3, "views_per_visit": 1.5}]
    registry_privacy.blank_v1(rows, Privacy.minimal())
    assert rows[0]["views_per_visit"] is None and rows[0]["visitors"] == 3


def test_realtime_per_minute_is_unavailable_with_hourly_timestamps() -> None:
    answer = {"visitors": 4, "series": [{"minute": "x", "visitors": 4, "pageviews": 5}]}
    out = registry_privacy.blank_realtime(answer, Privacy(hourly_timestamps=True))
    assert out["visitors"] is None and out["series"][0]["pageviews"] is None
    assert "realtime_per_minute" in out["meta"]["unavailable"]
    kept = registry_privacy.blank_realtime({"visitors": 4, "series": []}, Privacy())
    assert kept == {"visitors": 4, "series": []}


def test_the_truncation_bench_measures_an_undercount_on_shared_networks() -> None:
    from bench import truncation

    shared = truncation.Mix("t", 60, 6, 0.3, 0.3, 2)
    label, people, full, truncated, change = truncation.mix_row(shared)
    assert int(people.replace(",", "")) == 60 * truncation.DAYS
    assert int(truncated.replace(",", "")) < int(full.replace(",", ""))
    assert change.startswith("-") and change.endswith(" %")


def test_dashboard_says_na_with_the_servers_reason() -> None:
    import json
    import subprocess
    from pathlib import Path

    fmt = Path(__file__).resolve().parents[2] / "layers/beaconlake/dashboard/static/format.mjs"
    script = (
        f"import {{ unavailable }} from {json.dumps(fmt.as_uri())};"
        "const meta = { unavailable: { bounce_rate: 'timestamps are rounded to the hour' } };"
        "console.log(JSON.stringify([unavailable(meta, 'bounce_rate'),"
        " unavailable(meta, 'visitors'), unavailable({}, 'bounce_rate')]));"
    )
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    shown, visitors, plain = json.loads(done.stdout)
    assert shown == {"text": "n/a", "title": "Not available: timestamps are rounded to the hour"}
    assert visitors is None and plain is None
