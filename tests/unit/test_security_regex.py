"""The regex guard's rule against ambiguous alternation inside a repetition, and a fuzz run:
whatever the text, check_regex either passes or raises QueryError (a 400), nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beaconlake.stats.query import QueryError
from beaconlake.stats.regex_guard import check_regex


@pytest.mark.parametrize(
    "pattern", ["(x|x)*y", "(a|ab)*c", "(a|aa)*c", "(.|a)*", "(|a)+", "((a|a)b)*"]
)
def test_alternatives_that_start_alike_inside_a_repetition_are_refused(pattern: str) -> None:
    with pytest.raises(QueryError) as info:
        check_regex(pattern)
    assert "alternatives" in info.value.message and info.value.field == "filters"


@pytest.mark.parametrize(
    "pattern",
    ["(docs|signup)+", "^/(en|de)/(blog|news)/.*", "(?:foo|fob)*", r"(\d|x)+", "(a|b)*(a|ab)"],
)
def test_disjoint_alternatives_and_bounded_ones_pass(pattern: str) -> None:
    check_regex(pattern)


REGEX_BITS = st.sampled_from(
    [
        "a",
        "b",
        "|",
        "(",
        ")",
        "*",
        "+",
        "?",
        "{2,5}",
        "{1000,}",
        "[",
        "]",
        "\\",
        ".",
        "^",
        "$",
        "(?=",
        "(?<",
        "\\1",
        "\\d",
        "-",
    ]
)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # re's "possible set difference" notes
@settings(max_examples=1500, deadline=None, database=None)
@given(st.lists(st.one_of(REGEX_BITS, st.text(max_size=3)), max_size=30).map("".join))
def test_any_text_is_either_accepted_or_a_query_error(pattern: str) -> None:
    try:
        check_regex(pattern)
    except QueryError as exc:
        assert exc.field == "filters" and exc.message
