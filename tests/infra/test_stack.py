"""Properties of the synthesized stack that a deploy depends on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aws_cdk.assertions import Match

from beaconlake.schema import glue_columns, glue_partition_keys
from tests.infra.conftest import ROOT, Synth

pytestmark = pytest.mark.slow

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def beaconlake_functions(synth: Synth) -> dict[str, dict]:
    return {
        k: v["Properties"]
        for k, v in synth.resources("AWS::Lambda::Function").items()
        if v["Properties"].get("Handler") == "app.handler"
    }


def test_lambdas_are_arm64_python_313_with_powertools_settings(synth: Synth) -> None:
    functions = beaconlake_functions(synth)
    assert len(functions) == 3
    for props in functions.values():
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert props.get("TracingConfig", {"Mode": "PassThrough"}) == {"Mode": "PassThrough"}
        assert len(props["Layers"]) == 2
        env = props["Environment"]["Variables"]
        assert env["BEACONLAKE_BACKEND"] == "aws"
        assert env["BEACONLAKE_SITES"] == "example.com,blog.example.com"
        assert env["POWERTOOLS_SERVICE_NAME"].startswith("beaconlake-")
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Beaconlake"
        assert env["LOG_LEVEL"] == "INFO"
        assert env["BEACONLAKE_CLIENT_IP_HEADER"] == "cloudfront-viewer-address"
    services = {
        p["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] for p in functions.values()
    }
    assert services == {"beaconlake-collect", "beaconlake-stats", "beaconlake-rotate_salt"}
    collector = next(p for p in functions.values() if p["Description"] == "Beaconlake collect")
    assert collector["ReservedConcurrentExecutions"] == 20


def test_every_beaconlake_variable_is_one_config_reads(synth: Synth) -> None:
    config = (ROOT / "layers" / "beaconlake" / "config.py").read_text("utf-8")
    known = set(re.findall(r'"(BEACONLAKE_[A-Z_]+)"', config))
    for props in beaconlake_functions(synth).values():
        names = {n for n in props["Environment"]["Variables"] if n.startswith("BEACONLAKE_")}
        assert names <= known, names - known
        assert {"BEACONLAKE_FIREHOSE_STREAM", "BEACONLAKE_KEYS_TABLE"} <= names


def test_glue_table_columns_are_the_schema_modules(synth: Synth) -> None:
    table = synth.one("AWS::Glue::Table")["TableInput"]

    def as_schema(columns: list[dict]) -> list[dict]:
        return [{"name": c["Name"], "type": c["Type"], "comment": c["Comment"]} for c in columns]

    assert as_schema(table["StorageDescriptor"]["Columns"]) == glue_columns()
    assert as_schema(table["PartitionKeys"]) == glue_partition_keys()
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith(
        "ParquetHiveSerDe"
    )


def test_partition_projection_needs_no_crawler(synth: Synth) -> None:
    params = synth.one("AWS::Glue::Table")["TableInput"]["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.site_id.type"] == "enum"
    assert params["projection.site_id.values"] == "example.com,blog.example.com"
    assert params["projection.dt.type"] == "date"
    assert params["projection.dt.format"] == "yyyy-MM-dd"
    assert params["projection.dt.range"].endswith(",NOW")
    template = params["storage.location.template"]
    assert "events/site_id=${site_id}/dt=${dt}/" in str(template)
    assert not synth.resources("AWS::Glue::Crawler")


def test_firehose_converts_to_parquet_with_dynamic_partitions(synth: Synth) -> None:
    stream = synth.one("AWS::KinesisFirehose::DeliveryStream")
    dest = stream["ExtendedS3DestinationConfiguration"]
    conversion = dest["DataFormatConversionConfiguration"]
    assert conversion["Enabled"] is True
    assert "ParquetSerDe" in conversion["OutputFormatConfiguration"]["Serializer"]
    assert conversion["SchemaConfiguration"]["TableName"] == "events"
    assert dest["DynamicPartitioningConfiguration"]["Enabled"] is True
    processor = dest["ProcessingConfiguration"]["Processors"][0]
    params = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert params["MetadataExtractionQuery"] == "{site_id: .site_id, dt: .dt}"
    assert dest["Prefix"] == (
        "events/site_id=!{partitionKeyFromQuery:site_id}/dt=!{partitionKeyFromQuery:dt}/"
    )
    assert dest["ErrorOutputPrefix"].startswith("errors/!{firehose:error-output-type}/")
    assert dest["BufferingHints"]["SizeInMBs"] >= 64
    assert dest["CloudWatchLoggingOptions"]["Enabled"] is True
    assert stream["DeliveryStreamEncryptionConfigurationInput"]["KeyType"] == "AWS_OWNED_CMK"


def test_athena_workgroup_enforces_v3_and_a_bytes_scanned_cutoff(synth: Synth) -> None:
    config = synth.one("AWS::Athena::WorkGroup")["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == 250_000_000
    assert config["EngineVersion"]["SelectedEngineVersion"] == "Athena engine version 3"
    assert config["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_S3"
    names = {q["Properties"]["Name"] for q in synth.resources("AWS::Athena::NamedQuery").values()}
    assert {"beaconlake: top-pages", "beaconlake: sources", "beaconlake: daily-visitors"} <= names
    assert "beaconlake: funnel-template" in names


def test_every_bucket_is_private_encrypted_and_tls_only(synth: Synth) -> None:
    buckets = synth.resources("AWS::S3::Bucket")
    assert len(buckets) == 4
    for props in (b["Properties"] for b in buckets.values()):
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policies = synth.resources("AWS::S3::BucketPolicy").values()
    tls_only = [
        p
        for p in policies
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny"
        and s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert len(tls_only) == len(buckets)


def test_events_expire_after_retention_days(synth: Synth) -> None:
    synth.assertions.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {"Id": "retention", "Prefix": "events/", "ExpirationInDays": 400}
                        )
                    ]
                )
            }
        },
    )


def test_salt_rotation_runs_daily_at_midnight_utc(synth: Synth) -> None:
    rule = synth.one("AWS::Events::Rule")
    assert rule["ScheduleExpression"] == "cron(0 0 * * ? *)"
    target = rule["Targets"][0]["Arn"]["Fn::GetAtt"][0]
    props = synth.template["Resources"][target]["Properties"]
    assert props["Description"] == "Beaconlake rotate_salt"


def test_routes_go_to_the_right_lambda(synth: Synth) -> None:
    integrations = synth.resources("AWS::ApiGatewayV2::Integration")
    resources = synth.template["Resources"]

    def function_of(route: dict) -> str:
        integration_id = route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]
        uri = integrations[integration_id]["Properties"]["IntegrationUri"]["Fn::GetAtt"][0]
        return resources[uri]["Properties"]["Description"]

    routes = {
        r["Properties"]["RouteKey"]: function_of(r)
        for r in synth.resources("AWS::ApiGatewayV2::Route").values()
    }
    assert routes == {
        "POST /api/event": "Beaconlake collect",
        "GET /e.gif": "Beaconlake collect",
        "GET /api/{proxy+}": "Beaconlake stats",
        "POST /api/{proxy+}": "Beaconlake stats",
        "DELETE /api/{proxy+}": "Beaconlake stats",
        "GET /health": "Beaconlake stats",
    }


def test_stage_is_throttled_and_logs_no_ip_or_user_agent(synth: Synth) -> None:
    stage = synth.one("AWS::ApiGatewayV2::Stage")
    assert stage["DefaultRouteSettings"] == {"ThrottlingBurstLimit": 80, "ThrottlingRateLimit": 50}
    log_format = stage["AccessLogSettings"]["Format"]
    assert "$context.requestId" in log_format
    assert "sourceIp" not in log_format and "userAgent" not in log_format


def test_cors_allows_the_configured_sites(synth: Synth) -> None:
    cors = synth.one("AWS::ApiGatewayV2::Api")["CorsConfiguration"]
    assert cors["AllowOrigins"] == [
        "https://example.com",
        "https://www.example.com",
        "https://blog.example.com",
        "https://www.blog.example.com",
    ]
    assert {"GET", "POST", "OPTIONS"} <= set(cors["AllowMethods"])


def test_cloudfront_forwards_api_uncached_with_viewer_country(synth: Synth) -> None:
    config = synth.one("AWS::CloudFront::Distribution")["DistributionConfig"]
    behaviors = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviors) == {"/api/*", "/e.gif", "/health"}
    for behavior in behaviors.values():
        assert behavior["CachePolicyId"] == CACHING_DISABLED
        assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
        assert "POST" in behavior["AllowedMethods"]
    default = config["DefaultCacheBehavior"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert "ResponseHeadersPolicyId" in default  # CORS * for the tracker script


def test_tracker_is_deployed_with_long_caching(synth: Synth) -> None:
    (deployment,) = synth.resources("Custom::CDKBucketDeployment").values()
    props = deployment["Properties"]
    assert "cache-control" in str(props["SystemMetadata"]).lower()
    assert props["DistributionPaths"] == ["/tracker.js"]


def test_alarms_cover_firehose_lambdas_and_lost_events(synth: Synth) -> None:
    metrics = {
        a["Properties"]["MetricName"] for a in synth.resources("AWS::CloudWatch::Alarm").values()
    }
    assert {"DeliveryToS3.Success", "Errors", "Throttles", "EventsRejected"} <= metrics
    assert synth.resources("AWS::CloudWatch::Dashboard")


def test_outputs_tell_the_user_what_to_do_next(synth: Synth) -> None:
    outputs = synth.template["Outputs"]
    for name in (
        "TrackerSnippet",
        "IngestUrl",
        "StatsApiUrl",
        "AthenaWorkgroup",
        "AthenaDatabase",
        "FirstApiKeyCommand",
    ):
        assert name in outputs
    assert "beaconlake keys create" in str(outputs["FirstApiKeyCommand"]["Value"])
    erase = str(outputs["EraseCommand"]["Value"])
    assert "BEACONLAKE_EVENTS_BUCKET" in erase and "beaconlake erase --site" in erase


def test_template_has_no_cfn_lint_errors(synth: Synth) -> None:
    from cfnlint.api import lint

    template = next(Path(synth.outdir).glob("*.template.json")).read_text("utf-8")
    # Commercial regions (CloudFront OAC and Firehose dynamic partitioning are not in China).
    regions = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]
    errors = [m for m in lint(template, regions=regions) if m.rule.id.startswith("E")]
    assert errors == []


def test_without_cloudfront_urls_are_api_gateways_and_nag_still_passes_with_tracing(
    placeholder_layer: Path, tmp_path: Path
) -> None:
    import json

    import aws_cdk as cdk

    from infra_cdk.app import build
    from tests.infra.conftest import cdk_context

    app = cdk.App(
        outdir=str(tmp_path),
        context=cdk_context(
            sites="example.com",
            cloudfront="false",
            tracing="true",
            dependency_layer_dir=str(placeholder_layer),
        ),
    )
    stack = build(app)
    app.synth()
    template = json.loads((tmp_path / f"{stack.stack_name}.template.json").read_text())
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::CloudFront::Distribution" not in kinds
    assert "execute-api" in json.dumps(template["Outputs"]["IngestUrl"])
    assert "TrackerUrl" not in template["Outputs"]
    for props in (
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == "app.handler"
    ):
        assert props["Environment"]["Variables"]["BEACONLAKE_CLIENT_IP_HEADER"] == ""
        assert props["TracingConfig"] == {"Mode": "Active"}  # tracing=true
