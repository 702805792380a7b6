"""One synthesis of the whole app per test session (it takes ~10 s), shared by the tests.

The dependency layer is replaced by a small placeholder directory (`dependency_layer_dir`),
so the tests need neither the network nor pip; the real layer is built by `npx aws-cdk synth`
and measured by bench/package_sizes.py."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")

ROOT = Path(__file__).resolve().parents[2]
SITES = "example.com,blog.example.com"
# The context of the shared synthesis: cdk.json's with these on top. The AWS-in-a-box
# scenarios (tests/aws_box) are timed for a 120 s Firehose buffer, so the box runs the
# template at 120 s rather than cdk.json's 300 s.
SYNTH_OVERRIDES: dict[str, Any] = {
    "sites": SITES,
    "retention_days": "400",
    "bytes_scanned_cutoff_mb": 250,
    "throttle_rate": 50,
    "throttle_burst": 80,
    "reserved_concurrency": 20,
    "firehose_buffer_seconds": 120,
}


def cdk_context(**overrides: Any) -> dict[str, Any]:
    """cdk.json's context (what the CLI passes), with overrides like `-c name=value`."""
    context = json.loads((ROOT / "cdk.json").read_text("utf-8"))["context"]
    context.update(overrides)
    return context


@dataclass
class Synth:
    template: dict[str, Any]
    assertions: Any  # aws_cdk.assertions.Template
    outdir: Path

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template["Resources"].items() if v["Type"] == kind}

    def one(self, kind: str) -> dict[str, Any]:
        (resource,) = self.resources(kind).values()
        return resource["Properties"]


def make_placeholder_layer(directory: Path) -> Path:
    """A dependency layer directory holding one placeholder module."""
    (directory / "python").mkdir()
    (directory / "python" / "placeholder.py").write_text("# test stand-in\n")
    return directory


# One synthesis per session, whichever test package asks first (tests/infra, tests/aws_box):
# pytest caches a session fixture per defining conftest, so two conftests importing the same
# fixture would still synthesize twice; this module-level cache makes it once.
_SYNTH: list[Synth] = []


def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The app synthesized with the test context (see `synth`), built once per session."""
    if not _SYNTH:
        import aws_cdk as cdk
        from aws_cdk.assertions import Template

        from infra_cdk.app import build

        layer = make_placeholder_layer(tmp_path_factory.mktemp("deps-layer"))
        outdir = tmp_path_factory.mktemp("cdk.out")
        app = cdk.App(
            outdir=str(outdir),
            context=cdk_context(**SYNTH_OVERRIDES, dependency_layer_dir=str(layer)),
        )
        stack = build(app)
        app.synth()  # runs cdk-nag's AwsSolutions pack; raises on any unacknowledged finding
        path = outdir / f"{stack.stack_name}.template.json"
        template = json.loads(path.read_text("utf-8"))
        _SYNTH.append(Synth(template, Template.from_json(template), outdir))
    return _SYNTH[0]


@pytest.fixture(scope="session")
def placeholder_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_placeholder_layer(tmp_path_factory.mktemp("deps-layer"))


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesized(tmp_path_factory)
