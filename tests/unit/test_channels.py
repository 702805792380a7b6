"""Channels: the Python classifier gives the expected answers, and the SQL agrees with it."""

from __future__ import annotations

import itertools

import duckdb
import pytest

from beaconlake.sqldialect import athena_to_duckdb
from beaconlake.stats.channels import channel_of, channel_sql


@pytest.mark.parametrize(
    ("source", "medium", "channel"),
    [
        (None, None, "Direct"),
        ("Google", None, "Organic Search"),
        ("DuckDuckGo", None, "Organic Search"),
        ("google", "cpc", "Paid Search"),
        ("Facebook", "paid_social", "Paid Social"),
        ("facebook", "cpc", "Paid Social"),
        ("newsletter", "email", "Email"),
        ("Gmail", None, "Email"),
        ("Twitter", None, "Organic Social"),
        ("Hacker News", None, "Organic Social"),
        ("YouTube", None, "Organic Video"),
        ("ChatGPT", None, "AI Assistants"),
        ("partner.io", "affiliate", "Affiliates"),
        ("ads.example", "display", "Display"),
        ("someblog.net", None, "Referral"),
        ("unknown", "cpc", "Paid Other"),
    ],
)
def test_channel_rules(source, medium, channel) -> None:
    assert channel_of(source, medium) == channel


def test_sql_case_agrees_with_python() -> None:
    sources = [
        None,
        "Google",
        "google",
        "Facebook",
        "newsletter",
        "Gmail",
        "YouTube",
        "x.org",
        "Bing",
    ]
    mediums = [None, "cpc", "email", "social", "display", "affiliate", "organic", "CPC", "referral"]
    pairs = list(itertools.product(sources, mediums))
    con = duckdb.connect()
    sql = athena_to_duckdb(
        f"SELECT {channel_sql('s', 'm')} AS c FROM (VALUES "
        + ", ".join("(?, ?)" for _ in pairs)
        + ") AS t (s, m)"
    )
    got = [r[0] for r in con.execute(sql, [v for p in pairs for v in p]).fetchall()]
    assert got == [channel_of(s, m) for s, m in pairs]
