"""The regex guard's rule against ambiguous alternation inside a repetition, and a fuzz run:
whatever the text, check_regex either passes or raises QueryError (a 400), nothing else."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beaconlake.stats.query import QueryError
from beaconlake.stats.regex_guard import check_regex
from bench import resource_checks

DB = duckdb.connect(":memory:")


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


# ---- polynomial backtracking (issue 26) ----------------------------------------------------

# Before: each of these passed the guard (DuckDB's RE2 runs them in linear time, Athena's
# Joni and Python's re backtrack polynomially or worse), or, for the last, reached RE2 and
# was a 503.
POLYNOMIAL = [
    r"\w*\w*\w*\w*\w*\w*\w*\w*\w*\w*x",
    "(.*a){20}b",
    "(a*b?){50}c",
    "(.*){1000}x",
    r"\w*\w*x",
    r"\d*\d+x",
    "[a-z]*\\w+x",
    "a*b?a*c",
    ".*.*=x",
    ".*a.*a.*b",
    "(.*a){2}b",
    "(a?){25}a{25}",
    "(a{1,2}){20}b",
    "(a{1000}){1000}",
]


@pytest.mark.parametrize("pattern", POLYNOMIAL)
def test_polynomial_and_nested_repetitions_are_refused(pattern: str) -> None:
    with pytest.raises(QueryError) as info:
        check_regex(pattern)
    assert (
        info.value.field == "filters" and info.value.rule and info.value.rule.startswith("regex_")
    )


# the guard lets them through; bench/resource_checks.py times them on Python's `re`
ORDINARY = resource_checks.ORDINARY


@pytest.mark.parametrize("pattern", ORDINARY)
def test_ordinary_patterns_pass_the_guard(pattern: str) -> None:
    """How fast they run on a backtracking engine: bench/resource_checks.py."""
    check_regex(pattern)


CLASSES = st.sampled_from([".", r"\w", "[a-z]", "a", r"\S", "[^/]", r"\d", "[a-c0-9]"])
QUANTIFIERS = st.sampled_from(["*", "+", "{1,}", "{0,}", "{2,}", "*?", "+?"])
OPTIONAL = st.sampled_from(["", "b?", "(?:x)?", "[xy]*?", "(?:b|c)?"])


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.lists(st.tuples(CLASSES, QUANTIFIERS, OPTIONAL), min_size=2, max_size=10),
    st.sampled_from(["", "x", "!", "$"]),
)
def test_adjacent_repetitions_of_overlapping_classes_are_refused(
    parts: list[tuple[str, str, str]], tail: str
) -> None:
    """Two unbounded repetitions whose classes share a character (`a`), with only optional
    items between them, then anything: `\\w+b?a*`, `.{2,}(?:x)?a+?[a-z]*…`."""
    first = "a" if parts[0][0] == r"\d" else parts[0][0]  # every other class holds `a`
    pattern = first + parts[0][1] + parts[0][2] + "a" + parts[1][1]
    pattern += "".join(c + q + o for c, q, o in parts[2:]) + tail
    with pytest.raises(QueryError) as info:
        check_regex(pattern)
    assert info.value.rule == "regex_adjacent", (pattern, info.value.message)


@pytest.mark.filterwarnings("ignore::FutureWarning")
@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(st.one_of(REGEX_BITS, st.text(max_size=3)), max_size=30).map("".join))
def test_every_accepted_pattern_runs_on_duckdb(pattern: str) -> None:
    """What the guard lets through, the local engine (RE2) runs: a 400 or an answer, never
    a 503 from the engine refusing the pattern."""
    try:
        check_regex(pattern)
    except QueryError:
        return
    DB.execute("SELECT regexp_matches(?, ?)", ["/blog/aaa-1", pattern]).fetchall()
