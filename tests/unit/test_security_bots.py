"""Bot filtering, measured: recall on a public crawler list and false positives on real
browser User-Agents. The thresholds are the measured figures (docs/SECURITY.md), so a change
that lets more bots through or drops real visitors fails here.

`python -m tests.unit.test_security_bots` prints the figures and every miss.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import crawleruseragents
from crawlerdetect import CrawlerDetect
from ua_parser import Parser, load_builtins
from ua_parser.basic import Resolver

from beaconlake.ingest import useragent
from beaconlake.ingest.useragent import parse_user_agent

DATA = Path(__file__).parent.parent / "data"


def crawler_uas() -> list[str]:
    """Every example UA of the crawler-user-agents list (PyPI `crawler-user-agents`)."""
    return sorted(
        {ua for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA for ua in entry["instances"]}
    )


def browser_uas() -> list[str]:
    """The top-100 browser UAs of npm `top-user-agents` (MIT) and a hand-picked set of other
    browsers, in-app browsers, consoles and TVs."""
    top = json.loads((DATA / "top-user-agents.json").read_text())
    extra = json.loads((DATA / "browser-user-agents-extra.json").read_text())
    return sorted(set(top) | set(extra))


@cache
def reference_uap() -> Parser:
    """ua-parser's reference parser: uap's rules in order, on Python's `re`."""
    return Parser(Resolver(load_builtins()))


def all_uas() -> list[str]:
    """Both lists, and each UA with a non-ASCII character added (RE2's classes are ASCII)."""
    uas = crawler_uas() + browser_uas()
    return uas + [ua + " Ünïcødé ١٢٣" for ua in uas]


def test_the_crawler_rules_on_re2_give_crawlerdetects_verdict() -> None:
    detect = CrawlerDetect()
    differ = [ua for ua in all_uas() if useragent.is_crawler(ua) != detect.is_crawler(ua)]
    assert differ == []
    assert sum(map(useragent.is_crawler, crawler_uas())) > 1500


def test_uaps_rules_on_re2_give_the_reference_parsers_answer() -> None:
    differ = []
    for ua in all_uas():
        ref = reference_uap().parse(ua)
        browsers, systems = useragent._browser_rules()
        ours = (browsers(ua), systems(ua), useragent._device_rules()(ua))
        if ours != (ref.user_agent, ref.os, ref.device):
            differ.append(ua)
    assert differ == []


def measure() -> tuple[list[str], list[str]]:
    """(crawler UAs taken for browsers, browser UAs taken for bots)."""
    missed = [ua for ua in crawler_uas() if not parse_user_agent(ua).is_bot]
    false_positives = [ua for ua in browser_uas() if parse_user_agent(ua).is_bot]
    return missed, false_positives


def test_bot_recall_on_the_public_crawler_list() -> None:
    bots = crawler_uas()
    missed, _ = measure()
    assert len(bots) > 2000
    assert 1 - len(missed) / len(bots) >= 0.985, missed


def test_no_false_positives_on_real_browsers() -> None:
    browsers = browser_uas()
    _, false_positives = measure()
    assert len(browsers) >= 140
    assert false_positives == []


def main() -> None:
    missed, false_positives = measure()
    bots, browsers = len(crawler_uas()), len(browser_uas())
    print(f"recall: {bots - len(missed)}/{bots} = {1 - len(missed) / bots:.2%}")
    print(
        f"false positives: {len(false_positives)}/{browsers} = {len(false_positives) / browsers:.2%}"
    )
    for ua in missed:
        print("missed:", ua)
    for ua in false_positives:
        print("false positive:", ua)


if __name__ == "__main__":
    main()
