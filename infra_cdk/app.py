"""CDK entry point (`"app"` in cdk.json): settings from context, the stack, and cdk-nag's
AwsSolutions pack (v3 registers as a policy-validation plugin rather than an Aspect).

The CDK CLI hands the app cdk.json's context merged with its `-c` values (CDK_CONTEXT_JSON);
run directly (`python infra_cdk/app.py [-c name=value ...]`), the app reads cdk.json's
context itself, with its own `-c` values on top, so both ways synthesize the same stack."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers")]

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra_cdk.layers import LayerBuildError  # noqa: E402
from infra_cdk.settings import ConfigError, DeploySettings  # noqa: E402
from infra_cdk.stack import BeaconlakeStack  # noqa: E402

# Synthesized for when `sites` is not set, so that a bare synth shows the stack; a reserved
# name (RFC 2606), so such a stack accepts no real site's events.
PLACEHOLDER_SITE = "example.invalid"
PLACEHOLDER_SITE_WARNING = (
    f"setting 'sites' is not set, so the stack is synthesized for the placeholder site "
    f"{PLACEHOLDER_SITE}; deploy with -c sites=example.com,blog.example.com."
)


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's "context": the defaults the CDK CLI would pass."""
    context = json.loads((ROOT / "cdk.json").read_text("utf-8")).get("context", {})
    return dict(context)


def sites_missing(get: Callable[[str], Any]) -> bool:
    """`sites` is unset or empty (the CLI passes cdk.json's `[]` when no -c names it)."""
    raw = get("sites")
    items = raw if isinstance(raw, list) else str(raw or "").split(",")
    return not any(str(item).strip() for item in items)


def build(app: cdk.App) -> BeaconlakeStack:
    """The stack for the app's context; raises ConfigError or LayerBuildError. Without
    `sites` it is the placeholder site's, with a synth warning saying so."""
    placeholder = sites_missing(app.node.try_get_context)

    def context(name: str) -> Any:
        if placeholder and name == "sites":
            return PLACEHOLDER_SITE
        return app.node.try_get_context(name)

    settings = DeploySettings.from_context(context)
    stack = BeaconlakeStack(app, settings.stack_name, settings=settings)
    if placeholder:
        cdk.Annotations.of(stack).add_warning_v2(
            "beaconlake:placeholder-site", PLACEHOLDER_SITE_WARNING
        )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return stack


def context_arguments(argv: Sequence[str]) -> dict[str, str]:
    """`-c name=value` (or `--context`) arguments of a direct run."""
    parser = argparse.ArgumentParser(description="Synthesize the Beaconlake stack.")
    parser.add_argument("-c", "--context", action="append", default=[], metavar="NAME=VALUE")
    values: dict[str, str] = {}
    for item in parser.parse_args(argv).context:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            parser.error(f"a context value is NAME=VALUE, not {item!r}")
        values[name.strip()] = value
    return values


def main(argv: Sequence[str] = ()) -> int:
    # cdk.json's defaults and this run's -c values go in first; the CLI's context
    # (CDK_CONTEXT_JSON, cdk.json merged with its own -c values) is applied over them.
    app = cdk.App(context={**cdk_json_context(), **context_arguments(argv)})
    try:
        stack = build(app)
    except (ConfigError, LayerBuildError) as error:
        print(f"beaconlake: {error}", file=sys.stderr)
        return 1
    if sites_missing(app.node.try_get_context):
        print(f"beaconlake: warning: {PLACEHOLDER_SITE_WARNING}", file=sys.stderr)
    app.synth()
    print(f"beaconlake: synthesized {stack.stack_name} into {app.outdir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
