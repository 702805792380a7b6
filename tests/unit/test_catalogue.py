"""The site catalogue (beaconlake.sites.Catalogue): sites, goals, saved funnels, annotations and
segments in the record store, validated, seeded from the configuration, read from a snapshot."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from beaconlake.adapters.aws_logins import DynamoLoginStore
from beaconlake.adapters.file_logins import FileLoginStore
from beaconlake.site_ports import CatalogueError, Goal, Site
from beaconlake.sites import CATALOGUE_LIMITS, Catalogue, MemoryRecords
from beaconlake.sites.records import derived_id
from beaconlake.stats.goals import GoalConfigError

FUNNEL = [{"page": "/"}, {"event": "Signup"}]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refused(call: Any, status: int, field: str, rule: str) -> CatalogueError:
    with pytest.raises(CatalogueError) as caught:
        call()
    error = caught.value
    assert (error.status, error.field, error.rule) == (status, field, rule), error.as_body()
    return error


def test_sites_are_added_validated_renamed_and_removed() -> None:
    cat = Catalogue(MemoryRecords())
    added = cat.add_site("WWW.Example.COM", "Europe/Berlin")
    assert (added.domain, added.timezone) == ("example.com", "Europe/Berlin")
    assert cat.site("www.example.com") == added and "example.com" in cat
    assert cat.add_site("shop.test").timezone == "UTC"
    refused(lambda: cat.add_site("example.com"), 409, "domain", "exists")
    refused(lambda: cat.add_site("not a domain"), 400, "domain", "domain")
    refused(lambda: cat.add_site("localhost"), 400, "domain", "domain")
    refused(lambda: cat.add_site("x' OR 1=1 --.com"), 400, "domain", "domain")
    refused(lambda: cat.add_site("a.org", "Mars/Olympus"), 400, "timezone", "iana_zone")
    refused(lambda: cat.add_site("a.org", "../../etc/passwd"), 400, "timezone", "iana_zone")
    refused(lambda: cat.update_site("nope.org", timezone="UTC"), 404, "site_id", "not_found")

    cat.add_goal("example.com", Goal("Signup", event="Signup"))
    moved = cat.update_site("example.com", timezone="Asia/Tokyo", new_domain="example.org")
    assert moved == Site("example.org", "Asia/Tokyo", added.created)
    assert cat.site("example.com") is None
    assert [g.name for g in cat.goals("example.org")] == ["Signup"]
    assert cat.remove_site("example.org") and not cat.remove_site("example.org")
    assert cat.goals("example.org") == ()
    assert [s.domain for s in cat.sites()] == ["shop.test"]


def test_goals_are_found_or_created_and_names_are_unique() -> None:
    cat = Catalogue(MemoryRecords(), seed_sites=["example.com"])
    goal = cat.add_goal("example.com", Goal("Buy", event="Purchase", currency="eur"))
    assert goal.goal_id == derived_id("example.com", "Buy") and goal.currency == "EUR"
    assert cat.add_goal("example.com", Goal("Buy", event="Purchase", currency="EUR")) == goal
    refused(
        lambda: cat.add_goal("example.com", Goal("Buy", page="/buy")), 409, "display_name", "exists"
    )
    refused(lambda: cat.add_goal("example.com", Goal("X")), 400, "goal_type", "one_of")
    refused(lambda: cat.add_goal("example.com", Goal("X", page="buy")), 400, "page_path", "path")
    refused(
        lambda: cat.add_goal("example.com", Goal("X", event="E", currency="XXQ")),
        400,
        "currency",
        "iso4217",
    )
    refused(
        lambda: cat.add_goal("example.com", Goal("n" * 101, event="E")),
        400,
        "display_name",
        "max_chars",
    )
    refused(lambda: cat.add_goal("nope.org", Goal("X", event="E")), 404, "site_id", "not_found")
    assert cat.remove_goal("example.com", goal.goal_id)
    assert not cat.remove_goal("example.com", goal.goal_id)


def test_limits_are_one_record_and_enforced() -> None:
    cat = Catalogue(MemoryRecords(), seed_sites=["example.com"])
    for i in range(CATALOGUE_LIMITS.goals):
        cat.add_goal("example.com", Goal(f"g{i}", event=f"e{i}"))
    refused(lambda: cat.add_goal("example.com", Goal("one more", event="x")), 400, "goals", "limit")
    for i in range(CATALOGUE_LIMITS.funnels):
        cat.add_funnel("example.com", f"f{i}", FUNNEL)
    refused(lambda: cat.add_funnel("example.com", "one more", FUNNEL), 400, "funnels", "limit")
    cat.add_funnel("example.com", "f0", [{"page": "/a"}, {"page": "/b"}])  # a replacement fits


def test_funnels_segments_and_annotations_are_checked_by_the_query_parsers() -> None:
    cat = Catalogue(MemoryRecords(), seed_sites=["example.com"])
    funnel = cat.add_funnel("example.com", "Signup", FUNNEL)
    assert funnel.steps == tuple(FUNNEL)
    again = cat.add_funnel("example.com", "Signup", [{"page": "/pricing"}, {"event": "Signup"}])
    assert again.funnel_id == funnel.funnel_id and len(cat.funnels("example.com")) == 1
    refused(
        lambda: cat.add_funnel("example.com", "One", [{"page": "/"}]), 400, "steps", "funnel_step"
    )
    error = refused(
        lambda: cat.add_funnel("example.com", "Bad", [{"page": "no-slash"}, {"event": "x"}]),
        400,
        "steps[0].page",
        "funnel_step",
    )
    assert "page" in error.message
    assert cat.remove_funnel("example.com", funnel.funnel_id)

    segment = cat.add_segment("example.com", "Germans", [["is", "visit:country", ["DE"]]])
    assert cat.segments("example.com") == (segment,)
    with pytest.raises(CatalogueError) as caught:
        cat.add_segment("example.com", "Bad", [["is", "visit:nonsense", ["x"]]])
    assert caught.value.status == 400 and caught.value.field.startswith("filters")
    refused(lambda: cat.add_segment("example.com", "Empty", []), 400, "filters", "required")

    later = cat.add_annotation("example.com", date(2026, 3, 2), " Launch ")
    first = cat.add_annotation("example.com", "2026-03-01", "Blog post")  # type: ignore[arg-type]
    assert cat.annotations("example.com") == (first, later) and later.text == "Launch"
    assert cat.add_annotation("example.com", date(2026, 3, 2), "Launch") == later
    refused(
        lambda: cat.add_annotation("example.com", date(2026, 3, 2), "x" * 201),
        400,
        "text",
        "max_chars",
    )
    refused(lambda: cat.add_annotation("example.com", "03/02", "x"), 400, "date", "date")  # type: ignore[arg-type]


def test_the_configuration_seeds_once_and_never_undoes_the_owner(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.json"
    goals: dict[str, tuple[Goal, ...]] = {
        "example.com": (Goal("Signup", event="Signup"), Goal("Pricing", page="/pricing*"))
    }

    def catalogue() -> Catalogue:  # a new process over the same file
        return Catalogue(
            FileLoginStore(path),
            seed_sites=["example.com", "www.Shop.test"],
            seed_goals=lambda: goals,
        )

    first = catalogue()
    assert [s.domain for s in first.sites()] == ["example.com", "shop.test"]
    seeded = first.goals("example.com")
    assert [g.goal_id for g in seeded] == [
        derived_id("example.com", "Signup"),
        derived_id("example.com", "Pricing"),
    ]
    first.update_site("example.com", timezone="Europe/Paris")
    first.remove_site("shop.test")
    first.remove_goal("example.com", seeded[0].goal_id)

    second = catalogue()
    assert [(s.domain, s.timezone) for s in second.sites()] == [("example.com", "Europe/Paris")]
    assert [g.name for g in second.goals("example.com")] == ["Pricing"]
    assert second.goals("example.com")[0].goal_id == seeded[1].goal_id  # stable everywhere

    # the configuration drops a goal it seeded: gone, unless the owner had changed it
    goals = {"example.com": (Goal("Docs", page="/docs*"),)}
    assert [g.name for g in catalogue().goals("example.com")] == ["Docs"]


def test_a_broken_goal_configuration_is_the_operators_error() -> None:
    def broken() -> dict[str, tuple[Goal, ...]]:
        raise GoalConfigError("not JSON")

    cat = Catalogue(MemoryRecords(), seed_sites=["example.com"], seed_goals=broken)
    assert [s.domain for s in cat.sites()] == ["example.com"]  # the collector is unaffected
    with pytest.raises(GoalConfigError):
        cat.goals("example.com")


class CountingStore(MemoryRecords):
    def __init__(self) -> None:
        super().__init__()
        self.lists = 0

    def list(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        self.lists += 1
        return super().list(kind)


def test_reads_come_from_a_snapshot_kept_for_the_ttl() -> None:
    store, clock = CountingStore(), Clock()
    reader = Catalogue(store, ttl_seconds=60.0, clock=clock)  # the collector's process
    writer = Catalogue(store, ttl_seconds=60.0, clock=clock)  # the stats function's
    assert "new.example" not in reader
    lists = store.lists
    for _ in range(1000):
        assert "new.example" not in reader
    assert store.lists == lists  # a beacon costs no store read
    writer.add_site("new.example")
    assert "new.example" in writer  # its own write, at once
    clock.now += 59
    assert "new.example" not in reader
    clock.now += 1
    assert "new.example" in reader  # within the TTL, with no restart
    writer.add_site("other.example", "Europe/Rome")
    # whoever names a site (the API, a query) finds it at once; a beacon waits for the TTL
    found = reader.site("other.example")
    assert found is not None and found.timezone == "Europe/Rome"
    assert reader.site("missing.example") is None


def test_locally_a_change_by_another_process_is_seen_at_once(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.json"

    def version() -> object:
        return path.stat().st_mtime_ns if path.exists() else None

    reader = Catalogue(FileLoginStore(path), ttl_seconds=None, version=version)
    assert "new.example" not in reader
    Catalogue(FileLoginStore(path)).add_site("new.example", "Europe/Berlin")
    seen = reader.site("new.example")
    assert seen is not None and (seen.domain, seen.timezone) == ("new.example", "Europe/Berlin")


def test_the_dynamodb_store_holds_the_same_catalogue(fake_aws_credentials: None) -> None:
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName="catalogue",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        cat = Catalogue(DynamoLoginStore("catalogue"), seed_sites=["example.com"])
        cat.add_goal("example.com", Goal("Signup", event="Signup"))
        cat.add_annotation("example.com", date(2026, 1, 5), "Launch")
        other = Catalogue(DynamoLoginStore("catalogue"), seed_sites=["example.com"])
        assert [s.domain for s in other.sites()] == ["example.com"]
        assert [g.name for g in other.goals("example.com")] == ["Signup"]
        assert [a.text for a in other.annotations("example.com")] == ["Launch"]
