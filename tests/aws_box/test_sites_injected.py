"""Adding a site on AWS needs no redeploy: the Glue tables project `site_id` with the
`injected` type, the AWS engine writes the site id into each statement as a literal (the
static equality Athena documents for injected keys), and the Athena stand-in refuses a
statement on such a table without one (tests/support/athena_rules.injected_violations).
A site added to the catalogue (DynamoDB) is then collected, queried and rolled up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from beaconlake import wiring
from beaconlake.adapters.aws_site_literals import inline_site_ids
from beaconlake.model import RequestMeta
from tests.aws_box.conftest import Box
from tests.conftest import CHROME_UA
from tests.support.athena_rules import injected_violations

T0 = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
SITE = "fresh-site.org"


def test_only_a_site_id_is_written_into_the_statement() -> None:
    sql = "SELECT 1 FROM events e WHERE e.site_id = ? AND dt BETWEEN ? AND ? AND name = ?"
    assert inline_site_ids(sql, ["example.com", "2026-03-01", "2026-03-02", "x"]) == (
        "SELECT 1 FROM events e WHERE e.site_id = 'example.com' AND dt BETWEEN ? AND ? AND name = ?",
        ["2026-03-01", "2026-03-02", "x"],
    )
    for hostile in ("x' OR '1'='1", "Example.com", "a b.org", "", 7):
        assert inline_site_ids("SELECT 1 FROM events WHERE site_id = ?", [hostile])[1] == [hostile]
    tricky = "SELECT '?' FROM events WHERE name = ? -- site_id = ?\nAND site_id = ?"
    assert inline_site_ids(tricky, ["site_id = ?", "a.org"]) == (
        "SELECT '?' FROM events WHERE name = ? -- site_id = ?\nAND site_id = 'a.org'",
        ["site_id = ?"],
    )


def test_the_stand_in_enforces_athenas_rule_for_injected_keys() -> None:
    injected = {"events": {"site_id"}}
    ok = "SELECT count(*) FROM events WHERE site_id = 'a.org' AND dt = ?"
    assert injected_violations(ok, injected) == []
    assert (
        injected_violations("SELECT 1 FROM events WHERE site_id IN ('a.org', 'b.org')", injected)
        == []
    )
    for bad in (
        "SELECT count(*) FROM events WHERE site_id = ? AND dt = ?",  # a parameter is not static
        "SELECT count(*) FROM events WHERE dt = '2026-03-09'",  # no equality at all
        "SELECT count(*) FROM events",
        "SELECT 1 FROM events WHERE site_id = 'a.org' AND site_id LIKE 'a%'",
        "WITH o AS (SELECT * FROM events WHERE dt = ?) SELECT count(*) FROM o",
    ):
        assert injected_violations(bad, injected), bad
    assert injected_violations("SELECT 1 FROM other WHERE x = 1", injected) == []


def projection_types(box: Box) -> set[str]:
    glue = boto3.client("glue")
    database = box.env["BEACONLAKE_ATHENA_DATABASE"]
    tables = glue.get_tables(DatabaseName=database)["TableList"]
    return {t["Parameters"]["projection.site_id.type"] for t in tables}


@pytest.mark.slow
def test_a_site_added_through_the_catalogue_is_collected_queried_and_rolled_up(box: Box) -> None:
    assert projection_types(box) == {"injected"}
    visitor = RequestMeta("198.51.100.40", CHROME_UA)
    page = {"n": "pageview", "u": f"https://{SITE}/hello", "d": SITE}
    dropped = box.beacon(page, visitor, T0)
    assert dropped["headers"]["x-beaconlake-dropped"] == "unknown_site"
    unknown = {(s.host, s.outcome) for s in wiring.sightings().recent("*")}
    assert (SITE, "unknown_site") in unknown  # "hosts sending beacons that are not sites"

    wiring.catalogue().add_site(SITE, "Europe/Berlin")  # what the sites API does: no deploy
    assert (
        "x-beaconlake-dropped"
        not in box.beacon(page, visitor, T0 + timedelta(minutes=1))["headers"]
    )
    box.firehose.drain()
    query = {"site_id": SITE, "period": "custom", "from": "2026-03-09", "to": "2026-03-09"}
    mark = len(box.athena.queries)
    answer = box.ok("GET", "/api/v1/stats/aggregate", query=query, site=SITE)
    assert answer["results"]["visitors"]["value"] == 1, answer
    sent = box.queries_since(mark)
    assert sent and all(f"site_id = '{SITE}'" in q.statement for q in sent)
    assert all(SITE not in " ".join(q.parameters or []) for q in sent)

    # a statement that leaves the site a parameter is refused, as Athena would
    client = boto3.client("athena")
    query_id = client.start_query_execution(
        QueryString="SELECT count(*) AS n FROM events WHERE site_id = ?",
        ExecutionParameters=[f"'{SITE}'"],
        WorkGroup=box.env["BEACONLAKE_ATHENA_WORKGROUP"],
        QueryExecutionContext={"Database": box.env["BEACONLAKE_ATHENA_DATABASE"]},
    )["QueryExecutionId"]
    status = client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
    assert status["State"] == "FAILED" and "CONSTRAINT_VIOLATION" in status["StateChangeReason"]

    # the daily job (its own function, reading the catalogue table) rolls the new site up
    report = box.run_daily_job(datetime(2026, 3, 10, 1, 20, tzinfo=UTC))
    assert report["sites"] == 1 and report["days_rolled_up"] == 1, report
