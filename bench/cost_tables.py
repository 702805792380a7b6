"""The tables of docs/COST.md, from `beaconlake.cost` and the deploy settings in cdk.json.

`python -m bench.cost_tables` rewrites the block between the `cost-tables` markers; the prose
around it is hand-written. tests/unit/test_cost_doc.py fails when the block is stale.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from beaconlake import cost

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "COST.md"
START, END = "<!-- cost-tables:start -->", "<!-- cost-tables:end -->"
VOLUMES = (1_000_000, 10_000_000)
LOADS = (200, 3000)
TARGETS = {1_000_000: 3.0, 10_000_000: 2.0}  # USD per million events, 200 loads, no free tier


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(r) + " |" for r in rows]


def deployed(events: int, loads: int) -> cost.Usage:
    context = json.loads((ROOT / "cdk.json").read_text("utf-8"))["context"]
    return cost.Usage.deployed(context, events_per_month=events, dashboard_loads=loads)


def _itemised(events: int) -> list[str]:
    """Every line at 200 loads (without and with the free tiers) and its price at 3,000."""
    u, busy = deployed(events, LOADS[0]), deployed(events, LOADS[1])
    lines, heavy = cost.monthly_cost(u), cost.monthly_cost(busy)
    free = cost.with_free_tier(lines)
    rows = [
        [
            x.service,
            x.item,
            f"{x.quantity:,.3f} {x.unit}",
            f"${x.usd:.4f}",
            f"${f.usd:.4f}",
            f"${h.usd:.4f}",
        ]
        for x, f, h in zip(lines, free, heavy, strict=True)
    ]
    rows.append(
        [
            "**total**",
            "",
            "",
            f"**${cost.total(lines):.2f}**",
            f"${cost.total(free):.2f}",
            f"${cost.total(heavy):.2f}",
        ]
    )
    rows.append(
        [
            "**per million events**",
            "",
            "",
            f"**${cost.per_million_events(u):.3f}**",
            f"${cost.per_million_events(u, free_tier=True):.3f}",
            f"${cost.per_million_events(busy):.3f}",
        ]
    )
    header = [
        "service",
        "item",
        f"quantity ({LOADS[0]} loads)",
        "USD",
        "USD after always-free tiers",
        f"USD at {LOADS[1]:,} loads",
    ]
    return _table(header, rows)


def tables() -> str:
    summary = []
    for events in VOLUMES:
        for loads in LOADS:
            u = deployed(events, loads)
            per_m = cost.per_million_events(u)
            target = TARGETS[events] if loads == LOADS[0] else None
            verdict = (
                ""
                if target is None
                else (f"≤ ${target:.0f}: " + ("met" if per_m <= target else "**not met**"))
            )
            summary.append(
                [
                    f"{events:,}",
                    f"{loads:,}",
                    f"${cost.total(cost.monthly_cost(u)):,.2f}",
                    f"${per_m:.2f}",
                    f"${cost.per_million_events(u, free_tier=True):.2f}",
                    verdict,
                ]
            )
    settings = f"Deployed settings (cdk.json): {cost.describe(deployed(VOLUMES[0], LOADS[0]))}."
    out = [
        START,
        "",
        settings,
        "",
        *_table(
            [
                "events a month",
                "dashboard loads",
                "month",
                "per million",
                "per million after free tiers",
                "target",
            ],
            summary,
        ),
        "",
    ]
    for events in VOLUMES:
        u = deployed(events, LOADS[0])
        out += [f"### {events:,} events a month", "", *_itemised(events), ""]
        out += [
            f"What still moves it ({LOADS[0]} loads; each change alone, no free tiers):",
            "",
            *_table(
                ["change", "month", "per million events"],
                [
                    [label, f"${usd:.2f}", f"${usd / events * 1e6:.3f}"]
                    for label, usd in cost.levers(u)
                ],
            ),
            "",
        ]
    prices = [
        [
            f"${p.usd:.10g}",
            p.per,
            f"{p.free_per_month:,.0f}" if p.free_per_month else "",
            p.read_on,
            p.source,
        ]
        for p in cost.PRICES.values()
    ]
    out += [
        "### Prices",
        "",
        *_table(["price", "per", "always free a month", "read", "source"], prices),
        "",
        END,
    ]
    return "\n".join(out)


def rewritten(text: str) -> str:
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{DOC} has no {START} … {END} block")
    return pattern.sub(lambda _: tables(), text)


if __name__ == "__main__":
    DOC.write_text(rewritten(DOC.read_text("utf-8")), "utf-8")
