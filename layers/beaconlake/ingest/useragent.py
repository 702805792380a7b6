"""User-Agent → browser, OS, device type, and bot detection.

uap-core's rules (ua-parser-builtins, read by ua-parser) name browser and OS; crawlerdetect
(a maintained crawler list) and uap's own "Spider" device family spot bots, plus two rules of
our own: every browser's UA starts with "Mozilla/" (or Opera Mini's "Opera/"), and none
carries a URL, an e-mail address or a bot/HTTP-library token. A UA longer than MAX_UA_CHARS is
a bot unparsed: no browser sends one, and crawlerdetect's regexes take quadratic time on long
tokens in Python's `re` (16 KB of "A" took 40 s), which a non-ASCII UA still meets (so those
rules see only its first MAX_SLOW_PARSE_CHARS characters). Recall and
false positives are measured in docs/SECURITY.md. Results are cached by UA string: real
traffic repeats a few thousand UAs.

Both rule sets run on RE2 (google-re2), with the answers of ua-parser's reference parser and of
crawlerdetect (see FirstMatch and CrawlerRules): RE2 compiles them in a few milliseconds where
Python's `re` (or a Rust resolver) needs some 40 ms each on a cold start, and it matches in
linear time.

Each rule set is compiled on first use, and the device rules only for the rare UA that needs
them: one that a rule naming the "Spider" device matches, or one whose OS is unknown. A bot is
not parsed further: its beacon is dropped, so its browser and OS would never be used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ua_parser.core import OS, Device, Matcher, Matchers, UserAgent
    from ua_parser.lazy import DeviceMatcher

T = TypeVar("T")

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
# A UA with a non-ASCII character runs crawlerdetect's and uap's rules on Python's `re`, whose
# cost grows with the square of a long token (512 characters: 50-130 ms of CPU); those rules
# see only its first MAX_SLOW_PARSE_CHARS characters (real UAs put browser, OS and bot names
# first; the longest real browser UA measured has 275 characters, all ASCII), while the
# linear-time rules (ours and crawlerdetect's on RE2) still see all of it.
MAX_SLOW_PARSE_CHARS = 256


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


@dataclass(frozen=True)
class CrawlerRules:
    """crawlerdetect's lists: the exclusions (removed from the UA first) and the crawler
    patterns, on RE2; the few patterns RE2 cannot run (look-arounds) stay on `re`."""

    exclusions: Any
    crawlers: Any
    look_arounds: re.Pattern[str] | None

    def is_crawler(self, ua: str) -> bool:
        """crawlerdetect's `is_crawler` for an ASCII UA (where RE2's and `re`'s case folding
        and classes agree)."""
        agent = self.exclusions.sub("", ua.strip())
        if not agent:
            return False
        return bool(
            self.crawlers.search(agent)
            or (self.look_arounds is not None and self.look_arounds.search(agent))
        )


_LOOK_AROUND = re.compile(r"\(\?<?[=!]")


def _alternation(patterns: list[str]) -> str:
    return "(" + "|".join(patterns) + ")"


@lru_cache(maxsize=1)
def _crawler_rules() -> CrawlerRules:
    import re2
    from crawlerdetect.providers.crawlers import data as crawlers
    from crawlerdetect.providers.exclusions import data as exclusions

    rest = [p for p in crawlers if _LOOK_AROUND.search(p)]
    plain = [p for p in crawlers if not _LOOK_AROUND.search(p)]
    return CrawlerRules(
        exclusions=re2.compile("(?i)" + _alternation(exclusions)),
        crawlers=re2.compile("(?i)" + _alternation(plain)),
        look_arounds=re.compile(_alternation(rest), re.IGNORECASE) if rest else None,
    )


@lru_cache(maxsize=1)
def _crawler_detect() -> object:
    from crawlerdetect import CrawlerDetect

    return CrawlerDetect()


def is_crawler(ua: str) -> bool:
    """crawlerdetect's verdict: on RE2 for an ASCII UA, by crawlerdetect itself (Python's
    Unicode-aware `re`) for the rare other one."""
    if ua.isascii():
        return _crawler_rules().is_crawler(ua)
    return bool(_crawler_detect().isCrawler(ua))  # type: ignore[attr-defined]


class FirstMatch(Generic[T]):
    """The first of uap's rules (in their order) that matches a UA, as ua-parser's reference
    parser picks it, found through RE2.

    An RE2 set of the rules, each widened by ua-parser's `fa_simplifier` (long bounded
    repetitions become unbounded, \\d and \\w become their ASCII classes), names the
    candidates; each candidate's own rule, in order, decides. On an ASCII UA the widening only
    adds matches, so every rule that matches is a candidate; taking the first candidate, as
    ua-parser 1.0's RE2 resolver does, can pick a rule whose bounds then fail it. A non-ASCII
    UA tries every rule in order."""

    def __init__(self, rules: Sequence[Matcher[T]]) -> None:
        import re2
        from ua_parser.utils import fa_simplifier

        self._rules = rules
        self._set = re2.Filter()
        for rule in rules:
            flags = "(?i)" if rule.flags & re.IGNORECASE else ""
            self._set.Add(flags + fa_simplifier(rule.regex))
        self._set.Compile()

    def __call__(self, ua: str) -> T | None:
        candidates = self._set.Match(ua) if ua.isascii() else range(len(self._rules))
        for index in sorted(candidates or ()):
            if (found := self._rules[index](ua)) is not None:
                return found
        return None


@lru_cache(maxsize=1)
def _uap_rules() -> Matchers:
    """uap's browser, OS and device rules, loaded once: each compiles its own regex on first
    use, so a rule in two of the sets below is compiled once."""
    from ua_parser import load_lazy_builtins

    return load_lazy_builtins()


@lru_cache(maxsize=1)
def _browser_rules() -> tuple[FirstMatch[UserAgent], FirstMatch[OS]]:
    browsers, systems, _ = _uap_rules()
    return FirstMatch(browsers), FirstMatch(systems)


@lru_cache(maxsize=1)
def _spider_rules() -> FirstMatch[Device]:
    """Only uap's device rules that name the Spider family (7 of about 630)."""
    _, _, devices = _uap_rules()
    return FirstMatch([d for d in devices if cast("DeviceMatcher", d).family == _SPIDER])


