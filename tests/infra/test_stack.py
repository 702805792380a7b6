"""Properties of the synthesized stack that a deploy depends on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aws_cdk.assertions import Match

from beaconlake.schema import glue_columns, glue_partition_keys
from beaconlake.stats.sql.imported import TABLES as IMPORTED_TABLES
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


def function_named(synth: Synth, name: str) -> dict:
    (props,) = [
        p for p in beaconlake_functions(synth).values() if p["Description"] == f"Beaconlake {name}"
    ]
    return props


def test_lambdas_are_arm64_python_313_with_powertools_settings(synth: Synth) -> None:
    functions = beaconlake_functions(synth)
    assert len(functions) == 4
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
    assert services == {
        "beaconlake-collect",
        "beaconlake-stats",
        "beaconlake-rotate_salt",
        "beaconlake-rollups",
    }
    collector = next(p for p in functions.values() if p["Description"] == "Beaconlake collect")
    assert collector["ReservedConcurrentExecutions"] == 20


def test_every_beaconlake_variable_is_one_config_reads(synth: Synth) -> None:
    config = (ROOT / "layers" / "beaconlake" / "config.py").read_text("utf-8")
    known = set(re.findall(r'"(BEACONLAKE_[A-Z_]+)"', config))
    for props in beaconlake_functions(synth).values():
        names = {n for n in props["Environment"]["Variables"] if n.startswith("BEACONLAKE_")}
        assert names <= known, names - known
        assert {"BEACONLAKE_FIREHOSE_STREAM", "BEACONLAKE_KEYS_TABLE"} <= names


def glue_tables(synth: Synth) -> dict[str, dict]:
    """Table name → its TableInput."""
    return {
        t["Properties"]["TableInput"]["Name"]: t["Properties"]["TableInput"]
        for t in synth.resources("AWS::Glue::Table").values()
    }


def test_glue_table_columns_are_the_schema_modules(synth: Synth) -> None:
    table = glue_tables(synth)["events"]

    def as_schema(columns: list[dict]) -> list[dict]:
        return [{"name": c["Name"], "type": c["Type"], "comment": c["Comment"]} for c in columns]

    assert as_schema(table["StorageDescriptor"]["Columns"]) == glue_columns()
    assert as_schema(table["PartitionKeys"]) == glue_partition_keys()
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith(
        "ParquetHiveSerDe"
    )


def test_partition_projection_needs_no_crawler(synth: Synth) -> None:
    tables = glue_tables(synth)
    imported = {t.name for t in IMPORTED_TABLES}
    assert set(tables) == {"events", "session_rollup", "page_rollup", *imported}
    for name, prefix in (
        ("events", "events/"),
        ("session_rollup", "rollups/session_rollup/"),
        ("page_rollup", "rollups/page_rollup/"),
    ):
        params = tables[name]["Parameters"]
        assert params["projection.enabled"] == "true"
        # injected: any site of the catalogue is queryable, added with no redeploy
        assert params["projection.site_id.type"] == "injected"
        assert "projection.site_id.values" not in params
        assert params["projection.dt.type"] == "date"
        assert params["projection.dt.format"] == "yyyy-MM-dd"
        assert params["projection.dt.range"].endswith(",NOW")
        template = params["storage.location.template"]
        assert f"/{prefix}site_id=${{site_id}}/dt=${{dt}}/" in json.dumps(template)
    assert not synth.resources("AWS::Glue::Crawler")


def test_imported_tables_are_the_import_modules(synth: Synth) -> None:
    """One Glue table per imported table, its columns the stored ones, the site injected."""
    tables = glue_tables(synth)
    for table in IMPORTED_TABLES:
        found = tables[table.name]
        columns = [(c["Name"], c["Type"]) for c in found["StorageDescriptor"]["Columns"]]
        as_glue = {"varchar": "string", "bigint": "bigint"}
        assert columns == [(n, as_glue[t]) for n, t in table.stored]
        assert [k["Name"] for k in found["PartitionKeys"]] == ["site_id"]
        params = found["Parameters"]
        assert params["projection.enabled"] == "true"
        assert params["projection.site_id.type"] == "injected"
        template = json.dumps(params["storage.location.template"])
        assert f"/imported/{table.name}/site_id=${{site_id}}/" in template
        assert f"/imported/{table.name}/" in json.dumps(found["StorageDescriptor"]["Location"])
    # the functions that run statements may read them (Glue, on each table's ARN)
    readers = [
        json.dumps(p["PolicyDocument"])
        for p in synth.resources("AWS::IAM::Policy").values()
        for p in [p["Properties"]]
        if "glue:GetPartitions" in json.dumps(p["PolicyDocument"])
    ]
    assert readers
    for policy in readers:
        assert all(f"/{t.name}" in policy for t in IMPORTED_TABLES), policy


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


def test_no_lifecycle_rule_deletes_rollups_and_events_have_a_backstop(synth: Synth) -> None:
    """The daily job deletes events past retention_days (400 here) and keeps their rollups
    (downsampled retention); a lifecycle rule deletes what it left 30 days later."""
    backstop = {"Id": "retention", "Prefix": "events/", "ExpirationInDays": 430}
    synth.assertions.has_resource_properties(
        "AWS::S3::Bucket",
        {"LifecycleConfiguration": {"Rules": Match.array_with([Match.object_like(backstop)])}},
    )
    (events,) = [
        b["Properties"]["LifecycleConfiguration"]["Rules"]
        for b in synth.resources("AWS::S3::Bucket").values()
        if backstop["Id"]
        in [r.get("Id") for r in b["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])]
    ]
    expiring = [r.get("Prefix", "") for r in events if "ExpirationInDays" in r]
    assert expiring and not [
        p for p in expiring if "rollups/".startswith(p) or p.startswith("rollups/")
    ]


def scheduled(synth: Synth) -> dict[str, tuple[dict, dict]]:
    """Each EventBridge rule's function description → (the rule, its target)."""
    found = {}
    for rule in (r["Properties"] for r in synth.resources("AWS::Events::Rule").values()):
        (target,) = rule["Targets"]
        function = synth.template["Resources"][target["Arn"]["Fn::GetAtt"][0]]["Properties"]
        found[function["Description"]] = (rule, target)
    return found


