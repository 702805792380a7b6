r"""Checks a `matches` filter pattern before it reaches an engine.

DuckDB runs RE2 (linear time), but Athena's default regex library (Joni) backtracks, so a
pattern like `(a+)+$` (exponential) or `\w*\w*\w*x` (polynomial) could burn a query's whole
time budget there. We accept the subset both engines agree on and that cannot backtrack
badly:

- at most LIMITS.regex_chars characters; no back-references, look-around, atomic or
  conditional groups;
- repeat counts at most 1,000, also multiplied through nesting (RE2 refuses more);
- no repetition (other than `?`) of anything holding an unbounded repetition: `(a+)+`,
  `(.*a){20}`, `(a*b?){50}`;
- no repetition of something that can match nothing (`(a?){25}`), or whose iterations can
  split the same text in more than one way (`(a{1,2}){20}`, `(x|x)*`, `(a|ab)*`);
- no two unbounded repetitions that can match the same character with only optional items
  between them (`\w*\w*`, `a*b?a*`), and no chain of three unbounded repetitions that can
  each take over the text between them (`.*a.*a.*b`): so the work per row grows at most
  with the square of its length.

The pattern itself still only ever travels to the engine as a query parameter.
"""

from __future__ import annotations

import re
import re._parser as sre_parse
from dataclasses import dataclass
from typing import Any

from beaconlake.stats.limits import LIMITS
from beaconlake.stats.query import QueryError

MAX_PATTERN_LENGTH = LIMITS.regex_chars
MAX_REPEAT_COUNT = 1000
_WIDE_RANGE = 1024
# the characters repetitions are compared on: ASCII, Latin-1 and a few others; a pattern's
# own literals are added to them
_PROBES = frozenset(chr(c) for c in range(256)) | frozenset("\u2028\u4e2d\U0001f600")
_CATEGORIES = {
    "CATEGORY_DIGIT": re.compile(r"\d"),
    "CATEGORY_NOT_DIGIT": re.compile(r"\D"),
    "CATEGORY_SPACE": re.compile(r"\s"),
    "CATEGORY_NOT_SPACE": re.compile(r"\S"),
    "CATEGORY_WORD": re.compile(r"\w"),
    "CATEGORY_NOT_WORD": re.compile(r"\W"),
}

_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}
_REFUSED = {
    "GROUPREF": "back-references are not supported",
    "GROUPREF_EXISTS": "conditional groups are not supported",
    "ASSERT": "look-ahead and look-behind are not supported",
    "ASSERT_NOT": "look-ahead and look-behind are not supported",
    "ATOMIC_GROUP": "atomic groups are not supported",
    "POSSESSIVE_REPEAT": "possessive repetition (a++) is not supported",
}


def _refuse(message: str, rule: str) -> QueryError:
    return QueryError("filters", f"regex not allowed: {message}", rule)


