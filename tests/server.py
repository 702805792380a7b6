"""Start the real `beaconlake serve` on a free loopback port, as a user would."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyarrow.dataset as ds

from beaconlake.schema import arrow_schema

BIN = Path(sys.executable).parent / "beaconlake"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str
    key: str
    data_dir: Path
    log_path: Path

    def stats(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(
            f"{self.base}{path}",
            params=params,
            headers={"authorization": f"Bearer {self.key}"},
            timeout=30,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def log_text(self) -> str:
        return self.log_path.read_text("utf-8", "replace")


def start_server(data_dir: Path, log_dir: Path, **env: str) -> Server:
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "server.log"
    full_env = {
        **os.environ,
        "BEACONLAKE_BACKEND": "local",
        "BEACONLAKE_DATA_DIR": str(data_dir),
        "BEACONLAKE_SITES": "example.com,shop.test",
        "BEACONLAKE_FLUSH_SECONDS": "1",
        "BEACONLAKE_CLIENT_IP_HEADER": "x-forwarded-for",
        **env,
    }
    log = open(log_path, "wb")  # noqa: SIM115 - the child process owns it
    proc = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)], env=full_env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("server did not start in 30 s")
    # serve prints a key at its first start on a data directory only; later starts say how
    # to make one, as a user would
    match = re.search(r"(bl_[0-9a-f]{12}_[A-Za-z0-9_-]+)", log_path.read_text())
    key = match.group(1) if match else new_key(full_env)
    return Server(proc, base, key, data_dir, log_path)


def new_key(env: dict[str, str]) -> str:
    """`beaconlake keys create` for every site the server tracks."""
    sites = [arg for site in env["BEACONLAKE_SITES"].split(",") for arg in ("--site", site)]
    out = subprocess.run(
        [str(BIN), "keys", "create", *sites], env=env, capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"(bl_[0-9a-f]{12}_[A-Za-z0-9_-]+)", out)
    assert match, f"keys create printed no key: {out}"
    return match.group(1)


def parquet_rows(data_dir: Path) -> list[dict]:
    files = sorted((data_dir / "events").glob("site_id=*/dt=*/*.parquet"))
    if not files:
        return []
    dataset = ds.dataset([str(f) for f in files], schema=arrow_schema(), format="parquet")
    return dataset.to_table().to_pylist()


NO_LIMITS = {"BEACONLAKE_INGEST_IP_RATE": "0", "BEACONLAKE_INGEST_SITE_RATE": "0"}


def load(
    srv: Server, workers: int, stop: threading.Event, accepted: list[str], user_agent: str
) -> list[threading.Thread]:
    """Senders of unique pathnames; each path that got a 202 is appended to `accepted`."""
    lock = threading.Lock()

    def sender(worker: int) -> None:
        with httpx.Client(timeout=10) as client:
            i = 0
            while not stop.is_set():
                path = f"/w{worker}/e{i}"
                i += 1
                body = json.dumps(
                    {"n": "pageview", "u": f"https://example.com{path}", "d": "example.com"}
                )
                try:
                    res = client.post(
                        f"{srv.base}/api/event",
                        content=body,
                        headers={
                            "content-type": "text/plain",
                            "x-forwarded-for": f"198.51.100.{worker}",
                            "user-agent": user_agent,
                        },
                    )
                except httpx.HTTPError:
                    return
                if res.status_code == 202:
                    with lock:
                        accepted.append(path)

    threads = [threading.Thread(target=sender, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    return threads


def wait_for(accepted: list[str], count: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while len(accepted) < count and time.monotonic() < deadline:
        time.sleep(0.02)