def test_salt_rotation_runs_daily_at_midnight_utc(synth: Synth) -> None:
    rule, _ = scheduled(synth)["Beaconlake rotate_salt"]
    assert rule["ScheduleExpression"] == "cron(0 0 * * ? *)"


def test_the_daily_job_runs_every_hour_one_run_at_a_time(synth: Synth) -> None:
    rule, target = scheduled(synth)["Beaconlake rollups"]
    assert rule["ScheduleExpression"] == "cron(20 * * * ? *)"
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 2
    job = function_named(synth, "rollups")
    assert (job["MemorySize"], job["Timeout"], job["ReservedConcurrentExecutions"]) == (
        512,
        900,
        1,
    )
    assert job["Handler"] == "app.handler"
    buckets = {
        name: synth.template["Resources"][value["Ref"]]["Type"]
        for name, value in job["Environment"]["Variables"].items()
        if name in ("BEACONLAKE_EVENTS_BUCKET", "BEACONLAKE_RESULTS_BUCKET")
    }
    assert buckets == dict.fromkeys(
        ("BEACONLAKE_EVENTS_BUCKET", "BEACONLAKE_RESULTS_BUCKET"), "AWS::S3::Bucket"
    )
    job_env = job["Environment"]["Variables"]
    stats_env = function_named(synth, "stats")["Environment"]["Variables"]
    # the stats function reads the job's state from the events bucket
    assert stats_env["BEACONLAKE_EVENTS_BUCKET"] == job_env["BEACONLAKE_EVENTS_BUCKET"]
    assert stats_env["BEACONLAKE_RESULTS_BUCKET"] == job_env["BEACONLAKE_RESULTS_BUCKET"]
    assert job_env["BEACONLAKE_EVENTS_BUCKET"] != job_env["BEACONLAKE_RESULTS_BUCKET"]


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
    # beacons never pass API Gateway: the collector has its function URL
    assert routes == {
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


def test_the_collector_is_a_public_function_url_with_the_sites_cors(synth: Synth) -> None:
    url = synth.one("AWS::Lambda::Url")
    collector = url["TargetFunctionArn"]["Fn::GetAtt"][0]
    assert synth.template["Resources"][collector]["Properties"]["Description"] == (
        "Beaconlake collect"
    )
    assert url["AuthType"] == "NONE"
    assert url["Cors"]["AllowOrigins"] == [
        "https://example.com",
        "https://www.example.com",
        "https://blog.example.com",
        "https://www.blog.example.com",
    ]
    assert set(url["Cors"]["AllowMethods"]) == {"POST", "GET"}
    # Lambda needs both grants for a public function URL (since October 2025)
    grants = {
        p["Properties"]["Action"]
        for p in synth.resources("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [collector, "Arn"]}
        and p["Properties"]["Principal"] == "*"
    }
    assert grants == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}


def test_cloudfront_forwards_beacons_and_the_api_uncached_with_viewer_country(
    synth: Synth,
) -> None:
    config = synth.one("AWS::CloudFront::Distribution")["DistributionConfig"]
    paths = [b["PathPattern"] for b in config["CacheBehaviors"]]
    assert paths == ["/api/event", "/e.gif", "/api/*", "/health"]  # /api/event before /api/*
    behaviors = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    for behavior in behaviors.values():
        assert behavior["CachePolicyId"] == CACHING_DISABLED
        assert behavior["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
        assert "POST" in behavior["AllowedMethods"]
    origins = {o["Id"]: json.dumps(o["DomainName"]) for o in config["Origins"]}
    (url_id,) = synth.resources("AWS::Lambda::Url")
    for path in ("/api/event", "/e.gif"):
        assert url_id in origins[behaviors[path]["TargetOriginId"]]
    for path in ("/api/*", "/health"):
        assert "execute-api" in origins[behaviors[path]["TargetOriginId"]]
    default = config["DefaultCacheBehavior"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert "ResponseHeadersPolicyId" in default  # CORS * for the tracker script


def test_tracker_is_deployed_with_long_caching(synth: Synth) -> None:
    (deployment,) = synth.resources("Custom::CDKBucketDeployment").values()
    props = deployment["Properties"]
    assert "cache-control" in str(props["SystemMetadata"]).lower()
    assert props["DistributionPaths"] == ["/tracker.js", "/clicks.js"]


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
    add_site = str(outputs["AddSiteCommand"]["Value"])
    assert "BEACONLAKE_CATALOGUE_TABLE" in add_site and "beaconlake sites add" in add_site


def test_template_has_no_cfn_lint_errors(synth: Synth) -> None:
    from cfnlint.api import lint

    template = next(Path(synth.outdir).glob("*.template.json")).read_text("utf-8")
    # Commercial regions (CloudFront OAC and Firehose dynamic partitioning are not in China).
    regions = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]
    errors = [m for m in lint(template, regions=regions) if m.rule.id.startswith("E")]
    assert errors == []


def test_without_cloudfront_beacons_go_to_the_function_url_and_nag_passes_with_tracing(
    placeholder_layer: Path, tmp_path: Path
) -> None:
    import aws_cdk as cdk

    from beaconlake.cost import DROP_REASONS, Usage
    from infra_cdk.app import build
    from tests.infra.conftest import cdk_context

    context = cdk_context(
        sites="example.com",
        cloudfront="false",
        tracing="true",
        dashboard="true",
        drop_metrics="true",
        dependency_layer_dir=str(placeholder_layer),
    )
    app = cdk.App(outdir=str(tmp_path), context=context)
    stack = build(app)
    app.synth()
    template = json.loads((tmp_path / f"{stack.stack_name}.template.json").read_text())
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::CloudFront::Distribution" not in kinds
    (url_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::Url"]
    for output in ("IngestUrl", "PixelUrl", "TrackerSnippet"):
        assert url_id in json.dumps(template["Outputs"][output])
    assert "execute-api" in json.dumps(template["Outputs"]["StatsApiUrl"])
    assert "TrackerUrl" not in template["Outputs"]
    for props in (
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == "app.handler"
    ):
        assert props["Environment"]["Variables"]["BEACONLAKE_CLIENT_IP_HEADER"] == ""
        assert props["TracingConfig"] == {"Mode": "Active"}  # tracing=true
    # the opt-in items, as the cost model counts them for the same settings
    usage = Usage.deployed(context, events_per_month=1)
    assert not usage.cloudfront and usage.tracing
    dashboards = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    assert len(dashboards) == usage.dashboards == 1
    (collector,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Description") == "Beaconlake collect"
    ]
    assert collector["Environment"]["Variables"]["BEACONLAKE_DROP_METRICS"] == "true"
    assert usage.custom_metrics == DROP_REASONS
