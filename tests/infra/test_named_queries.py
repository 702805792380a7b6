"""The Athena console's named queries (and the sessions view) parse as Athena SQL and only
touch columns the schema defines."""

from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from beaconlake.schema import ALL_COLUMN_NAMES
from infra_cdk.catalog import named_queries

QUERIES = named_queries("example.com")
VIEW_COLUMNS = {
    "visit_no", "started", "ended", "duration_s", "entry_page", "exit_page", "source",
    "pageviews", "bounced", "starts_visit",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_named_query_parses_in_athena_dialect(name: str) -> None:
    _, sql = QUERIES[name]
    tree = sqlglot.parse_one(sql, read="athena")
    columns = {c.name for c in tree.find_all(exp.Column)}
    aliases = {a.alias for a in tree.find_all(exp.Alias)}
    assert columns - aliases - VIEW_COLUMNS <= set(ALL_COLUMN_NAMES)
    if name != "create-sessions-view":
        assert "site_id = 'example.com'" in sql and "dt >=" in sql