@lru_cache(maxsize=1)
def _device_rules() -> FirstMatch[Device]:
    return FirstMatch(_uap_rules()[2])


def device_family(ua: str) -> str | None:
    """uap's device family: the family of the first of its device rules that matches."""
    device = _device_rules()(ua)
    return device.family if device else None


def is_spider(ua: str) -> bool:
    """uap names the device "Spider". No other rule can match first unless a Spider rule
    matches at all (checked with those rules alone), so the full rule set is rarely needed.
    (A rule whose family is copied from the UA could only give "Spider" for a UA containing
    "spider", which `_AUTOMATION` takes for a bot before this runs.)"""
    return _spider_rules()(ua) is not None and device_family(ua) == _SPIDER


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
    """The cheap rules first: crawlerdetect's 1,400 regexes run only on UAs they let pass.
    A non-ASCII UA is a bot if crawlerdetect's rules on RE2 match all of it (ASCII classes)
    or crawlerdetect itself matches its first MAX_SLOW_PARSE_CHARS characters."""
    if not 8 <= len(ua) <= MAX_UA_CHARS or not ua.startswith(_BROWSER_PREFIXES):
        return True
    if _HEADLESS.search(ua) or _AUTOMATION.search(ua):
        return True
    if ua.isascii():
        return is_spider(ua) or is_crawler(ua)
    head = ua[:MAX_SLOW_PARSE_CHARS]
    return _crawler_rules().is_crawler(ua) or is_spider(head) or is_crawler(head)


@lru_cache(maxsize=8192)
def parse_user_agent(ua: str) -> Agent:
    if is_bot(ua):
        return BOT
    if not ua.isascii():
        ua = ua[:MAX_SLOW_PARSE_CHARS]  # uap's rules on Python's `re`: bounded, see above
    browsers, systems = _browser_rules()
    browser, os_ = browsers(ua), systems(ua)
    os_family = os_.family if os_ and os_.family != "Other" else None
    return Agent(
        browser=browser.family if browser and browser.family != "Other" else None,
        browser_version=_version(browser.major, browser.minor) if browser else None,
        os=os_family,
        os_version=_version(os_.major, os_.minor) if os_ else None,
        device=device_type(ua, os_family),
        is_bot=False,
    )
