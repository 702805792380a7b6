"""Every path that loses data or answers 5xx raises an alarm, and synth warns when no one
receives the alarms."""

from __future__ import annotations

import json
import re

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Annotations, Match

from infra_cdk.monitoring import (
    NO_RECIPIENT_WARNING,
    QUERIES_FAILED_METRIC,
    QUERY_FAILED_MESSAGE,
    Monitoring,
)
from infra_cdk.settings import DeploySettings
from tests.infra.conftest import ROOT, Synth, cdk_context

pytestmark = pytest.mark.slow


def alarms_by_metric(synth: Synth) -> dict[tuple[str, str], dict]:
    return {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
    }


@pytest.mark.parametrize(
    ("namespace", "metric"),
    [
        ("AWS/Firehose", "DeliveryToS3.Success"),
        ("AWS/Firehose", "DeliveryToS3.DataFreshness"),
        ("AWS/Firehose", "FailedConversion.Records"),
        ("AWS/ApiGateway", "5xx"),
        ("Beaconlake", "EventsRejected"),
        ("Beaconlake", "SaltMissing"),
        ("Beaconlake", QUERIES_FAILED_METRIC),
    ],
)
def test_data_loss_and_5xx_paths_alarm_to_the_topic(
    synth: Synth, namespace: str, metric: str
) -> None:
    alarm = alarms_by_metric(synth)[(namespace, metric)]
    (topic,) = synth.resources("AWS::SNS::Topic")
    assert alarm["AlarmActions"] == [{"Ref": topic}]
    assert alarm["TreatMissingData"] == "notBreaching"


def test_failed_queries_are_counted_from_the_stats_functions_log(synth: Synth) -> None:
    (metric_filter,) = synth.resources("AWS::Logs::MetricFilter").values()
    props = metric_filter["Properties"]
    assert f'$.message = "{QUERY_FAILED_MESSAGE}"' in props["FilterPattern"]
    assert '$.level = "ERROR"' in props["FilterPattern"]
    (transformation,) = props["MetricTransformations"]
    assert transformation["MetricName"] == QUERIES_FAILED_METRIC
    log_group = props["LogGroupName"]["Ref"]
    stats = next(
        p
        for p in (f["Properties"] for f in synth.resources("AWS::Lambda::Function").values())
        if p.get("Description") == "Beaconlake stats"
    )
    assert stats["LoggingConfig"]["LogGroup"] == {"Ref": log_group}


def test_the_stats_api_still_logs_the_line_the_filter_counts() -> None:
    source = (ROOT / "layers" / "beaconlake" / "stats" / "api.py").read_text("utf-8")
    assert re.search(rf'logger\.error\(\s*"{QUERY_FAILED_MESSAGE}"', source)


def test_synth_warns_in_one_sentence_when_no_one_receives_alarms(synth: Synth) -> None:
    metadata = json.loads((synth.outdir / "Beaconlake.metadata.json").read_text("utf-8"))
    warnings = [
        entry["data"]
        for entries in metadata.values()
        for entry in entries
        if entry["type"] == "aws:cdk:warning"
    ]
    assert any(w.startswith(NO_RECIPIENT_WARNING) for w in warnings)
    assert NO_RECIPIENT_WARNING.count(". ") == 0 and NO_RECIPIENT_WARNING.endswith(".")
    assert "alarm_email" in NO_RECIPIENT_WARNING


@pytest.mark.parametrize(("email", "warned"), [("ops@example.com", False), ("", True)])
def test_the_warning_depends_on_alarm_email(email: str, warned: bool) -> None:
    settings = DeploySettings.from_context(cdk_context(sites="example.com", alarm_email=email).get)
    stack = cdk.Stack(cdk.App(), "Alarms")
    function = lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
    )
    Monitoring(
        stack,
        "Monitoring",
        settings=settings,
        functions=(function,),
        stream_name="stream",
        api_id="api",
        stats_logs=logs.LogGroup(stack, "StatsLogs"),
    )
    found = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("alarm_email"))
    assert bool(found) is warned


def test_the_cost_model_counts_the_alarms_and_dashboards_the_stack_creates(synth: Synth) -> None:
    from beaconlake.cost import Usage

    usage = Usage(events_per_month=1)
    assert len(synth.resources("AWS::CloudWatch::Alarm")) == usage.alarms
    assert len(synth.resources("AWS::CloudWatch::Dashboard")) == usage.dashboards
