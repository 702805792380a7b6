"""User-Agent → browser, OS, device type, and bot detection.

uap-core's rules (ua-parser-builtins) on ua-parser-rs's Rust matchers name browser and OS;
crawlerdetect (a maintained crawler list) and uap's own "Spider" device family spot bots,
plus two rules of our own: every browser's UA starts with "Mozilla/" (or Opera Mini's
"Opera/"), and none carries a URL, an e-mail address or a bot/HTTP-library token. A UA longer
than MAX_UA_CHARS is a bot unparsed: crawlerdetect's regexes take quadratic time on long
tokens (16 KB of "A" took 40 s). Recall and false positives are measured in docs/SECURITY.md.
Results are cached by UA string: real traffic repeats a few thousand UAs.

Each rule set is compiled on first use, and the device rules (the largest: some 70 ms and
8 MB of a cold start, more than the browser and OS rules together) only for the rare UA that
needs them: one that a rule naming the "Spider" device matches, or one whose OS is unknown. A bot is not parsed further:
its beacon is dropped, so its browser and OS would never be used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from operator import attrgetter
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from ua_parser.lazy import DeviceMatcher
    from ua_parser_rs import DeviceExtractor, OSExtractor, UserAgentExtractor

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
_DESKTOP_OS = frozenset({"Windows", "Mac OS X", "macOS", "Linux", "Ubuntu", "Chrome OS", "Fedora"})
_SPIDER = "Spider"
MAX_UA_CHARS = 512

_VERSIONED = attrgetter("regex", "family", "major", "minor", "patch", "patch_minor")
_DEVICE = attrgetter("regex", "regex_flag", "family", "brand", "model")


@dataclass(frozen=True, slots=True)
class Agent:
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device: str
    is_bot: bool


BOT = Agent(None, None, None, None, "other", is_bot=True)


def _version(major: str | None, minor: str | None) -> str | None:
    if not major:
        return None
    return f"{major}.{minor}" if minor else major


@lru_cache(maxsize=1)
def _crawler_detect() -> object:
    from crawlerdetect import CrawlerDetect

    return CrawlerDetect()


@lru_cache(maxsize=1)
def _browser_rules() -> tuple[UserAgentExtractor, OSExtractor]:
    from ua_parser import load_lazy_builtins
    from ua_parser_rs import OSExtractor, UserAgentExtractor

    browsers, systems, _ = load_lazy_builtins()
    return UserAgentExtractor(map(_VERSIONED, browsers)), OSExtractor(map(_VERSIONED, systems))


@lru_cache(maxsize=1)
def _spider_rules() -> DeviceExtractor:
    """Only uap's device rules that name the Spider family (7 of about 630)."""
    from ua_parser import load_lazy_builtins
    from ua_parser_rs import DeviceExtractor

    _, _, devices = load_lazy_builtins()
    spiders = [d for d in devices if cast("DeviceMatcher", d).family == _SPIDER]
    return DeviceExtractor(map(_DEVICE, spiders))


@lru_cache(maxsize=1)
def _device_rules() -> DeviceExtractor:
    from ua_parser import load_lazy_builtins
    from ua_parser_rs import DeviceExtractor

    _, _, devices = load_lazy_builtins()
    return DeviceExtractor(map(_DEVICE, devices))


def device_family(ua: str) -> str | None:
    """uap's device family: the family of the first of its device rules that matches."""
    device = _device_rules().extract(ua)
    return device.family if device else None


def is_spider(ua: str) -> bool:
    """uap names the device "Spider". No other rule can match first unless a Spider rule
    matches at all (checked with those rules alone), so the full rule set is rarely needed.
    (A rule whose family is copied from the UA could only give "Spider" for a UA containing
    "spider", which `_AUTOMATION` takes for a bot before this runs.)"""
    return _spider_rules().extract(ua) is not None and device_family(ua) == _SPIDER


def device_type(ua: str, os_family: str | None) -> str:
    """'tablet', 'mobile', 'desktop' or 'other', from UA tokens, the parsed OS family and, when
    those do not decide, whether uap knows the device."""
    if _TABLET.search(ua) or (os_family == "Android" and "Mobile" not in ua):
        return "tablet"
    if _MOBILE.search(ua) or os_family in {"iOS", "Android"}:
        return "mobile"
    if os_family in _DESKTOP_OS:
        return "desktop"
    if os_family in {None, "Other"} and device_family(ua) in {None, "Other"}:
        return "other"
    return "desktop"


def is_bot(ua: str) -> bool:
    """The cheap rules first: crawlerdetect's 1,400 regexes run only on UAs they let pass."""
    if not 8 <= len(ua) <= MAX_UA_CHARS or not ua.startswith(_BROWSER_PREFIXES):
        return True
    return (
        bool(_HEADLESS.search(ua) or _AUTOMATION.search(ua))
        or is_spider(ua)
        or bool(_crawler_detect().isCrawler(ua))  # type: ignore[attr-defined]
    )


@lru_cache(maxsize=8192)
def parse_user_agent(ua: str) -> Agent:
    if is_bot(ua):
        return BOT
    browsers, systems = _browser_rules()
    browser = browsers.extract(ua)
    os_ = systems.extract(ua)
    os_family = os_.family if os_ and os_.family != "Other" else None
    return Agent(
        browser=browser.family if browser and browser.family != "Other" else None,
        browser_version=_version(browser.major, browser.minor) if browser else None,
        os=os_family,
        os_version=_version(os_.major, os_.minor) if os_ else None,
        device=device_type(ua, os_family),
        is_bot=False,
    )
