"""CDK entry point (`"app"` in cdk.json): settings from context, the stack, and cdk-nag's
AwsSolutions pack (v3 registers as a policy-validation plugin rather than an Aspect)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "layers")]

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra_cdk.layers import LayerBuildError  # noqa: E402
from infra_cdk.settings import ConfigError, DeploySettings  # noqa: E402
from infra_cdk.stack import BeaconlakeStack  # noqa: E402


def build(app: cdk.App) -> BeaconlakeStack:
    """The stack for the app's context; raises ConfigError or LayerBuildError."""
    settings = DeploySettings.from_context(app.node.try_get_context)
    stack = BeaconlakeStack(app, settings.stack_name, settings=settings)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return stack


def main() -> int:
    app = cdk.App()
    try:
        build(app)
    except (ConfigError, LayerBuildError) as error:
        print(f"beaconlake: {error}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
