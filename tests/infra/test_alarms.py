"""Every path that loses data or answers 5xx tells the alarm topic, at the cost the model
counts, and synth warns when no one receives the alarms."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Annotations, Match, Template

from beaconlake.cost import Usage
from infra_cdk.monitoring import NO_RECIPIENT_WARNING, SCHEDULED_RETRIES, Monitoring
from infra_cdk.settings import DeploySettings
from tests.infra.conftest import SYNTH_OVERRIDES, Synth, cdk_context

pytestmark = pytest.mark.slow


def alarms_by_metric(synth: Synth) -> dict[tuple[str, str], dict]:
    return {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]): a["Properties"]
        for a in synth.resources("AWS::CloudWatch::Alarm").values()
    }


def described(synth: Synth, reference: object) -> str:
    """The description of the function a dimension value or Ref points at."""
    assert isinstance(reference, dict)
    return str(synth.template["Resources"][reference["Ref"]]["Properties"]["Description"])


def test_each_alarm_watches_one_loss_or_5xx_path_and_tells_the_topic(synth: Synth) -> None:
    alarms = alarms_by_metric(synth)
    assert set(alarms) == {
        ("AWS/Firehose", "DeliveryToS3.Success"),
        ("AWS/Firehose", "FailedConversion.Records"),
        ("AWS/Lambda", "Url5xxCount"),  # the collector: refused, no salt, failed
        ("AWS/Lambda", "Throttles"),  # the collector: at its concurrency limit
        ("AWS/ApiGateway", "5xx"),  # the stats API
    }
    for metric in ("Url5xxCount", "Throttles"):
        (dimension,) = alarms[("AWS/Lambda", metric)]["Dimensions"]
        assert dimension["Name"] == "FunctionName"
        assert described(synth, dimension["Value"]) == "Beaconlake collect"
    (topic,) = synth.resources("AWS::SNS::Topic")
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": topic}]
        assert alarm["TreatMissingData"] == "notBreaching"
    # no custom metric is alarmed on, so none has to be published in a healthy month
    assert not any(namespace == "Beaconlake" for namespace, _ in alarms)
    assert not synth.resources("AWS::Logs::MetricFilter")


def test_failed_scheduled_runs_go_to_the_alarm_topic(synth: Synth) -> None:
    (topic,) = synth.resources("AWS::SNS::Topic")
    configs = {
        described(synth, c["Properties"]["FunctionName"]): c["Properties"]
        for c in synth.resources("AWS::Lambda::EventInvokeConfig").values()
    }
    assert set(configs) == {"Beaconlake rotate_salt", "Beaconlake rollups"}
    for config in configs.values():
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == {"Ref": topic}
        assert config["MaximumRetryAttempts"] == SCHEDULED_RETRIES
    publishers = [
        s
        for policy in synth.resources("AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "sns:Publish"
    ]
    assert len(publishers) == 2 and all(s["Resource"] == {"Ref": topic} for s in publishers)


def test_the_cost_model_counts_what_the_stack_creates(synth: Synth) -> None:
    """Every billed item the defaults change, in the template and in beaconlake.cost."""
    usage = Usage.deployed(cdk_context(**SYNTH_OVERRIDES), events_per_month=1)
    assert len(synth.resources("AWS::CloudWatch::Alarm")) == usage.alarms
    assert len(synth.resources("AWS::CloudWatch::Dashboard")) == usage.dashboards == 0
    functions = [
        f["Properties"]
        for f in synth.resources("AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "app.handler"
    ]
    by_name = {f["Description"].removeprefix("Beaconlake "): f for f in functions}
    drop = by_name["collect"]["Environment"]["Variables"]["BEACONLAKE_DROP_METRICS"]
    assert (drop, usage.custom_metrics) == ("false", 0)
    assert by_name["collect"]["MemorySize"] == usage.collect_memory_mb
    assert by_name["stats"]["MemorySize"] == usage.stats_memory_mb
    assert by_name["rollups"]["MemorySize"] == usage.job_memory_mb
    stream = synth.one("AWS::KinesisFirehose::DeliveryStream")
    hints = stream["ExtendedS3DestinationConfiguration"]["BufferingHints"]
    assert hints["IntervalInSeconds"] == usage.buffer_seconds
    # the daily job every hour; the salt rotation twice a day (00:00 rule, 23:55 schedule)
    schedules = [
        r["Properties"]["ScheduleExpression"] for r in synth.resources("AWS::Events::Rule").values()
    ]
    assert sorted(schedules) == ["cron(0 0 * * ? *)", "cron(20 * * * ? *)"]
    assert usage.job_runs == 30 * 24
    assert synth.one("AWS::Scheduler::Schedule")["ScheduleExpression"] == "cron(55 23 * * ? *)"
    assert usage.salt_runs == 30 * 2
    # beacons pass CloudFront and the function URL; API Gateway carries the stats API only
    assert usage.cloudfront and synth.resources("AWS::CloudFront::Distribution")
    assert all(
        not r["Properties"]["RouteKey"].startswith(("POST /api/event", "GET /e.gif"))
        for r in synth.resources("AWS::ApiGatewayV2::Route").values()
    )
    assert usage.retention_months * 30 >= int(SYNTH_OVERRIDES["retention_days"])


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
    function = a_function(stack)
    Monitoring(
        stack,
        "Monitoring",
        settings=settings,
        collect=function,
        scheduled=(),
        functions=(function,),
        stream_name="stream",
        api_id="api",
    )
    found = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("alarm_email"))
    assert bool(found) is warned


def a_function(stack: cdk.Stack) -> lambda_.Function:
    return lambda_.Function(
        stack,
        "Fn",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
    )


@pytest.mark.parametrize("dashboard", [False, True])
def test_the_dashboard_is_created_only_when_asked(dashboard: bool) -> None:
    overrides = {"sites": "example.com", "dashboard": str(dashboard).lower()}
    settings = DeploySettings.from_context(cdk_context(**overrides).get)
    stack = cdk.Stack(cdk.App(), "Alarms")
    function = a_function(stack)
    Monitoring(
        stack,
        "Monitoring",
        settings=settings,
        collect=function,
        scheduled=(),
        functions=(function,),
        stream_name="stream",
        api_id="api",
    )
    dashboards = Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard")
    usage = Usage.deployed(cdk_context(**overrides), events_per_month=1)
    assert len(dashboards) == usage.dashboards == int(dashboard)
    if dashboard:
        (body,) = (json.dumps(d["Properties"]["DashboardBody"]) for d in dashboards.values())
        assert "Url5xxCount" in body and "DeliveryToS3.DataFreshness" in body
