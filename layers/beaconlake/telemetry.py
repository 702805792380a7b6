"""Counters an operator can read: CloudWatch metrics on AWS (the embedded metric format on
stdout, through Powertools) and an in-process tally the local server prints when it stops.
No value that could identify a person is ever a dimension.

CloudWatch bills a custom metric series by the hour it is published in ($0.30 for a whole
month, docs/COST.md). Failure counters (EventsRejected, FirehoseRetries, SaltMissing) are
published only when something fails, so a healthy month costs nothing. Beacons dropped by
design (bots, Do Not Track, …) happen every hour, so `OPT_IN` counters are published only
when `BEACONLAKE_DROP_METRICS` is not "false" (the deploy setting `drop_metrics`, off by
default); the tally counts them either way.
"""

from __future__ import annotations

import os
import threading
from collections import Counter

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from beaconlake.config import DROP_METRICS_VARIABLE

NAMESPACE = "Beaconlake"
OPT_IN = frozenset({"BeaconsDropped"})
_tally: Counter[tuple[str, tuple[str, ...]]] = Counter()
_lock = threading.Lock()


def published(name: str) -> bool:
    """Whether metric `name` goes to CloudWatch in this process (the tally has them all)."""
    if is_metrics_disabled():
        return False
    if name in OPT_IN:
        return os.environ.get(DROP_METRICS_VARIABLE, "true").strip().lower() != "false"
    return True


def count(name: str, value: int, component: str, **dimensions: str) -> None:
    """Add `value` to metric `name` (with the `component` dimension and any others)."""
    with _lock:
        _tally[(name, (component, *dimensions.values()))] += value
    if not published(name):
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE) as m:
        m.add_dimension(name="component", value=component)
        for key, dimension in dimensions.items():
            m.add_dimension(name=key, value=dimension)


def tally() -> dict[tuple[str, tuple[str, ...]], int]:
    """What this process counted so far: (metric, its dimension values) → total."""
    with _lock:
        return dict(_tally)
