"""Figure 2: its ratio to the floor, and its list of the slowest packages in the collector's
cold start."""

from __future__ import annotations

import pytest

from bench.coldstart import import_time_by_package, paired_ratio

IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       120 |        120 |   _io
import time:      2000 |       2500 |   json
import time:       487 |        487 | botocore
import time:      9000 |      30000 |   botocore.client
import time:      1500 |       1500 |     botocore.utils
import time:      4000 |       4000 |   urllib3.util.url
import time:       300 |       5000 | urllib3
import time:      7000 |       7000 | beaconlake.ingest.useragent
"""


def test_each_package_counts_the_self_time_of_all_its_modules_and_nothing_else() -> None:
    # botocore's root module is light: its submodules, imported later, hold its cost
    assert import_time_by_package(IMPORTTIME) == [("botocore", 10.987), ("urllib3", 4.3)]


def test_the_ratio_pairs_each_round_with_its_own_floor() -> None:
    # the machine halves its speed in round 3, after that round's floor: the two medians
    # (0.6 against 0.2) would say 3 x, the rounds say 1.5 x but for one
    floor = [0.20, 0.20, 0.20, 0.40, 0.40]
    child = [0.30, 0.30, 0.60, 0.60, 0.60]
    assert paired_ratio(child, floor) == pytest.approx(1.5)
    with pytest.raises(ValueError):
        paired_ratio(child, floor[:-1])
