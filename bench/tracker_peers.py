"""The tracker's bytes against its peers' scripts.

Ours: tracker_js/dist/*.min.js as built. A peer on a registry: its package as published,
fetched with `npm pack <package>@<pinned version>` into bench/out/peers/ (the bench's only
network use; the tests never fetch), and its script measured as shipped, or built from the
package's source with the package's own terser options where it ships no built script. A peer
on no registry: the figures it publishes, with their source. Every peer, its pin and its
source are one record, bench/peers.json.

Sizes are measured by Node's zlib, as `npm test` measures ours: gzip at level 9 and brotli at
its default quality (11).

Writes two blocks of docs/BENCHMARKS.md (`BLOCKS`): `tracker-peers`, and `ingest-peers`, figure
3's events/s per core beside the peers' published figures. `bench/run` measures and writes
them; `python -m bench.tracker_peers` rewrites both from bench/out/results.json, and with
`--measure` measures the scripts again first (seconds; it needs the npm registry once).
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import http_ingest
from bench.docblocks import replace_generated, table

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "BENCHMARKS.md"
RESULTS = ROOT / "bench" / "out" / "results.json"
PEERS = ROOT / "bench" / "peers.json"
BLOCKS = ("tracker-peers", "ingest-peers")
TRACKER_JS = ROOT / "tracker_js"
OURS = (
    ("Beaconlake", "tracker_js/dist/tracker.min.js", "every feature but click tracking"),
    ("Beaconlake, optional", "tracker_js/dist/clicks.min.js", "click tracking (a second file)"),
)
GZIP_LEVEL = 9
# Node: for each job {path, terser?}, the script's bytes (built first if terser is given),
# gzip -9 and brotli. Terser is tracker_js's own devDependency.
MEASURE_JS = """
const fs = require('fs'), zlib = require('zlib');
const jobs = JSON.parse(fs.readFileSync(0, 'utf8'));
(async () => {
  const out = [];
  for (const job of jobs) {
    let code = fs.readFileSync(job.path, 'utf8');
    if (job.terser) {
      const { minify } = require(require.resolve('terser', { paths: [job.node_root] }));
      code = (await minify("(function () {\\n'use strict';\\n" + code + '\\n})();', job.terser)).code;
    }
    const data = Buffer.from(code);
    out.push({
      min_bytes: data.length,
      gzip_bytes: zlib.gzipSync(data, { level: job.level }).length,
      brotli_bytes: zlib.brotliCompressSync(data).length,
    });
  }
  process.stdout.write(JSON.stringify(out));
})();
"""


def peers() -> dict[str, Any]:
    """bench/peers.json: the peers' trackers and their published ingest figures."""
    return dict(json.loads(PEERS.read_text()))


def measure(jobs: list[dict[str, Any]]) -> list[dict[str, int]]:
    """Sizes of each job's script: {path, terser (options, optional)} → bytes, gzip, brotli."""
    payload = [
        {**job, "path": str(job["path"]), "level": GZIP_LEVEL, "node_root": str(TRACKER_JS)}
        for job in jobs
    ]
    out = subprocess.run(
        ["node", "-e", MEASURE_JS],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(out.stdout))


def pack_command(peer: dict[str, Any], dest: Path) -> list[str]:
    return ["npm", "pack", f"{peer['package']}@{peer['version']}", "--pack-destination", str(dest)]


def fetch(peer: dict[str, Any], dest: Path) -> Path:
    """The peer's file from its npm tarball (downloaded once into `dest`)."""
    dest.mkdir(parents=True, exist_ok=True)
    name = peer["package"].lstrip("@").replace("/", "-")
    tgz = dest / f"{name}-{peer['version']}.tgz"
    if not tgz.exists():
        subprocess.run(pack_command(peer, dest), check=True, capture_output=True, timeout=300)
    target = dest / f"{name}-{peer['version']}" / Path(peer["file"]).name
    with tarfile.open(tgz) as tar:
        member = tar.extractfile(f"package/{peer['file']}")
        if member is None:
            raise FileNotFoundError(f"{tgz.name} has no package/{peer['file']}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(member.read())
    return target


def run(out: Path) -> dict[str, Any]:
    """Our scripts and the peers', measured now where a package exists."""
    rows: list[dict[str, Any]] = []
    jobs: list[dict[str, Any]] = []
    for name, path, what in OURS:
        rows.append({"name": name, "version": "this tree", "file": path, "what": what})
        jobs.append({"path": ROOT / path})
    for peer in peers()["tracker"]:
        row = {k: peer.get(k) for k in ("name", "version", "package", "file", "what", "source")}
        if peer.get("package") is None:
            rows.append({**row, **peer["published"], "measured": False})
            continue
        try:
            script = fetch(peer, out / "peers")
        except (OSError, subprocess.SubprocessError) as exc:
            rows.append({**row, "error": f"npm pack failed: {type(exc).__name__}"})
            continue
        rows.append(row)
        jobs.append({"path": script, **({"terser": peer["terser"]} if "terser" in peer else {})})
    try:
        if not (TRACKER_JS / "node_modules" / "terser").exists():  # a fresh clone
            subprocess.run(["npm", "ci"], cwd=TRACKER_JS, check=True, capture_output=True)
        sizes: Iterator[dict[str, Any]] = iter(measure(jobs))
    except (OSError, subprocess.SubprocessError) as exc:  # the run's other figures go on
        failed = {"error": f"node failed: {type(exc).__name__}"}
        sizes = iter([failed] * len(jobs))
    for row in rows:
        if "measured" not in row and "error" not in row:
            size = next(sizes)
            row.update(size, measured="error" not in size)
    return {"gzip_level": GZIP_LEVEL, "rows": rows}


def _bytes(value: int | None) -> str:
    return "—" if value is None else f"{value:,} B"


def markdown(r: dict[str, Any]) -> str:
    """The `tracker-peers` block of docs/BENCHMARKS.md."""
    rows = []
    for row in r["rows"]:
        if row.get("error"):
            how = f"not measured: {row['error']}"
        elif not row.get("measured"):
            how = f"published figure, not measured here ({row['source']})"
        elif row.get("package"):
            how = f"measured: npm `{row['package']}@{row['version']}`, {row['what']}"
        else:
            how = f"measured: `{row['file']}`, {row['what']}"
        rows.append(
            [
                row["name"],
                _bytes(row.get("min_bytes")),
                f"**{_bytes(row.get('gzip_bytes'))}**",
                _bytes(row.get("brotli_bytes")),
                how,
            ]
        )
    return table(
        ["script", "minified", f"gzip -{r['gzip_level']}", "brotli", "how"],
        rows,
    )


def tables(r: dict[str, Any]) -> dict[str, str]:
    """Block name → its Markdown, from a run's results."""
    return {
        "tracker-peers": markdown(r["tracker_peers"]),
        "ingest-peers": http_ingest.peers_markdown(r["http"], peers()["ingest"]),
    }


def write(r: dict[str, Any], doc: Path = DOC) -> None:
    for name, text in tables(r).items():
        replace_generated(doc, name, text)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(
        description="The tracker and ingest peer tables from the last run."
    )
    parser.add_argument("--measure", action="store_true", help="measure the scripts again")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text())
    if args.measure:
        results["tracker_peers"] = run(RESULTS.parent)
        RESULTS.write_text(json.dumps(results, indent=1, default=str))
    write(results)


if __name__ == "__main__":
    main()
