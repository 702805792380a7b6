"""User-Agent → browser, OS, device type, and bot detection.

ua-parser (uap-core's rules, with its Rust accelerator where installed) names browser and OS;
crawlerdetect (a maintained crawler list) and uap's own "Spider" device family spot bots,
plus two rules of our own: every browser's UA starts with "Mozilla/" (or Opera Mini's
"Opera/"), and none carries a URL, an e-mail address or a bot/HTTP-library token. A UA longer
than MAX_UA_CHARS is a bot unparsed: crawlerdetect's regexes take quadratic time on long
tokens (16 KB of "A" took 40 s). Recall and false positives are measured in docs/SECURITY.md.
Results are cached by UA string: real traffic repeats a few thousand UAs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_TABLET = re.compile(r"iPad|Tablet|Kindle|Silk|PlayBook|Nexus (7|9|10)|SM-T\d|Tab\b", re.I)
_MOBILE = re.compile(r"Mobi|iPhone|iPod|Android.*Mobile|Windows Phone|BlackBerry|Opera Mini", re.I)
_HEADLESS = re.compile(r"HeadlessChrome|PhantomJS|Lighthouse|Chrome-Lighthouse", re.I)
_BROWSER_PREFIXES = ("Mozilla/", "Opera/")
_AUTOMATION = re.compile(
    r"https?://|www\.|\.(com|net|org|io)\b|@|(?<!cu)(?<!power[ _])(?<!m[ _])bot\b"
    r"|crawl|spider|scan|monitor|fetch|preview"
    r"|python|curl|wget|java/|okhttp|axios|node-fetch|go-http|libwww|httpclient|headless"
    r"|selenium|puppeteer|playwright|phantom|uptime|check|archive|validator"
    r"|\(compatible; (?!MSIE)",
    re.I,
)
MAX_UA_CHARS = 512


@dataclass(frozen=True, slots=True)
class Agent:
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device: str
    is_bot: bool


def _version(major: str | None, minor: str | None) -> str | None:
    if not major:
        return None
    return f"{major}.{minor}" if minor else major


@lru_cache(maxsize=1)
def _crawler_detect() -> object:
    from crawlerdetect import CrawlerDetect

    return CrawlerDetect()


def device_type(ua: str, os_family: str | None, device_family: str | None) -> str:
    """'tablet', 'mobile', 'desktop' or 'other', from UA tokens and the parsed families."""
    if _TABLET.search(ua) or (os_family == "Android" and "Mobile" not in ua):
        return "tablet"
    if _MOBILE.search(ua) or os_family in {"iOS", "Android"}:
        return "mobile"
    if os_family in {"Windows", "Mac OS X", "macOS", "Linux", "Ubuntu", "Chrome OS", "Fedora"}:
        return "desktop"
    if device_family in {None, "Other"} and os_family in {None, "Other"}:
        return "other"
    return "desktop"


@lru_cache(maxsize=8192)
def parse_user_agent(ua: str) -> Agent:
    from ua_parser import parse

    if not 8 <= len(ua) <= MAX_UA_CHARS or not ua.startswith(_BROWSER_PREFIXES):
        return Agent(None, None, None, None, "other", is_bot=True)
    result = parse(ua)
    device_family = result.device.family if result.device else None
    is_bot = (
        device_family == "Spider"
        or bool(_HEADLESS.search(ua) or _AUTOMATION.search(ua))
        or bool(_crawler_detect().isCrawler(ua))  # type: ignore[attr-defined]
    )
    browser = result.user_agent
    os_ = result.os
    os_family = os_.family if os_ and os_.family != "Other" else None
    return Agent(
        browser=browser.family if browser and browser.family != "Other" else None,
        browser_version=_version(browser.major, browser.minor) if browser else None,
        os=os_family,
        os_version=_version(os_.major, os_.minor) if os_ else None,
        device=device_type(ua, os_family, device_family),
        is_bot=is_bot,
    )
