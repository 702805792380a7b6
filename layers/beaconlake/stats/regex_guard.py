"""Checks a `matches` filter pattern before it reaches an engine.

DuckDB runs RE2 (linear time), but Athena's default regex library (Joni) backtracks, so a
pattern like `(a+)+$` could burn a query's whole time budget there. We accept the subset
both engines agree on and that cannot backtrack badly: no back-references, no look-around,
no nested unbounded repetition, no alternatives that can start alike inside an unbounded
repetition, bounded counts and length. The pattern itself still only ever travels to the
engine as a query parameter.
"""

from __future__ import annotations

import re
import re._parser as sre_parse
from typing import Any

from beaconlake.stats.query import QueryError

MAX_PATTERN_LENGTH = 256
MAX_REPEAT_COUNT = 1000
_WIDE_RANGE = 1024

_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}
_REFUSED = {
    "GROUPREF": "back-references are not supported",
    "GROUPREF_EXISTS": "conditional groups are not supported",
    "ASSERT": "look-ahead and look-behind are not supported",
    "ASSERT_NOT": "look-ahead and look-behind are not supported",
    "ATOMIC_GROUP": "atomic groups are not supported",
}


def check_regex(pattern: str) -> None:
    """Raise QueryError (a 400) if `pattern` is invalid or could be costly to run."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise QueryError("filters", f"a regex is at most {MAX_PATTERN_LENGTH} characters")
    try:
        tree = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise QueryError("filters", f"invalid regex: {exc}") from None
    _walk(tree)


def _walk(items: Any) -> None:
    for op, arg in items:
        name = str(op)
        if name in _REFUSED:
            raise QueryError("filters", f"regex not allowed: {_REFUSED[name]}")
        if name in _REPEATS:
            low, high, body = arg
            unbounded = high == sre_parse.MAXREPEAT
            if (not unbounded and high > MAX_REPEAT_COUNT) or low > MAX_REPEAT_COUNT:
                raise QueryError(
                    "filters", f"regex not allowed: repeat counts are at most {MAX_REPEAT_COUNT}"
                )
            if unbounded and _repeats(body):
                raise QueryError(
                    "filters",
                    "regex not allowed: nested repetition like (a+)+ can take exponential time",
                )
            if unbounded and _overlapping_branch(body):
                raise QueryError(
                    "filters",
                    "regex not allowed: alternatives that can start alike inside a repetition, "
                    "like (a|ab)*, can take exponential time; use a character class",
                )
            _walk(body)
        elif name == "SUBPATTERN":
            _walk(arg[-1])
        elif name == "BRANCH":
            for branch in arg[1]:
                _walk(branch)


def _repeats(items: Any) -> bool:
    """True when the body holds an unbounded repetition of its own."""
    for op, arg in items:
        name = str(op)
        if name in _REPEATS and (arg[1] == sre_parse.MAXREPEAT or _repeats(arg[2])):
            return True
        if name == "SUBPATTERN" and _repeats(arg[-1]):
            return True
        if name == "BRANCH" and any(_repeats(b) for b in arg[1]):
            return True
    return False


def _overlapping_branch(items: Any) -> bool:
    """True when the items hold an alternation whose branches may start with the same
    character (or with anything, or match nothing): `(x|x)*y` backtracks exponentially."""
    for op, arg in items:
        name = str(op)
        if name == "BRANCH":
            seen: set[int] = set()
            for branch in arg[1]:
                first = _first_chars(branch)
                if first is None or seen & first:
                    return True
                seen |= first
            if any(_overlapping_branch(b) for b in arg[1]):
                return True
        inner = arg[-1] if name == "SUBPATTERN" else arg[2] if name in _REPEATS else ()
        if _overlapping_branch(inner):
            return True
    return False


def _first_chars(items: Any) -> frozenset[int] | None:
    """The characters a sequence can start with; None if it may be empty or start with
    almost anything (a category, a negation, `.`, a range wider than _WIDE_RANGE)."""
    for op, arg in items:
        name = str(op)
        if name == "AT":
            continue
        if name == "LITERAL":
            return frozenset({arg})
        if name == "IN":
            chars: set[int] = set()
            for kind, value in arg:
                if str(kind) == "LITERAL":
                    chars.add(value)
                elif str(kind) == "RANGE" and value[1] - value[0] <= _WIDE_RANGE:
                    chars.update(range(value[0], value[1] + 1))
                else:
                    return None
            return frozenset(chars)
        if name == "SUBPATTERN":
            return _first_chars(arg[-1])
        if name == "BRANCH":
            firsts = [_first_chars(b) for b in arg[1]]
            if any(f is None for f in firsts):
                return None
            return frozenset().union(*(f for f in firsts if f is not None))
        if name in _REPEATS and arg[0] >= 1:
            return _first_chars(arg[2])
        return None
    return None
