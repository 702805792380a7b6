"""cdk-nag really runs at synth: an unacknowledged finding fails synthesis."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

pytestmark = pytest.mark.slow


def test_an_unacknowledged_finding_fails_synth(tmp_path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Careless")
    s3.Bucket(stack, "NoLogsNoTls")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="AwsSolutions-S10"):
        app.synth()
