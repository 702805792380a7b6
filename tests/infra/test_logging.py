"""The functions log JSON and leave out Lambda's START/END/REPORT lines, which would
otherwise be the biggest log cost per event (docs/COST.md)."""

from __future__ import annotations

import pytest

from tests.infra.conftest import Synth
from tests.infra.test_stack import beaconlake_functions

pytestmark = pytest.mark.slow


def test_every_function_logs_json_without_platform_lines(synth: Synth) -> None:
    functions = beaconlake_functions(synth)
    assert len(functions) == 4
    for props in functions.values():
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        assert props["LoggingConfig"]["SystemLogLevel"] == "WARN"
