"""Figure 2: cold start. A fresh interpreter imports a Lambda handler module and handles its
first event; the floor is `import boto3; boto3.client("firehose")` in the same kind of fresh
interpreter. The clock starts at the first line of the child, so interpreter start-up (the
same for all) is left out. The children run interleaved, several rounds, medians compared.

Every child sees what a Lambda function sees, not the development venv: `python -S` (no
site-packages) with the dependency layer, built by infra_cdk.layers' recipe for this machine,
and the beaconlake package on its path. The venv would add what Lambda never loads: PyYAML
(ua_parser imports it when present) and the editable install's import hook.

After its first event each handler child also handles more events warm: their median is the
per-invocation duration the cost model uses.

Run as `python -m bench.coldstart <floor|collect|stats> EVENTS_JSON` (a child), or as
`python -m bench.coldstart` for this figure alone, on the AWS back end as `bench/run` runs it.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from itertools import pairwise  # noqa: E402
from pathlib import Path  # noqa: E402
from statistics import median  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# fake credentials and a region: clients can be built, and no call ever leaves the machine
AWS_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_EC2_METADATA_DISABLED": "true",
}
WARM_EVENTS = 300


class Context:
    """Enough of Lambda's context object for Powertools and Mangum."""

    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


# Not a UA of the demo's beacons, so the handler's first event parses its own UA again.
STEPS_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def _collect_steps(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The collector's cold start taken apart in a fresh interpreter: the time of each step
    (the same work as a `collect` child's, with the first UA checked before the event)."""
    times = [STARTED]
    from functions.collect.app import handler

    times.append(time.perf_counter())
    from beaconlake.ingest.useragent import is_bot, parse_user_agent

    is_bot(STEPS_UA)
    times.append(time.perf_counter())
    parse_user_agent(STEPS_UA)
    times.append(time.perf_counter())
    context: Any = Context()
    handler(events[0], context)
    times.append(time.perf_counter())
    durations = [b - a for a, b in pairwise(times)]
    return {"steps": dict(zip(COLLECT_STEPS, durations, strict=True))}


COLLECT_STEPS = (
    "importing the handler module",
    "first bot check (crawlerdetect's and uap's Spider rules compiled)",
    "first UA parse (uap's browser and OS rules compiled)",
    "the first event itself (botocore clients, salt, Firehose put)",
)


def _child(kind: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Runs in the fresh interpreter: the timed part first, then warm invocations."""
    if kind == "collect_steps":
        return _collect_steps(events)
    if kind == "floor":
        import boto3

        boto3.client("firehose")
        return {"seconds": time.perf_counter() - STARTED}
    if kind == "collect":
        from functions.collect.app import handler
    else:
        from functions.stats.app import handler  # type: ignore[assignment]
    context: Any = Context()
    first = handler(events[0], context)
    seconds = time.perf_counter() - STARTED
    assert first["statusCode"] in (200, 202), first
    warm = []
    for event in events[1:]:
        started = time.perf_counter()
        handler(event, context)
        warm.append(time.perf_counter() - started)
    from bench.procs import peak_rss_mb

    warm_ms = 1000 * median(warm) if warm else None
    return {"seconds": seconds, "warm_ms": warm_ms, "peak_rss_mb": peak_rss_mb()}


def write_events(out: Path, site: str, token: str) -> dict[str, Path]:
    """API Gateway events for each handler: demo beacons; the dashboard's aggregate query."""
    from datetime import UTC, datetime

    from beaconlake.local import demo
    from beaconlake.local.asgi import to_apigw_event

    def scope(method: str, path: str, query: str, headers: dict[str, str]) -> dict[str, Any]:
        raw = [(k.encode(), v.encode()) for k, v in headers.items()]
        return {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": query.encode(),
            "headers": raw,
            "client": ("192.0.2.1", 40000),
        }

    end = datetime(2026, 1, 1, 23, 59, tzinfo=UTC)
    beacons = [b for b in demo.generate(site, 1, 500, 5, end) if not b.meta.dnt]
    collect = [
        to_apigw_event(
            scope(
                "POST",
                "/api/event",
                "",
                {"user-agent": b.meta.user_agent, "content-type": "text/plain"},
            ),
            json.dumps(b.data).encode(),
        )
        for b in beacons[: WARM_EVENTS + 1]
    ]
    query = f"site_id={site}&period=30d&metrics=visitors,visits,pageviews,bounce_rate"
    auth = {"authorization": f"Bearer {token}"}
    stats = [
        to_apigw_event(scope("GET", "/api/v1/stats/aggregate", query, auth), b"")
        for _ in range(WARM_EVENTS // 10 + 1)
    ]
    paths = {"collect": out / "coldstart_collect.json", "stats": out / "coldstart_stats.json"}
    paths["collect"].write_text(json.dumps(collect))
    paths["stats"].write_text(json.dumps(stats))
    return paths


def lambda_paths() -> dict[bool, str]:
    """A Lambda function's import path, by whether its layers carry bytecode: the function
    code (and the bench) from the checkout, then the package layer and the dependency layer
    as infra_cdk.layers builds them, for this machine's Python and platform. With bytecode
    (True), as a deploy ships them when synth finds an interpreter of the runtime's version;
    as source only (False), as it ships them otherwise."""
    from infra_cdk.layers import dependency_layer, package_layer

    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    layers = [package_layer(python_version=version), dependency_layer(version, platforms=())]
    return {
        bytecode: os.pathsep.join([str(ROOT), *(str(layer / "python") for layer in variant)])
        for bytecode, variant in ((True, layers), (False, [_source_only(x) for x in layers]))
    }


def _source_only(layer: Path) -> Path:
    """A copy of a built layer without its `__pycache__` directories, kept while the layer's
    directory (named by its contents' digest) is the same; copies of older layers go."""
    import shutil

    copies = ROOT / "bench" / "out" / "coldstart-source"
    copy = copies / layer.name
    if not copy.exists():
        kind = layer.name.split("-")[0]
        for old in copies.glob(f"{kind}*"):
            shutil.rmtree(old)
        partial = copy.with_name(f".{layer.name}")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(layer, partial, ignore=shutil.ignore_patterns("__pycache__"))
        partial.rename(copy)
    return copy


# The children of a round: (kind for the child, with the layers' bytecode).
CHILDREN = {
    "floor": ("floor", True),
    "collect": ("collect", True),
    "stats": ("stats", True),
    "collect_steps": ("collect_steps", True),
    "collect_source": ("collect", False),
}


def run(events: dict[str, Path], env: dict[str, str], rounds: int) -> dict[str, Any]:
    """`rounds` fresh interpreters of each kind, interleaved, after one round not counted (the
    first reads the layers from disk: its floor took 4 x the next ones); medians and ratios."""
    samples: dict[str, list[dict[str, Any]]] = {k: [] for k in CHILDREN}
    paths = lambda_paths()
    for round_ in range(rounds + 1):
        for kind, (child, bytecode) in CHILDREN.items():
            child_events = events.get("collect" if child == "collect_steps" else child, "")
            out = subprocess.run(
                [sys.executable, "-S", "-m", "bench.coldstart", child, str(child_events)],
                cwd=ROOT,
                env={**os.environ, **AWS_ENV, **env, "PYTHONPATH": paths[bytecode]},
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
            if out.returncode != 0:
                raise RuntimeError(f"cold start child {kind} failed:\n{out.stderr[-3000:]}")
            if round_:
                samples[kind].append(json.loads(out.stdout.strip().splitlines()[-1]))
    result: dict[str, Any] = {
        "rounds": rounds,
        "backend": env.get("BEACONLAKE_BACKEND", "local"),
        "collect_imports": slowest_imports(events["collect"], {**env, "PYTHONPATH": paths[True]}),
        "collect_steps": {
            step: median(s["steps"][step] for s in samples["collect_steps"])
            for step in COLLECT_STEPS
        },
    }
    for kind in (k for k in CHILDREN if k != "collect_steps"):
        result[kind] = {
            "median_s": median(s["seconds"] for s in samples[kind]),
            "all_s": [s["seconds"] for s in samples[kind]],
        }
        if kind != "floor":
            result[kind]["warm_ms"] = median(s["warm_ms"] for s in samples[kind])
            result[kind]["peak_rss_mb"] = max(s["peak_rss_mb"] for s in samples[kind])
            result[kind]["ratio"] = paired_ratio(result[kind]["all_s"], result["floor"]["all_s"])
    return result


def paired_ratio(seconds: list[float], floor_seconds: list[float]) -> float:
    """The median over rounds of each round's time against that round's floor. A round's
    children run one after another, so they share the machine's mood of the moment; on
    this noisy machine that drifts by tens of percent within a run, so a ratio of the
    two medians (each taken from other moments) moves more than this."""
    return median(s / f for s, f in zip(seconds, floor_seconds, strict=True))


def slowest_imports(events: Path, env: dict[str, str], top: int = 6) -> list[tuple[str, float]]:
    """`python -X importtime` over a collector child (`env` as `run` gives its children) that
    handles only its first event, as the figure times it (the warm events after it import
    what rare beacons need, such as revenue's currency table): for each third-party package,
    the time spent in its own modules (their self times summed; a package's cumulative time
    misses submodules imported later, and botocore's are all imported later)."""
    first_only = events.with_name(f"{events.stem}_first.json")
    first_only.write_text(json.dumps(json.loads(events.read_text())[:1]))
    out = subprocess.run(
        [
            sys.executable,
            "-S",
            "-X",
            "importtime",
            "-m",
            "bench.coldstart",
            "collect",
            str(first_only),
        ],
        cwd=ROOT,
        env={**os.environ, **AWS_ENV, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return import_time_by_package(out.stderr)[:top]


def import_time_by_package(importtime: str) -> list[tuple[str, float]]:
    """Third-party packages by the ms spent in their own modules, slowest first, from
    `python -X importtime`'s output ('import time: self [us] | cumulative | module')."""
    own = {"beaconlake", "functions", "bench"}
    packages: dict[str, float] = {}
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, _, name = line.split("|")
        package = name.strip().split(".")[0]
        if package in own or package in sys.stdlib_module_names:
            continue
        packages[package] = packages.get(package, 0.0) + int(self_us.split(":")[-1]) / 1000
    return sorted(packages.items(), key=lambda kv: -kv[1])


if __name__ == "__main__":
    if len(sys.argv) == 1:
        from bench.main import cold_start

        print(json.dumps(cold_start(), indent=1))
    else:
        kind, path = sys.argv[1], sys.argv[2]
        loaded = json.loads(Path(path).read_text()) if path else []
        print(json.dumps(_child(kind, loaded)))
