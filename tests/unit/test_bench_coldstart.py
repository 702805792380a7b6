"""Figure 2's list of the slowest packages in the collector's cold start."""

from __future__ import annotations

from bench.coldstart import import_time_by_package

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
