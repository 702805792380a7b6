"""Counters an operator can read: CloudWatch metrics on AWS (the embedded metric format on
stdout, through Powertools) and an in-process tally the local server prints when it stops.
No value that could identify a person is ever a dimension."""

from __future__ import annotations

import threading
from collections import Counter

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

NAMESPACE = "Beaconlake"
_tally: Counter[tuple[str, tuple[str, ...]]] = Counter()
_lock = threading.Lock()


def count(name: str, value: int, component: str, **dimensions: str) -> None:
    """Add `value` to metric `name` (with the `component` dimension and any others)."""
    with _lock:
        _tally[(name, (component, *dimensions.values()))] += value
    if is_metrics_disabled():
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE) as m:
        m.add_dimension(name="component", value=component)
        for key, dimension in dimensions.items():
            m.add_dimension(name=key, value=dimension)


def tally() -> dict[tuple[str, tuple[str, ...]], int]:
    """What this process counted so far: (metric, its dimension values) → total."""
    with _lock:
        return dict(_tally)
