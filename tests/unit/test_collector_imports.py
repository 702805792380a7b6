"""What the collector loads and builds before its first answer (figure 2 of docs/BENCHMARKS.md
is the time; these say what must stay out of it) and that the lazily built UA rules answer as
uap's full rule set does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from beaconlake.adapters.aws import FirehoseSink, ParameterSaltStore
from beaconlake.ingest import useragent
from beaconlake.ingest.useragent import parse_user_agent
from tests.conftest import BOT_UA, CHROME_UA, FIREFOX_UA, IPHONE_UA
from tests.unit.test_security_bots import reference_uap

ROOT = Path(__file__).resolve().parents[2]
# Modules the collector has no use for on a first pageview: the stats side's, boto3's resource
# layer and S3 transfers (botocore clients suffice), and data loaded only for rare beacons.
NOT_AT_COLD_START = {
    "boto3",
    "s3transfer",
    "pyathena",
    "duckdb",
    "pyarrow",
    "fastapi",
    "pydantic",
    "sqlglot",
    "iso4217",
}
KINDLE_UA = (
    "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Silk/94.3.1 like Chrome/94.0 Safari/537.36"
)
WINHTTP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) WinHTTP"
)
CONSOLE_UA = (
    "Mozilla/5.0 (Nintendo Switch; WifiWebAuthApplet) AppleWebKit/606.4 (KHTML, like Gecko) "
    "NF/6.0.1.15.4 NintendoBrowser/5.1.0.20393"
)


def loaded_after(code: str, env: dict[str, str]) -> set[str]:
    """The modules, and the top-level packages, a fresh interpreter has imported after
    running `code`."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    modules = set(json.loads(out.stdout.splitlines()[-1]))
    return modules | {name.split(".")[0] for name in modules}


AWS = {
    "BEACONLAKE_BACKEND": "aws",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def test_importing_the_collector_handler_loads_nothing_it_does_not_need() -> None:
    loaded = loaded_after("import functions.collect.app", AWS)
    assert {"aws_lambda_powertools", "beaconlake"} <= loaded
    # Powertools reads botocore's version; the AWS clients come with the first event; the
    # handler reads its two routes itself, without Powertools' event resolvers
    not_yet = {
        "botocore.client",
        "ua_parser",
        "crawlerdetect",
        "aws_lambda_powertools.event_handler",
    }
    assert not loaded & (NOT_AT_COLD_START | not_yet)


def test_the_collector_clients_come_from_botocore_without_boto3() -> None:
    code = (
        "from beaconlake.adapters.aws import new_client\n"
        "assert new_client('firehose').meta.service_model.service_name == 'firehose'\n"
        "assert new_client('ssm').meta.region_name == 'us-east-1'"
    )
    loaded = loaded_after(code, AWS)
    assert "botocore.client" in loaded
    assert not loaded & NOT_AT_COLD_START


def test_aws_adapters_create_their_client_on_first_use(fake_aws_credentials: None) -> None:
    sink = FirehoseSink("stream")
    salts = ParameterSaltStore("/beaconlake/salts")
    assert "client" not in vars(sink) and "client" not in vars(salts.parameters)
    assert sink.client.meta.service_model.service_name == "firehose"
    assert salts.parameters.client.meta.service_model.service_name == "ssm"


def uap(ua: str) -> tuple[str | None, str | None, str | None]:
    """Browser, OS and device family by ua_parser's reference parser (all of uap's rules)."""
    result = reference_uap().parse(ua)
    browser, os_, device = result.user_agent, result.os, result.device
    return (
        browser.family if browser else None,
        os_.family if os_ else None,
        device.family if device else None,
    )


@pytest.fixture
def fresh_rules() -> None:
    parse_user_agent.cache_clear()
    useragent._device_rules.cache_clear()


@pytest.mark.usefixtures("fresh_rules")
def test_browsers_with_a_known_os_are_parsed_without_the_device_rules() -> None:
    for ua in (CHROME_UA, IPHONE_UA, FIREFOX_UA):
        agent = parse_user_agent(ua)
        browser, os_family, _ = uap(ua)
        assert not agent.is_bot
        assert (agent.browser, agent.os) == (browser, os_family)
    assert useragent._device_rules.cache_info().currsize == 0


@pytest.mark.usefixtures("fresh_rules")
def test_spider_rules_agree_with_the_full_device_rules() -> None:
    # a Spider rule matches the Kindle's "Silk", but an earlier rule names the device Kindle
    assert uap(KINDLE_UA)[2] == "Kindle"
    assert not useragent.is_spider(KINDLE_UA)
    kindle = parse_user_agent(KINDLE_UA)
    assert (kindle.browser, kindle.device, kindle.is_bot) == ("Amazon Silk", "tablet", False)
    assert uap(WINHTTP_UA)[2] == "Spider"
    assert useragent.is_spider(WINHTTP_UA)
    assert parse_user_agent(WINHTTP_UA).is_bot
    assert parse_user_agent(BOT_UA) == useragent.BOT


@pytest.mark.usefixtures("fresh_rules")
def test_an_unknown_os_asks_the_device_rules() -> None:
    assert uap(CONSOLE_UA)[1:] == (None, "Nintendo Switch")
    assert parse_user_agent(CONSOLE_UA).device == "desktop"
    assert useragent._device_rules.cache_info().currsize == 1
    unknown = "Mozilla/5.0 (Unknown) Foo/1.0"
    assert uap(unknown)[2] is None
    assert parse_user_agent(unknown).device == "other"
