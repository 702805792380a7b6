"""Exports on AWS (GET /api/v2/export/events): Athena UNLOADs them under `exports/` in its
results bucket, the stats function links them with presigned GETs, and a lifecycle rule
deletes them after a day."""

from __future__ import annotations

from typing import Any

import pytest

from beaconlake.config import EXPORTS_PREFIX
from tests.infra.conftest import Synth
from tests.infra.test_least_privilege import actions, function_id, statements_of_function

pytestmark = pytest.mark.slow


def results_bucket(synth: Synth) -> tuple[str, dict[str, Any]]:
    """The bucket the Athena workgroup writes its results to."""
    workgroup = synth.one("AWS::Athena::WorkGroup")
    location = workgroup["WorkGroupConfiguration"]["ResultConfiguration"]["OutputLocation"]
    (bucket_id,) = [
        part["Ref"] for part in location["Fn::Join"][1] if isinstance(part, dict) and "Ref" in part
    ]
    return bucket_id, synth.template["Resources"][bucket_id]["Properties"]


def test_the_stats_function_knows_the_results_bucket(synth: Synth) -> None:
    bucket_id, _ = results_bucket(synth)
    stats = synth.template["Resources"][function_id(synth, "stats")]["Properties"]
    assert stats["Environment"]["Variables"]["BEACONLAKE_RESULTS_BUCKET"] == {"Ref": bucket_id}
    collect = synth.template["Resources"][function_id(synth, "collect")]["Properties"]
    assert "BEACONLAKE_RESULTS_BUCKET" not in collect["Environment"]["Variables"]


def test_exports_expire_after_a_day(synth: Synth) -> None:
    _, bucket = results_bucket(synth)
    rules = bucket["LifecycleConfiguration"]["Rules"]
    exports = [r for r in rules if r.get("Prefix") == EXPORTS_PREFIX]
    assert exports == [
        {"Id": "exports", "Prefix": EXPORTS_PREFIX, "ExpirationInDays": 1, "Status": "Enabled"}
    ]


def test_the_stats_role_can_write_list_and_read_exports(synth: Synth) -> None:
    """UNLOAD writes with the caller's rights (PutObject), the function lists the files it wrote
    (ListBucket) and signs GETs of them (a presigned URL works only if the signer may
    GetObject)."""
    bucket_id, _ = results_bucket(synth)
    arn = {"Fn::GetAtt": [bucket_id, "Arn"]}
    objects = {"Fn::Join": ["", [arn, "/*"]]}
    granted: dict[str, set[str]] = {"bucket": set(), "objects": set()}
    for statement in statements_of_function(synth, "stats"):
        if statement["Effect"] != "Allow":
            continue
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        if arn in resources:
            granted["bucket"] |= actions(statement)
        if objects in resources:
            granted["objects"] |= actions(statement)

    def allowed(action: str, where: str) -> bool:
        service, name = action.split(":")
        return any(
            a == action or (a.endswith("*") and f"{service}:{name}".startswith(a[:-1]))
            for a in granted[where]
        )

    assert allowed("s3:PutObject", "objects"), granted
    assert allowed("s3:GetObject", "objects"), granted
    assert allowed("s3:ListBucket", "bucket"), granted
