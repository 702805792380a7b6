"""Deploy settings: cdk.json context defaults, overridden with `-c name=value`.

Every setting is validated here so that a misconfigured deploy stops at synth with one
sentence naming the setting, never with a stack trace or a half-created stack.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from beaconlake.config import PRIVACY_MODES
from beaconlake.domains import normalise_domain
from beaconlake.stats.goals import GoalConfigError, parse_goals

# Values CloudWatch Logs accepts for a log group's retention, in days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:\d{1,5})?$")
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
# Lambda allows 4 KB of environment variables in all; the goals take at most half.
MAX_GOALS_BYTES = 2048
# A Lambda function URL's CORS configuration (the collector's) takes at most 100 origins.
MAX_CORS_ORIGINS = 100


class ConfigError(ValueError):
    """A deploy setting is missing or invalid; the message is one sentence for people."""


def _text(name: str, raw: Any) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str | int | float | bool):
        raise ConfigError(f"setting '{name}' must be a single value, not {raw!r}.")
    return str(raw).strip()


def _list(name: str, raw: Any) -> tuple[str, ...]:
    """A JSON list from cdk.json, or a comma-separated string from `-c name=a,b`."""
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return tuple(_text(name, item) for item in items if _text(name, item))


def _int(name: str, raw: Any, minimum: int, maximum: int) -> int:
    text = _text(name, raw)
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(
            f"setting '{name}' must be a whole number between {minimum} and {maximum}, "
            f"not {text!r}."
        ) from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"setting '{name}' must be between {minimum} and {maximum}, not {value}.")
    return value


def _bool(name: str, raw: Any) -> bool:
    text = _text(name, raw).lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off"}:
        return False
    raise ConfigError(f"setting '{name}' must be true or false, not {text!r}.")


def _choice(name: str, raw: Any, choices: tuple[Any, ...]) -> str:
    text = _text(name, raw)
    if text not in {str(c) for c in choices}:
        allowed = ", ".join(str(c) for c in choices)
        raise ConfigError(f"setting '{name}' must be one of {allowed}, not {text!r}.")
    return text


def _goals(raw: Any, sites: tuple[str, ...]) -> str:
    """The `goals` setting (an object in cdk.json, JSON text with -c) as compact JSON, the
    value of BEACONLAKE_GOALS; "" for none. Checked as the stats function will read it."""
    if raw is None or raw == "" or raw == {}:
        return ""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError(
                "setting 'goals' is not valid JSON: write it as "
                '{"example.com": [{"name": "Signup", "event": "Signup"}]}.'
            ) from None
    if not isinstance(raw, dict) or not all(
        isinstance(goals, list)
        and all(
            isinstance(goal, dict) and all(isinstance(v, str) for v in goal.values())
            for goal in goals
        )
        for goals in raw.values()
    ):
        raise ConfigError(
            "setting 'goals' must map each site to a list of goals like "
            '{"name": "Signup", "event": "Signup"} or {"name": "Pricing", "page": "/pricing*"}.'
        )
    by_site = {normalise_domain(site): goals for site, goals in raw.items()}
    for site in raw:
        if normalise_domain(site) not in sites:
            raise ConfigError(f"setting 'goals' names {site!r}, which is not one of the 'sites'.")
    if len(by_site) != len(raw):
        raise ConfigError("setting 'goals' names one site twice (with and without www.).")
    try:
        parse_goals(by_site)
    except GoalConfigError as error:
        raise ConfigError(f"setting 'goals' holds a bad goal: {error}.") from None
    text = json.dumps(by_site, separators=(",", ":"), sort_keys=True)
    if len(text.encode()) > MAX_GOALS_BYTES:
        raise ConfigError(
            f"setting 'goals' is {len(text.encode())} bytes as JSON, more than the "
            f"{MAX_GOALS_BYTES} that fit in the stats function's environment."
        )
    return text


@dataclass(frozen=True)
class DeploySettings:
    stack_name: str
    sites: tuple[str, ...]
    retention_days: int
    athena_results_days: int
    bytes_scanned_cutoff_mb: int
    throttle_rate: int
    throttle_burst: int
    cors_origins: tuple[str, ...]
    reserved_concurrency: int
    collector_memory_mb: int
    stats_memory_mb: int
    firehose_buffer_seconds: int
    cloudfront: bool
    tracing: bool
    dashboard: bool
    drop_metrics: bool
    honour_dnt: bool
    check_origin: bool
    user_id_sites: tuple[str, ...]
    retain_data: bool
    log_level: str
    log_retention_days: int
    alarm_email: str
    dashboard_password_hash: str
    dependency_layer_dir: str
    goals: str  # compact JSON for BEACONLAKE_GOALS, "" for none
    privacy: str = "standard"  # BEACONLAKE_PRIVACY on every function (docs/PRIVACY.md)
    report_sender: str = ""  # the SES identity reports are sent from; "": no report function

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> DeploySettings:
        stack_name = _text("stack_name", get("stack_name")) or "Beaconlake"
        if not _STACK_NAME.match(stack_name):
            raise ConfigError(
                f"setting 'stack_name' must start with a letter and hold only letters, digits "
                f"and hyphens, not {stack_name!r}."
            )
        sites = tuple(dict.fromkeys(normalise_domain(s) for s in _list("sites", get("sites"))))
        if not sites:
            raise ConfigError(
                "setting 'sites' is empty: deploy with -c sites=example.com,blog.example.com."
            )
        for site in sites:
            if not _DOMAIN.match(site):
                raise ConfigError(f"setting 'sites' holds {site!r}, which is not a domain name.")
        user_id_sites = tuple(
            normalise_domain(s) for s in _list("user_id_sites", get("user_id_sites"))
        )
        for site in user_id_sites:
            if site not in sites:
                raise ConfigError(
                    f"setting 'user_id_sites' holds {site!r}, which is not one of the 'sites'."
                )
        cors = _list("cors_origins", get("cors_origins"))
        for origin in cors:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ConfigError(
                    f"setting 'cors_origins' holds {origin!r}: use '*' or origins like "
                    "https://example.com (scheme and host, no path)."
                )
        alarm_email = _text("alarm_email", get("alarm_email"))
        if alarm_email and "@" not in alarm_email:
            raise ConfigError(
                f"setting 'alarm_email' must be an e-mail address, not {alarm_email!r}."
            )
        throttle_rate = _int("throttle_rate", get("throttle_rate"), 1, 10_000)
        throttle_burst = _int("throttle_burst", get("throttle_burst"), 1, 5_000)
        settings = cls(
            stack_name=stack_name,
            sites=sites,
            retention_days=_int("retention_days", get("retention_days"), 0, 36_500),
            athena_results_days=_int("athena_results_days", get("athena_results_days"), 1, 365),
            bytes_scanned_cutoff_mb=_int(
                "bytes_scanned_cutoff_mb", get("bytes_scanned_cutoff_mb"), 10, 10_000_000
            ),
            throttle_rate=throttle_rate,
            throttle_burst=throttle_burst,
            cors_origins=cors,
            reserved_concurrency=_int(
                "reserved_concurrency", get("reserved_concurrency"), 0, 10_000
            ),
            collector_memory_mb=_int(
                "collector_memory_mb", get("collector_memory_mb"), 128, 10_240
            ),
            stats_memory_mb=_int("stats_memory_mb", get("stats_memory_mb"), 128, 10_240),
            firehose_buffer_seconds=_int(
                "firehose_buffer_seconds", get("firehose_buffer_seconds"), 60, 900
            ),
            cloudfront=_bool("cloudfront", get("cloudfront")),
            tracing=_bool("tracing", get("tracing")),
            dashboard=_bool("dashboard", get("dashboard")),
            drop_metrics=_bool("drop_metrics", get("drop_metrics")),
            honour_dnt=_bool("honour_dnt", get("honour_dnt")),
            check_origin=_bool("check_origin", get("check_origin")),
            user_id_sites=user_id_sites,
            retain_data=_bool("retain_data", get("retain_data")),
            log_level=_choice("log_level", get("log_level"), LOG_LEVELS),
            log_retention_days=int(
                _choice("log_retention_days", get("log_retention_days"), LOG_RETENTION_DAYS)
            ),
            alarm_email=alarm_email,
            dashboard_password_hash=_text(
                "dashboard_password_hash", get("dashboard_password_hash")
            ),
            dependency_layer_dir=_text("dependency_layer_dir", get("dependency_layer_dir")),
            goals=_goals(get("goals"), sites),
            privacy=_choice("privacy", get("privacy") or "standard", PRIVACY_MODES),
            report_sender=_report_sender(get("report_sender")),
        )
        origins = len(settings.allowed_origins)
        if origins > MAX_CORS_ORIGINS:
            source = "'cors_origins' holds" if cors else "'sites' makes (with and without www.)"
            raise ConfigError(
                f"setting {source} {origins} CORS origins, more than the {MAX_CORS_ORIGINS} the "
                "collector's function URL takes: set cors_origins to '*' or list fewer origins."
            )
        return settings

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """CORS origins: the setting, or each site with and without www. over HTTPS."""
        if self.cors_origins:
            return self.cors_origins
        return tuple(f"https://{host}{site}" for site in self.sites for host in ("", "www."))


_SENDER = re.compile(r"^[A-Za-z0-9._%+-]{1,64}@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _report_sender(raw: Any) -> str:
    """The address e-mail reports come from (an SES identity: the address or its domain)."""
    sender = _text("report_sender", raw)
    if sender and not _SENDER.match(sender):
        raise ConfigError(
            "setting 'report_sender' must be the e-mail address reports are sent from, an "
            f"address or at a domain verified in SES (like reports@example.com), not {sender!r}."
        )
    return sender
