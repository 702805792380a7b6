"""Small-count protection for shared links: in a shared session every count below the link's
threshold k becomes null, and so does every rate, share or average taken over a hidden count,
in every answer the link can read (v2 query, funnel, journeys, retention, realtime and the CSV
made from a query). `meta.small_counts` says {"k": k, "hidden": how many values were nulled}.

Which v2 metrics are counts comes from the metric registry: a count is a metric that is its
own one aggregate (`visitors` reads the aggregate `visitors`). Every other metric is derived;
it is hidden where its row's visitors (the people a row is about) or any count it reads (e.g.
`visits` for `bounce_rate`) is hidden. A shared session's query therefore also computes those
counts (`widened`), and they are dropped again from the answer (`query_answer`).

See docs/PRIVACY.md, "Small counts on shared dashboards"."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from beaconlake.stats import registry
from beaconlake.stats.query_parser import QueryBody

ANONYMITY_SET = "visitors"  # whom a row is about: a row of fewer than k visitors hides all


def count_metrics() -> frozenset[str]:
    """The metrics that are counts (as registered now)."""
    return frozenset(m.name for m in registry.METRICS.values() if m.inputs == (m.name,))


def bases(metric: str) -> tuple[str, ...]:
    """The counts a metric's value is hidden with: itself for a count; for a derived metric
    its row's visitors and the counts it reads."""
    counts = count_metrics()
    if metric in counts:
        return (metric,)
    read = registry.METRICS[metric].inputs if metric in registry.METRICS else ()
    return tuple(dict.fromkeys((ANONYMITY_SET, *(a for a in read if a in counts))))


def guard_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    """The counts a shared query must compute besides `metrics` to judge its rows."""
    needed = dict.fromkeys(b for m in metrics for b in bases(m))
    return tuple(b for b in needed if b not in metrics)


@dataclass
class Hider:
    """Nulls values below k and counts what it nulled."""

    k: int
    hidden: int = 0

    def small(self, value: Any) -> bool:
        return not isinstance(value, int | float) or value < self.k

    def count(self, value: Any) -> Any:
        """A count, or None if it is below k."""
        return self.null(value) if self.small(value) else value

    def rate(self, value: Any, *over: Any) -> Any:
        """A value derived from the counts `over`, or None if any of them is below k."""
        return self.null(value) if any(self.small(c) for c in over) else value

    def null(self, value: Any) -> Any:
        """None, counting `value` as hidden if it was a value."""
        if value is not None:
            self.hidden += 1
        return None

    def meta(self, answer: dict[str, Any]) -> dict[str, Any]:
        meta = answer.setdefault("meta", {})
        meta["small_counts"] = {"k": self.k, "hidden": self.hidden}
        return answer


# ---- v2 query -----------------------------------------------------------------------------


def widened(body: QueryBody, k: int | None) -> tuple[QueryBody, tuple[str, ...]]:
    """The query a session with threshold `k` runs (None: not shared, unchanged) and the
    metrics it asked for."""
    asked = tuple(body.metrics)
    if k is None:
        return body, asked
    return body.model_copy(update={"metrics": (*asked, *guard_metrics(asked))}), asked


def hide_row(values: dict[str, Any], hider: Hider, asked: Sequence[str]) -> dict[str, Any]:
    """The `asked` metrics of one row (`values`: every metric run, name → value) with counts
    below k and what derives from them null."""
    small = {m for m in values if m in count_metrics() and hider.small(values[m])}
    out = {}
    for name in asked:
        value = values.get(name)
        hide = any(b in small or b not in values for b in bases(name))
        out[name] = hider.null(value) if hide else value
    return out


def query_answer(answer: dict[str, Any], k: int | None, asked: Sequence[str]) -> dict[str, Any]:
    """A v2 query's answer as a session with threshold `k` may read it (None: unchanged): the
    rows and comparisons with small counts null, only the metrics asked for."""
    if k is None:
        return answer
    hider = Hider(k)
    ran = list(answer["query"]["metrics"])
    for row in answer["results"]:
        now = hide_row(dict(zip(ran, row["metrics"], strict=True)), hider, asked)
        row["metrics"] = [now[m] for m in asked]
        cmp = row.get("comparison")
        if cmp is None:
            continue
        before = hide_row(dict(zip(ran, cmp["metrics"], strict=True)), hider, asked)
        change = dict(zip(ran, cmp["change"], strict=True))
        cmp["metrics"] = [before[m] for m in asked]
        cmp["change"] = [
            hider.null(change.get(m)) if now[m] is None or before[m] is None else change.get(m)
            for m in asked
        ]
    answer["query"]["metrics"] = list(asked)
    return hider.meta(answer)


# ---- behaviour answers --------------------------------------------------------------------


def funnel_answer(answer: dict[str, Any], k: int | None) -> dict[str, Any]:
    if k is None:
        return answer
    h = Hider(k)
    entered = answer.get("visitors")
    previous = entered
    last = entered
    for step in answer.get("steps", []):
        n = step.get("visitors")
        step["conversion_rate"] = h.rate(step.get("conversion_rate"), n, entered)
        step["step_conversion"] = h.rate(step.get("step_conversion"), n, previous)
        step["dropoff"] = h.rate(h.count(step.get("dropoff")), n, previous)
        step["visitors"] = h.count(n)
        previous = last = n
    answer["conversion_rate"] = h.rate(answer.get("conversion_rate"), last, entered)
    answer["visitors"] = h.count(entered)
    return h.meta(answer)


def journeys_answer(answer: dict[str, Any], k: int | None) -> dict[str, Any]:
    if k is None:
        return answer
    h = Hider(k)
    total = answer.get("visits")
    for row in answer.get("results", []):
        row["percentage"] = h.rate(row.get("percentage"), row.get("visits"), total)
        row["visits"] = h.count(row.get("visits"))
    answer["visits"] = h.count(total)
    return h.meta(answer)


def retention_answer(answer: dict[str, Any], k: int | None) -> dict[str, Any]:
    if k is None:
        return answer
    h = Hider(k)
    for cohort in answer.get("cohorts", []):
        users, retained = cohort.get("users"), list(cohort.get("retained", []))
        shares = list(cohort.get("percentages", []))
        cohort["percentages"] = [
            h.rate(p, n, users) for p, n in zip(shares, retained, strict=False)
        ]
        cohort["retained"] = [h.count(n) for n in retained]
        cohort["users"] = h.count(users)
    return h.meta(answer)


def realtime_answer(answer: dict[str, Any], k: int | None) -> dict[str, Any]:
    """Every count (a registry count metric's name) anywhere in the answer."""
    if k is None:
        return answer
    h = Hider(k)
    _hide_counts(answer, count_metrics(), h)
    return h.meta(answer)


def _hide_counts(node: Any, names: Iterable[str], h: Hider) -> None:
    if isinstance(node, list):
        for item in node:
            _hide_counts(item, names, h)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in names and not isinstance(value, dict | list):
                node[key] = h.count(value)
            else:
                _hide_counts(value, names, h)
