"""`GET /health` (and `/api/health`, the path Plausible's clients check): can this process take
events and answer queries now? 200 with the version and the back end when it can; 503 with
the reasons when it cannot, so a load balancer, systemd or a script waits on it instead of
guessing. Each port says what is wrong with it (`problem()`); nothing here calls AWS: on AWS
the answer covers the function's configuration and start-up, not Firehose's or Athena's own
health, which their CloudWatch alarms watch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from beaconlake import __version__
from beaconlake.ports import QueryEngine, Sink


@dataclass(frozen=True)
class Health:
    backend: str
    problems: tuple[str, ...]

    @property
    def status_code(self) -> int:
        return 503 if self.problems else 200

    def as_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "unavailable" if self.problems else "ok",
            "version": __version__,
            "backend": self.backend,
        }
        if self.problems:
            body["problems"] = list(self.problems)
        return body


def check(
    backend: Callable[[], str], sink: Callable[[], Sink], engine: Callable[[], QueryEngine]
) -> Health:
    """Ask each port, building it first if need be; a port that cannot even be built (a bad
    setting, a data directory it cannot open) is a problem too, named by its error."""
    problems: list[str] = []
    try:
        backend_name = backend()
    except Exception as exc:  # a bad setting is the answer, not a 500
        return Health("unknown", (f"the settings could not be read: {exc}",))
    for what, port in (("event sink", sink), ("query engine", engine)):
        try:
            problem = port().problem()
        except Exception as exc:  # a port that cannot start is the answer
            problem = f"the {what} could not start: {exc}"
        if problem:
            problems.append(problem)
    return Health(backend_name, tuple(problems))
