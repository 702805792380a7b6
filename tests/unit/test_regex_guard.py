import pytest

from beaconlake.stats.query import QueryError
from beaconlake.stats.regex_guard import check_regex


@pytest.mark.parametrize(
    "pattern", ["^/(docs|signup)$", "^/blog/.*", "(ab{1,3})+", "(a|b)+c", "x{3}"]
)
def test_plain_patterns_pass(pattern: str) -> None:
    check_regex(pattern)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(a+)+$", "nested repetition"),
        ("(a*)*b", "nested repetition"),
        (r"(\w+\s?)+$", "nested repetition"),
        (r"(a)\1", "back-references"),
        ("(?=a)b", "look-ahead"),
        ("(?<!a)b", "look-ahead"),
        ("a{2000}", "repeat counts"),
        ("[", "invalid regex"),
        ("x" * 300, "at most 256"),
    ],
)
def test_costly_or_invalid_patterns_are_refused(pattern: str, reason: str) -> None:
    with pytest.raises(QueryError) as info:
        check_regex(pattern)
    assert reason in info.value.message
    assert info.value.field == "filters"
