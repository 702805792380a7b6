"""The tracker-bytes and ingest-per-core comparisons with peers (bench/tracker_peers.py,
bench/http_ingest.py, bench/peers.json). No network: npm tarballs are made up here."""

from __future__ import annotations

import gzip
import io
import re
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from bench import docblocks, http_ingest, tracker_peers

ROOT = Path(__file__).resolve().parents[2]
OURS = ROOT / "tracker_js" / "dist" / "tracker.min.js"


def _tgz(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_every_peer_is_pinned_or_published_with_its_source() -> None:
    record = tracker_peers.peers()
    for peer in record["tracker"]:
        if peer["package"] is None:
            published = peer["published"]
            assert published["gzip_bytes"] < published["min_bytes"], peer["name"]
            assert peer["source"].startswith("https://"), peer["name"]
        else:
            assert re.fullmatch(r"\d+\.\d+\.\d+", peer["version"]), peer["name"]
            command = tracker_peers.pack_command(peer, Path("/d"))
            assert command[:3] == ["npm", "pack", f"{peer['package']}@{peer['version']}"]
    for peer in record["ingest"]:
        assert peer["source"].startswith("https://"), peer["name"]
        assert 0 < peer["per_core_low"] <= peer["per_core_high"], peer["name"]
        assert peer["cores"] >= 1


def test_sizes_are_nodes_gzip_9_and_brotli_and_a_terser_job_is_minified(tmp_path: Path) -> None:
    source = tmp_path / "peer.js"
    source.write_text(
        "(function (window) {\n  var aVeryLongVariableName = window.location.href;\n"
        "  console.log(aVeryLongVariableName, aVeryLongVariableName);\n})(window);\n"
    )
    ours, built = tracker_peers.measure([{"path": OURS}, {"path": source, "terser": {}}])
    data = OURS.read_bytes()
    assert ours["min_bytes"] == len(data)
    # Node's zlib and Python's differ by a few bytes at the same level
    assert abs(ours["gzip_bytes"] - len(gzip.compress(data, 9, mtime=0))) <= 16
    assert ours["brotli_bytes"] < ours["gzip_bytes"] < ours["min_bytes"]
    assert built["min_bytes"] < len(source.read_bytes())
    assert ours["gzip_bytes"] <= 1500  # npm test's limit, measured the same way


def test_a_peer_file_comes_out_of_its_npm_tarball(tmp_path: Path) -> None:
    peer = {"package": "@scope/tracker", "version": "1.2.3", "file": "dist/script.js"}
    _tgz(tmp_path / "scope-tracker-1.2.3.tgz", {"dist/script.js": b"var a=1;", "README.md": b"x"})
    path = tracker_peers.fetch(peer, tmp_path)  # the tarball is there: npm is not run
    assert path.read_bytes() == b"var a=1;"
    _tgz(tmp_path / "scope-tracker-1.2.3.tgz", {"README.md": b"x"})
    with pytest.raises(KeyError):
        tracker_peers.fetch(peer, tmp_path)


def test_run_measures_packed_peers_lists_published_ones_and_survives_a_failed_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "script.js"
    script.write_text("var x = 1; console.log(x);\n")
    record = {
        "tracker": [
            {"name": "Packed", "package": "packed", "version": "1.0.0", "file": "s.js"},
            {"name": "Offline", "package": "offline", "version": "2.0.0", "file": "s.js"},
            {
                "name": "Published",
                "package": None,
                "file": "p.js",
                "published": {"min_bytes": 1000, "gzip_bytes": 500, "brotli_bytes": 400},
                "source": "https://example.org/readme",
            },
        ]
    }

    def fetch(peer: dict[str, Any], dest: Path) -> Path:
        if peer["name"] == "Offline":
            raise subprocess.CalledProcessError(1, ["npm", "pack"])
        return script

    monkeypatch.setattr(tracker_peers, "peers", lambda: record)
    monkeypatch.setattr(tracker_peers, "fetch", fetch)
    r = tracker_peers.run(tmp_path)
    rows = {row["name"]: row for row in r["rows"]}
    assert rows["Packed"]["min_bytes"] == len(script.read_bytes())
    assert rows["Packed"]["measured"] is True
    assert rows["Beaconlake"]["min_bytes"] == len(OURS.read_bytes())
    assert "min_bytes" not in rows["Offline"] and "npm pack failed" in rows["Offline"]["error"]
    assert rows["Published"]["gzip_bytes"] == 500 and rows["Published"]["measured"] is False
    text = tracker_peers.markdown(r)
    assert "| Published | 1,000 B | **500 B** | 400 B | published figure, not measured here" in text
    assert "https://example.org/readme" in text
    assert "| Offline | — | **—** | — | not measured: npm pack failed" in text


def _server(events_per_s: float, main_us: float, other_us: float) -> dict[str, Any]:
    cpu = {"main": main_us, "other": other_us}
    return {"measured": {"events_per_s": events_per_s, "cpu_us_per_request": cpu}}


def test_events_per_core_come_from_cpu_per_request_and_peers_are_marked_published() -> None:
    serve = _server(3000.0, 300.0, 20.0)
    got = http_ingest.per_core(serve)
    assert got["per_core"] == pytest.approx(1e6 / 320.0)
    assert got["cores_busy"] == pytest.approx(3000.0 * 320e-6)
    h = {"serve": serve, "bare": _server(7000.0, 140.0, 0.0)}
    published = [
        {
            "name": "Peer",
            "figure": "4,000 requests/s on 2 vCPU",
            "cores": 2,
            "per_core_low": 2000,
            "per_core_high": 3000,
            "source": "https://example.org/peer",
        }
    ]
    text = http_ingest.peers_markdown(h, published)
    assert "| Beaconlake `serve` | **3,125** | measured here: 3,000 events/s" in text
    assert "| bare uvicorn app (202 only) | **7,143** |" in text
    assert "| Peer | **2,000 to 3,000** | published figure, not measured here" in text
    assert "https://example.org/peer" in text


def test_the_doc_holds_both_blocks_in_the_shape_written_today(tmp_path: Path) -> None:
    r = {
        "http": {"serve": _server(3000.0, 300.0, 20.0), "bare": _server(7000.0, 140.0, 0.0)},
        "tracker_peers": {
            "gzip_level": 9,
            "rows": [
                {
                    "name": "Beaconlake",
                    "file": "tracker_js/dist/tracker.min.js",
                    "what": "all",
                    "min_bytes": 2700,
                    "gzip_bytes": 1500,
                    "brotli_bytes": 1300,
                    "measured": True,
                }
            ],
        },
    }
    doc = ROOT / "docs" / "BENCHMARKS.md"
    held = docblocks.blocks(doc.read_text("utf-8"))
    tables = tracker_peers.tables(r)
    assert tuple(tables) == tracker_peers.BLOCKS
    for name, markdown in tables.items():
        assert held[name].splitlines()[0] == markdown.splitlines()[0], f"{name}: rerun"
    copy = tmp_path / "BENCHMARKS.md"
    copy.write_text(doc.read_text("utf-8"))
    tracker_peers.write(r, copy)
    assert docblocks.stale(copy, tables) == []


def test_a_node_failure_marks_the_measured_rows_and_keeps_the_published_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def measure(jobs: list[dict[str, Any]]) -> list[dict[str, int]]:
        raise FileNotFoundError("node")

    monkeypatch.setattr(tracker_peers, "measure", measure)
    published = {
        "name": "Published",
        "package": None,
        "file": "p.js",
        "published": {"min_bytes": 1000, "gzip_bytes": 500, "brotli_bytes": 400},
        "source": "https://example.org/readme",
    }
    monkeypatch.setattr(tracker_peers, "peers", lambda: {"tracker": [published]})
    rows = {row["name"]: row for row in tracker_peers.run(tmp_path)["rows"]}
    assert rows["Beaconlake"]["error"] == "node failed: FileNotFoundError"
    assert rows["Beaconlake"]["measured"] is False and "gzip_bytes" not in rows["Beaconlake"]
    assert rows["Published"]["gzip_bytes"] == 500
