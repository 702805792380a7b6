"""Least privilege in the synthesized template: Firehose can only write to its bucket, the
public-facing collector can only read salts, and only the rotation creates them (daily,
ahead of midnight, and once at deploy, before the collector exists)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from beaconlake.keys import SEEN_PREFIX
from functions.rotate_salt.app import AHEAD_OF_MIDNIGHT
from tests.infra.conftest import Synth

pytestmark = pytest.mark.slow

FIREHOSE_S3_ACTIONS = {
    "s3:AbortMultipartUpload",
    "s3:GetBucketLocation",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
    "s3:PutObject",
}


def statements_of_role(synth: Synth, role_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for policy in synth.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return found


def function_id(synth: Synth, name: str) -> str:
    (found,) = [
        k
        for k, v in synth.resources("AWS::Lambda::Function").items()
        if v["Properties"].get("Description") == f"Beaconlake {name}"
    ]
    return found


def statements_of_function(synth: Synth, name: str) -> list[dict[str, Any]]:
    role = synth.template["Resources"][function_id(synth, name)]["Properties"]["Role"]
    return statements_of_role(synth, role["Fn::GetAtt"][0])


def actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def on_salts(statement: dict[str, Any]) -> bool:
    return "/salts" in json.dumps(statement["Resource"])


def test_firehose_can_write_but_not_delete_or_hold_objects(synth: Synth) -> None:
    (role_id,) = [
        k
        for k, v in synth.resources("AWS::IAM::Role").items()
        if "firehose.amazonaws.com" in json.dumps(v["Properties"]["AssumeRolePolicyDocument"])
    ]
    s3_actions = {
        a for s in statements_of_role(synth, role_id) for a in actions(s) if a.startswith("s3:")
    }
    assert s3_actions == FIREHOSE_S3_ACTIONS
    assert not any("*" in a for a in s3_actions)


def test_the_collector_reads_salts_and_cannot_write_them(synth: Synth) -> None:
    salts = [s for s in statements_of_function(synth, "collect") if on_salts(s)]
    assert salts and all(actions(s) == {"ssm:GetParameter"} for s in salts)


def test_only_the_rotation_writes_and_deletes_salts(synth: Synth) -> None:
    writers = set()
    for name in ("collect", "stats", "rotate_salt", "rollups"):
        for statement in statements_of_function(synth, name):
            if on_salts(statement) and actions(statement) & {
                "ssm:PutParameter",
                "ssm:DeleteParameters",
            }:
                writers.add(name)
    assert writers == {"rotate_salt"}


def test_the_first_salt_is_made_at_deploy_before_the_collector_exists(synth: Synth) -> None:
    (trigger_id, trigger), *others = synth.resources("Custom::Trigger").items()
    assert not others
    handler = trigger["Properties"]["HandlerArn"]["Ref"]
    version = synth.template["Resources"][handler]
    assert version["Type"] == "AWS::Lambda::Version"
    assert version["Properties"]["FunctionName"] == {"Ref": function_id(synth, "rotate_salt")}
    collector = synth.template["Resources"][function_id(synth, "collect")]
    assert trigger_id in collector["DependsOn"]


def test_the_next_days_salt_is_made_before_midnight(synth: Synth) -> None:
    schedule = synth.one("AWS::Scheduler::Schedule")
    assert schedule["ScheduleExpression"] == "cron(55 23 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "Etc/UTC"
    target = schedule["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [function_id(synth, "rotate_salt"), "Arn"]}
    assert json.loads(target["Input"]) == {"rotation": AHEAD_OF_MIDNIGHT}
    # a late retry still lands before 00:05, well inside the handler's 15-minute lead
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 300


def bucket_ids(synth: Synth, statement: dict[str, Any]) -> set[str]:
    """The buckets a statement's resources name (by logical id)."""
    text = json.dumps(statement["Resource"])
    return {k for k in synth.resources("AWS::S3::Bucket") if f'"{k}"' in text}


def test_the_daily_job_queries_its_tables_and_rewrites_only_its_two_buckets(synth: Synth) -> None:
    statements = statements_of_function(synth, "rollups")
    granted = {a for s in statements for a in actions(s)}
    assert {a for a in granted if a.startswith("athena:")} == {
        "athena:StartQueryExecution",
        "athena:GetQueryExecution",
        "athena:GetQueryResults",
        "athena:StopQueryExecution",
    }
    assert not any(a.startswith(("ssm:", "firehose:")) for a in granted)
    # its sites come from the site catalogue: it may scan that table, and nothing else there
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in actions(s))]
    assert [actions(s) for s in dynamo] == [{"dynamodb:Scan"}]
    assert tables_of(synth, dynamo[0]) == {catalogue_table(synth)}
    for statement in statements:
        if any(a.startswith("athena:") for a in actions(statement)):
            assert "workgroup/" in json.dumps(statement["Resource"])
    (glue,) = [s for s in statements if any(a.startswith("glue:") for a in actions(s))]
    text = json.dumps(glue["Resource"])
    for table in ("events", "session_rollup", "page_rollup"):
        assert f"/{table}" in text
    writes = [s for s in statements if "s3:PutObject" in actions(s)]
    written = set().union(*(bucket_ids(synth, s) for s in writes))
    events = synth.template["Resources"][function_id(synth, "rollups")]["Properties"]
    env = events["Environment"]["Variables"]
    assert written == {
        env["BEACONLAKE_EVENTS_BUCKET"]["Ref"],
        env["BEACONLAKE_RESULTS_BUCKET"]["Ref"],
    }
    assert all("s3:DeleteObject*" in actions(s) for s in writes)


def tables_of(synth: Synth, statement: dict[str, Any]) -> set[str]:
    """The DynamoDB tables a statement's resources name (by logical id)."""
    text = json.dumps(statement["Resource"])
    return {k for k in synth.resources("AWS::DynamoDB::Table") if f'"{k}"' in text}


def catalogue_table(synth: Synth) -> str:
    (found,) = [
        k for k in synth.resources("AWS::DynamoDB::Table") if k.startswith("StorageSiteCatalogue")
    ]
    return found


def test_the_collector_reads_the_site_catalogue_and_adds_to_it_only(synth: Synth) -> None:
    """Per beacon the collector asks its snapshot of the sites (a Scan a minute); it puts the
    configured seed and its sightings. For server-side senders it gets one key by id (to check
    an ingest key) and puts the signatures it accepted, and only those: it cannot list keys,
    write a key, read logins or shared links, nor delete or change anything."""
    statements = statements_of_function(synth, "collect")
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in actions(s))]
    assert [actions(s) for s in dynamo] == [
        {"dynamodb:Scan", "dynamodb:PutItem"},
        {"dynamodb:GetItem"},
        {"dynamodb:PutItem"},
    ]
    assert tables_of(synth, dynamo[0]) == {catalogue_table(synth)}
    (keys,) = [k for k in synth.resources("AWS::DynamoDB::Table") if k.startswith("StorageApiKeys")]
    assert tables_of(synth, dynamo[1]) == tables_of(synth, dynamo[2]) == {keys}
    assert "Condition" not in dynamo[0] and "Condition" not in dynamo[1]
    assert dynamo[2]["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{SEEN_PREFIX}*"]}
    }


def test_the_stats_function_reads_every_table_a_statement_may_read(synth: Synth) -> None:
    (glue,) = [
        s
        for s in statements_of_function(synth, "stats")
        if any(a.startswith("glue:") for a in actions(s))
    ]
    text = json.dumps(glue["Resource"])
    assert all(f"/{table}" in text for table in ("events", "session_rollup", "page_rollup"))
