"""An experiment behind figure 3's note, not part of bench/run: how far would a second process
take `serve`'s ingest? The app here answers POST /api/event as `serve` does, but hands each
request to a helper process that runs the collector and owns the sink (the spool and the
Parquet writer), so that the event loop keeps only HTTP and the hand-over (requests go over a
pipe in batches, one per turn of the loop, one batch in flight at a time).

It is the upper bound of that design, and only a prototype: no realtime pending events, no
restart of a dead helper, no dashboard. Run side by side with the bare app of figure 3:
`.venv/bin/python -m bench.two_process_ingest`."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import pickle
import shutil
from multiprocessing.connection import Connection
from pathlib import Path

from beaconlake.local.asgi import Receive, Scope, Send, read_body, source_ip
from bench.http_ingest import ROUNDS, SERVE_ENV, side_by_side, write_requests
from bench.procs import VENV_BIN, cpu_s, peak_rss_mb

Request = tuple[list[tuple[bytes, bytes]], str, bytes]
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
HELPER_REPORT = "helper.json"  # its CPU seconds, answers and peak RSS, written as it exits


def helper(conn: Connection) -> None:
    """Answer batches of requests until the pipe closes, then close the sink (flush)."""
    from beaconlake import wiring
    from beaconlake.ingest.http import answer_event, counted
    from beaconlake.local.asgi import encoded_reply, scope_headers

    ports = wiring.ports()
    answered = 0
    try:
        while True:
            try:
                batch: list[Request] = pickle.loads(conn.recv_bytes())
            except EOFError:
                return
            answered += len(batch)
            answers: list[Answer] = []
            for raw_headers, ip, body in batch:
                headers, _ = scope_headers({"headers": raw_headers})
                reply = counted(answer_event(ports, headers, ip, body))
                answers.append((reply.status, *encoded_reply(reply)))
            conn.send_bytes(pickle.dumps(answers, pickle.HIGHEST_PROTOCOL))
    finally:
        wiring.reset()
        report = {"answered": answered, "cpu_s": cpu_s(), "peak_rss_mb": peak_rss_mb()}
        (ports.settings.data_dir / HELPER_REPORT).write_text(json.dumps(report))


class TwoProcessIngest:
    """The ASGI app: HTTP on the event loop, everything else in the helper."""

    def __init__(self) -> None:
        self.queue: list[tuple[Request, asyncio.Future[Answer]]] = []
        self.in_flight: list[asyncio.Future[Answer]] = []
        self.scheduled = False

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=helper, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.conn.fileno(), self._on_answers)

    def _send_batch(self) -> None:
        self.scheduled = False
        if self.in_flight or not self.queue:
            return
        batch, self.queue = self.queue, []
        self.in_flight = [future for _, future in batch]
        self.conn.send_bytes(pickle.dumps([r for r, _ in batch], pickle.HIGHEST_PROTOCOL))

    def _on_answers(self) -> None:
        answers: list[Answer] = pickle.loads(self.conn.recv_bytes())
        for future, answer in zip(self.in_flight, answers, strict=True):
            future.set_result(answer)
        self.in_flight = []
        self._send_batch()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] == "lifespan.startup":
                self._start()
                await send({"type": "lifespan.startup.complete"})
            self.loop.remove_reader(self.conn.fileno())
            self.conn.close()
            self.process.join(timeout=30)
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = await read_body(receive) or b""
        future: asyncio.Future[Answer] = self.loop.create_future()
        self.queue.append(((scope["headers"], source_ip(scope), body), future))
        if not self.in_flight and not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self._send_batch)
        status, headers, data = await future
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})


app = TwoProcessIngest()


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("out") / "two-proc")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    requests = args.out / "wrk_requests.txt"
    write_requests(requests)
    data_dir = args.out / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    uvicorn = [str(VENV_BIN / "python"), "-m", "uvicorn", "--host", "127.0.0.1"]
    command = [*uvicorn, "bench.two_process_ingest:app", "--log-level", "warning"]
    env = {**SERVE_ENV, "BEACONLAKE_DATA_DIR": str(data_dir)}
    result = side_by_side([*command, "--no-access-log"], env, requests, args.rounds)
    helper_report = json.loads((data_dir / HELPER_REPORT).read_text())
    loop = result["cmd"]["measured"]["cpu_us_per_request"]["main"]
    helper_cpu = 1e6 * helper_report["cpu_s"] / max(1, helper_report["answered"])
    rates = [result[k]["measured"]["events_per_s"] for k in ("bare", "cmd")]
    print(f"bare {rates[0]:,.0f}/s, two processes {rates[1]:,.0f}/s (medians)")
    print(
        f"ratio {result['ratio']:.0%} (rounds: {', '.join(f'{r:.0%}' for r in result['ratios'])})"
    )
    print(f"CPU per request: event loop {loop:.0f} µs, helper {helper_cpu:.0f} µs (its whole life)")
    print(
        f"peak RSS: server {result['cmd']['peak_rss_mb']:.0f} MB,"
        f" helper {helper_report['peak_rss_mb']:.0f} MB"
    )
    (args.out / "result.json").write_text(json.dumps({**result, "helper": helper_report}))


if __name__ == "__main__":
    main()