def check_regex(pattern: str) -> None:
    """Raise QueryError (a 400) if `pattern` is invalid or could be costly to run."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise QueryError(
            "filters", f"a regex is at most {MAX_PATTERN_LENGTH} characters", "regex_length"
        )
    _check_syntax(pattern)
    try:
        pattern.encode("utf-8")
        tree = sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError, UnicodeEncodeError) as exc:
        raise QueryError("filters", f"invalid regex: {exc}", "regex_invalid") from None
    _walk(tree)
    _check_counts(tree, 1)
    probes = _PROBES | {chr(v) for v in _literals(tree)}
    _Sequences(probes, bool(tree.state.flags & re.IGNORECASE)).check(list(tree))


# after a backslash: ASCII punctuation, or one of these (what RE2 and Java both read alike);
# inside a character class fewer (no anchors, no back-references)
_ESCAPES = frozenset("afnrtvxdDsSwWbBAz0123456789")
_CLASS_ESCAPES = frozenset("afnrtvxdDsSwW0")
_GROUP_FLAGS = re.compile(r"\(\?([A-Za-z-]*)[:)]")


def _check_syntax(pattern: str) -> None:
    r"""Refuse what Python's parser reads but RE2 does not: escapes like \Z, \u, \N, \b in a
    class or an escaped non-ASCII character, POSIX classes, comments `(?#`, flags other
    than i, m and s."""
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            allowed = _CLASS_ESCAPES if in_class else _ESCAPES
            if not (nxt.isascii() and not nxt.isalnum()) and nxt not in allowed:
                raise _refuse(
                    f"the escape \\{nxt} is not read alike by every engine", "regex_syntax"
                )
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
            i += 1
            if pattern.startswith("^", i):
                i += 1
            if pattern.startswith("]", i):
                i += 1
            continue
        if c == "]":
            in_class = False
        i += 1
    if "[:" in pattern or "(?#" in pattern:
        raise _refuse("POSIX classes and (?#...) comments are not supported", "regex_syntax")
    for flags in _GROUP_FLAGS.findall(pattern):
        if set(flags) - set("ims-"):
            raise _refuse("only the flags i, m and s are supported", "regex_syntax")


def _walk(items: Any) -> None:
    for op, arg in items:
        name = str(op)
        if name in _REFUSED:
            raise _refuse(_REFUSED[name], "regex_feature")
        if name in _REPEATS:
            low, high, body = arg
            unbounded = high == sre_parse.MAXREPEAT
            if (not unbounded and high > MAX_REPEAT_COUNT) or low > MAX_REPEAT_COUNT:
                raise _refuse(f"repeat counts are at most {MAX_REPEAT_COUNT}", "regex_repeat")
            if high > 1 and _repeats(body):
                raise _refuse(
                    "nested repetition like (a+)+ or (.*a){20} can take exponential time",
                    "regex_nested",
                )
            if high > 1 and _overlapping_branch(body):
                raise _refuse(
                    "alternatives that can start alike inside a repetition, "
                    "like (a|ab)*, can take exponential time; use a character class",
                    "regex_alternatives",
                )
            if high > 1 and _nullable(body):
                raise _refuse(
                    "a repeated part that can match nothing, like (a?){20}, can take "
                    "exponential time",
                    "regex_nested",
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


def _nullable(items: Any) -> bool:
    """True when the sequence can match the empty string."""
    for op, arg in items:
        name = str(op)
        if name == "AT":
            continue
        if name in _REPEATS:
            if arg[0] > 0 and not _nullable(arg[2]):
                return False
        elif name == "SUBPATTERN":
            if not _nullable(arg[-1]):
                return False
        elif name == "BRANCH":
            if not any(_nullable(b) for b in arg[1]):
                return False
        else:
            return False
    return True


def _check_counts(items: Any, outer: int) -> None:
    """Repeat counts multiplied through nesting stay within MAX_REPEAT_COUNT (RE2's limit)."""
    for op, arg in items:
        name = str(op)
        if name in _REPEATS:
            low, high, body = arg
            count = max(low, 1) if high == sre_parse.MAXREPEAT else high
            if outer * count > MAX_REPEAT_COUNT:
                raise _refuse(
                    f"nested repeat counts multiply to more than {MAX_REPEAT_COUNT}",
                    "regex_repeat",
                )
            _check_counts(body, outer * max(count, 1))
        elif name == "SUBPATTERN":
            _check_counts(arg[-1], outer)
        elif name == "BRANCH":
            for branch in arg[1]:
                _check_counts(branch, outer)


def _literals(items: Any) -> set[int]:
    out: set[int] = set()
    for op, arg in items:
        name = str(op)
        if name in ("LITERAL", "NOT_LITERAL"):
            out.add(arg)
        elif name == "IN":
            out.update(v for kind, v in arg if str(kind) == "LITERAL")
            out.update(v for kind, r in arg if str(kind) == "RANGE" for v in r)
        elif name in _REPEATS:
            out |= _literals(arg[2])
        elif name == "SUBPATTERN":
            out |= _literals(arg[-1])
        elif name == "BRANCH":
            for branch in arg[1]:
                out |= _literals(branch)
    return out


def _in_class(arg: Any, ch: str) -> bool:
    negate, hit = False, False
    for kind, value in arg:
        kind = str(kind)
        if kind == "NEGATE":
            negate = True
        elif kind == "LITERAL":
            hit = hit or ch == chr(value)
        elif kind == "RANGE":
            hit = hit or value[0] <= ord(ch) <= value[1]
        elif kind == "CATEGORY":
            category = _CATEGORIES.get(str(value))
            hit = hit or category is None or bool(category.fullmatch(ch))
    return hit != negate


@dataclass
class _Live:
    """An unbounded repetition seen earlier in a sequence that could still take over what
    followed it: its characters, its chain length, and whether anything mandatory came since."""

    chars: frozenset[str]
    chain: int
    gap: bool = False


class _Sequences:
    """The polynomial rules, run on every sequence of the pattern (see the module's doc)."""

    def __init__(self, probes: frozenset[str], ignore_case: bool) -> None:
        self.probes = probes
        self.ignore_case = ignore_case

    def chars(self, items: Any) -> frozenset[str]:
        """The characters any position of the items can match (over the probes)."""
        out: set[str] = set()
        for op, arg in items:
            name = str(op)
            if name == "LITERAL":
                out.add(chr(arg))
            elif name == "NOT_LITERAL":
                out.update(c for c in self.probes if c != chr(arg))
            elif name == "ANY":
                out.update(c for c in self.probes if c != "\n")
            elif name == "IN":
                out.update(c for c in self.probes if _in_class(arg, c))
            elif name in _REPEATS:
                out |= self.chars(arg[2])
            elif name == "SUBPATTERN":
                out |= self.chars(arg[-1])
            elif name == "BRANCH":
                for branch in arg[1]:
                    out |= self.chars(branch)
        if self.ignore_case:
            out |= {c.swapcase() for c in out}
        return frozenset(out)

    def check(self, items: list[Any]) -> None:
        self._sequence(items, variable=False)
        for op, arg in items:
            name = str(op)
            if name in _REPEATS:
                body = list(arg[2])
                self.check(body)
                if arg[1] > 1:  # can its iterations split a text two ways?
                    self._sequence(body + body, variable=True)
            elif name == "SUBPATTERN":
                self.check(list(arg[-1]))
            elif name == "BRANCH":
                for branch in arg[1]:
                    self.check(list(branch))

    def _flat(self, items: list[Any]) -> list[Any]:
        out: list[Any] = []
        for op, arg in items:
            if str(op) == "SUBPATTERN":
                out.extend(self._flat(list(arg[-1])))
            else:
                out.append((op, arg))
        return out

    def _sequence(self, items: list[Any], variable: bool) -> None:
        """Walk one sequence; with `variable`, bounded repetitions of varying length count
        too (inside a repeated part, `(a{1,2}){20}`), else only unbounded ones."""
        live: list[_Live] = []
        for op, arg in self._flat(items):
            name = str(op)
            if name == "AT":
                continue
            if name in _REPEATS and arg[0] != arg[1]:
                low, high, body = arg
                if high == sre_parse.MAXREPEAT or variable:
                    live = self._repetition(live, self.chars(body), variable)
                    continue
                if low == 0:
                    continue  # optional and bounded: may be skipped, takes nothing over
            elif name == "BRANCH" and any(_nullable(b) for b in arg[1]):
                continue
            chars = self.chars([(op, arg)])
            live = [_with_gap(p) for p in live if chars <= p.chars]

    def _repetition(self, live: list[_Live], chars: frozenset[str], variable: bool) -> list[_Live]:
        chain = 1
        for p in live:
            if not p.chars & chars:
                continue
            if not p.gap:
                if variable:
                    raise _refuse(
                        "a repeated part whose iterations can split the same text in more "
                        "than one way, like (a{1,2}){20}, can take exponential time",
                        "regex_ambiguous",
                    )
                raise _refuse(
                    "two repetitions that can match the same characters, one right after the "
                    r"other like \w*\w*, can take polynomial time; merge them",
                    "regex_adjacent",
                )
            chain = max(chain, p.chain + 1)
        if chain >= 3 and not variable:
            raise _refuse(
                "more than two unbounded repetitions that can each match the text between "
                r"them, like .*a.*a.*b, can take polynomial time; use [^/]* or fewer .*",
                "regex_adjacent",
            )
        return [*live, _Live(chars, chain)]


def _with_gap(p: _Live) -> _Live:
    return _Live(p.chars, p.chain, True)
