"""Goals per site, from configuration: `BEACONLAKE_GOALS` (JSON) or `<data_dir>/goals.json`.

    {"example.com": [{"name": "Signup", "event": "Signup"},
                     {"name": "Visit /pricing", "page": "/pricing*"},
                     {"name": "Purchase", "event": "Purchase"}]}

A goal is a custom event name or pageviews of a path (`*` matches anything). Revenue goals
are custom-event goals whose events carry revenue; the revenue metrics sum it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from beaconlake.stats.query import Goal


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
    env = os.environ.get("BEACONLAKE_GOALS")
    if env:
        return parse_goals(json.loads(env))
    path = data_dir / "goals.json"
    if path.exists():
        return parse_goals(json.loads(path.read_text("utf-8")))
    return {}
