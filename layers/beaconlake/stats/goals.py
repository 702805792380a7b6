"""Goals per site, from configuration: `BEACONLAKE_GOALS` (JSON) or `<data_dir>/goals.json`.

    {"example.com": [{"name": "Signup", "event": "Signup"},
                     {"name": "Visit /pricing", "page": "/pricing*"},
                     {"name": "Purchase", "event": "Purchase"}]}

A goal is a custom event name or pageviews of a path (`*` matches anything). Revenue goals
are custom-event goals whose events carry revenue; the revenue metrics sum it.

`ConfiguredGoals` is the process's one GoalStore: it keeps the parsed configuration and reads
it again as soon as the variable or the file changes, so every reader sees the same goals.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from beaconlake.config import GOALS_VARIABLE
from beaconlake.site_ports import Goal


class GoalConfigError(ValueError):
    pass


def parse_goals(raw: dict[str, Any]) -> dict[str, tuple[Goal, ...]]:
    out: dict[str, tuple[Goal, ...]] = {}
    for site, items in raw.items():
        goals = []
        for item in items:
            name = item.get("name")
            event, page = item.get("event"), item.get("page")
            if not isinstance(name, str) or (event is None) == (page is None):
                raise GoalConfigError(
                    f"goal {item!r} of {site} needs a name and exactly one of event or page"
                )
            goals.append(Goal(name=name, event=event, page=page))
        if len({g.name for g in goals}) != len(goals):
            raise GoalConfigError(f"goal names of {site} must be unique")
        out[site.lower()] = tuple(goals)
    return out


def load_goals(data_dir: Path) -> dict[str, tuple[Goal, ...]]:
    env = os.environ.get(GOALS_VARIABLE)
    path = data_dir / "goals.json"
    try:
        if env:
            return parse_goals(json.loads(env))
        if path.exists():
            return parse_goals(json.loads(path.read_text("utf-8")))
    except (json.JSONDecodeError, AttributeError, TypeError) as exc:
        raise GoalConfigError(f"the goals configuration is not valid JSON of goals: {exc}") from exc
    return {}


class ConfiguredGoals:
    """The GoalStore of a process: the configuration, parsed once and parsed again when it
    changes (the variable's text, or the file's size and modification time)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._lock = threading.Lock()
        self._version: tuple[object, ...] | None = None
        self._goals: dict[str, tuple[Goal, ...]] = {}

    def _current_version(self) -> tuple[object, ...]:
        try:
            stat = (self.data_dir / "goals.json").stat()
            file: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            file = None
        return (os.environ.get(GOALS_VARIABLE), file)

    def goals(self, site_id: str) -> tuple[Goal, ...]:
        return self.all().get(site_id.strip().lower(), ())

    def all(self) -> dict[str, tuple[Goal, ...]]:
        """Every site's goals as configured now."""
        version = self._current_version()
        with self._lock:
            if version != self._version:
                self._goals = load_goals(self.data_dir)
                self._version = version
            return self._goals
