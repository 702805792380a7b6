"""The `beaconlake` command: the local server, demo traffic, API keys, costs and erasure."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from beaconlake import wiring
from beaconlake.config import Settings
from beaconlake.ports import ALL_SCOPES

STARTUP_KEY_LABEL = "printed by serve"
SCOPES = ("stats:read:*",)  # a new key's scopes unless --scope says otherwise
DEMO_GOALS = [
    {"name": "Signup", "event": "Signup"},
    {"name": "Purchase", "event": "Purchase"},
    {"name": "Visit /pricing", "page": "/pricing"},
    {"name": "Read the docs", "page": "/docs*"},
]


def _settings(args: argparse.Namespace) -> Settings:
    if getattr(args, "data_dir", None):
        os.environ["BEACONLAKE_DATA_DIR"] = args.data_dir
    return Settings.from_env()


def cmd_demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from beaconlake.local.demo import generate, ingest, now_utc

    settings = _settings(args)
    events_dir = settings.data_dir / "events"
    if args.if_empty and any(events_dir.glob("site_id=*/dt=*/*.parquet")):
        print(f"demo data already present in {events_dir}; skipping")
        return 0
    site = args.site or sorted(settings.sites)[0]
    if wiring.catalogue_for(settings).site(site) is None:
        print(f"error: {site!r} is not a site here: add it with `beaconlake sites add {site}`")
        return 2
    p = wiring.ports()
    beacons = generate(site, args.days, args.visitors, args.seed, now_utc())
    stored, dropped = 0, 0
    batch = []
    with tqdm(desc=f"demo traffic for {site}", unit=" beacons", disable=args.quiet) as bar:
        for item in ingest(beacons, p.policy, p.country_lookup):
            bar.update(1)
            if isinstance(item, str):
                dropped += 1
                continue
            batch.append(item)
            if len(batch) >= 5000:
                p.sink.put(batch)
                stored += len(batch)
                batch = []
    p.sink.put(batch)
    stored += len(batch)
    wiring.reset()
    goals_file = settings.data_dir / "goals.json"
    if not goals_file.exists() and not os.environ.get("BEACONLAKE_GOALS"):
        goals_file.write_text(json.dumps({site: DEMO_GOALS}, indent=1), "utf-8")
    print(f"stored {stored} events for {site} over {args.days} days ({dropped} beacons dropped)")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from beaconlake.keys import create_key
    from beaconlake.local.server import return_freed_memory, serve

    return_freed_memory()  # before anything imports pyarrow
    settings = _settings(args)
    store = wiring.ports().keys
    base = f"http://{args.host}:{args.port}"
    site = sorted(settings.sites)[0]
    if any(key.label == STARTUP_KEY_LABEL for key in store.list()):
        shown = "<your key>"
        key_line = (
            "printed at the first start; another: "
            f"beaconlake keys create --site {site}  (list: beaconlake keys list)"
        )
    else:
        shown, _ = create_key(store, ("*",), STARTUP_KEY_LABEL, ALL_SCOPES)
        key_line = f"{shown}  (shown once: store it now)"
    print(
        "\nBeaconlake is running (local back end; data in "
        f"{settings.data_dir.resolve()})\n"
        f"  Ingest (Plausible Events API): POST {base}/api/event\n"
        f"  Tracking pixel:               {base}/e.gif?d={site}&u=https://{site}/\n"
        f"  Tracker script / demo page:   {base}/tracker.js  {base}/demo\n"
        f"  Dashboard (log in with key):  {base}/api/dashboard\n"
        f"  Stats API docs (OpenAPI):     {base}/api/docs\n"
        f"  API key (all sites, scopes):  {key_line}\n"
        f"  Health:                       {base}/health\n"
        f"  Try: curl -H 'Authorization: Bearer {shown}' "
        f"'{base}/api/v1/stats/aggregate?site_id={site}&period=30d"
        "&metrics=visitors,visits,pageviews,bounce_rate,visit_duration'\n",
        flush=True,
    )
    serve(args.host, args.port)
    return 0


def cmd_sites(args: argparse.Namespace) -> int:
    """`beaconlake sites list|add DOMAIN [--timezone Z]|remove DOMAIN`: the site catalogue the
    collector, the queries and the dashboard read (a running server sees a change at once)."""
    from beaconlake.site_ports import CatalogueError

    try:
        catalogue = wiring.catalogue_for(_settings(args))
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    if args.action == "list":
        for site in catalogue.sites():
            print(f"{site.domain}  timezone={site.timezone}")
        return 0
    if not args.domain:
        print(f"error: `beaconlake sites {args.action}` needs a DOMAIN")
        return 2
    try:
        if args.action == "add":
            site = catalogue.add_site(args.domain, args.timezone or "UTC")
            print(f"added {site.domain} (timezone {site.timezone}); beacons for it are now kept")
        elif args.timezone:
            print("error: --timezone goes with `sites add`")
            return 2
        elif catalogue.remove_site(args.domain):
            print(
                f"removed {args.domain}: its beacons are now dropped (its events stay until erased)"
            )
        else:
            print(f"error: {args.domain!r} is not a site here")
            return 2
    except CatalogueError as exc:
        print(f"error: {exc.message}")
        return 2
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    from beaconlake.keys import create_key

    _settings(args)
    store = wiring.ports().keys
    if args.action in ("create", "add"):
        sites = tuple(s.strip().lower() for s in args.site) or ("*",)
        try:
            token, key = create_key(store, sites, args.label or "", tuple(args.scope) or SCOPES)
        except ValueError as exc:
            print(f"error: {exc}")
            return 2
        print(
            f"{token}\n(id {key.key_id}, sites {', '.join(key.sites)}, scopes "
            f"{' '.join(key.scopes)}; shown once, store it now)"
        )
    elif args.action == "list":
        for key in store.list():
            print(
                f"{key.key_id}  sites={','.join(key.sites)}  scopes={','.join(key.scopes)}  "
                f"label={key.label!r}  created={key.created}"
            )
    elif args.action == "revoke":
        if not args.key_id or not store.revoke(args.key_id):
            print(f"no key with id {args.key_id!r}")
            return 1
        print(f"revoked {args.key_id}")
    wiring.reset()
    return 0


def cmd_dashboard_password(args: argparse.Namespace) -> int:
    import getpass

    from beaconlake.dashboard.passwords import hash_password

    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Dashboard password: ")
        if getpass.getpass("Again: ") != password:
            print("error: the two passwords differ", file=sys.stderr)
            return 2
    if len(password) < 8:
        print("error: use at least 8 characters", file=sys.stderr)
        return 2
    print(f"BEACONLAKE_DASHBOARD_PASSWORD_HASH='{hash_password(password)}'")
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from beaconlake import erasure
    from beaconlake.ingest.service import user_id_hash
    from beaconlake.ports import SinkUnavailable, StoreBusy

    settings = _settings(args)
    site = args.site.strip().lower()
    user_hash = None
    if args.user_id is not None:
        if site not in settings.user_id_sites:
            print(f"error: user ids are not enabled for {site!r} (BEACONLAKE_USER_ID_SITES)")
            return 2
        secrets = wiring.ports().user_ids
        assert secrets is not None
        try:
            user_hash = user_id_hash(secrets.secret_for(site), args.user_id)
        except SinkUnavailable as exc:
            print(f"error: {exc}")
            return 2
        finally:
            wiring.reset()
    try:
        plan = erasure.Erasure(site, args.first_day, args.last_day, user_hash)
        report = erasure.erase(wiring.event_store(), plan)
    except (ValueError, StoreBusy) as exc:
        print(f"error: {exc}")
        return 2
    who = "of that user " if user_hash else ""
    print(
        f"erased {report.rows_deleted} events {who}of {site} from {args.first_day} to "
        f"{args.last_day} ({report.partitions} days, {report.files_deleted} files deleted, "
        f"{report.files_rewritten} rewritten)"
    )
    if user_hash is None:  # imported rows are per site and day: they go with the range
        from beaconlake.imports import store

        days = args.first_day.isoformat(), args.last_day.isoformat()
        try:
            print(f"erased {store.erase(settings, site, *days)} imported rows of {site}")
        except ValueError as exc:
            print(f"error: imported rows not erased: {exc}")
            return 2
    _print_late_events_note(args.last_day)
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from beaconlake import erasure

    settings = _settings(args)
    today = datetime.now(UTC).date()
    days = settings.retention_days if args.days is None else args.days
    # locally the days' rollups are kept (downsampled retention); on AWS not yet
    keep = settings.backend == "local" and not args.drop_rollups
    roll_up = wiring.rollup_job(settings).refresh if keep else None
    try:
        report = erasure.apply_retention(wiring.event_store(), today, days, roll_up)
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    kept = ", their daily rollups kept" if keep else ""
    print(
        f"deleted {report.rows_deleted} events in {report.partitions} site-days before "
        f"{erasure.first_day_kept(today, days)}{kept}"
    )
    if keep and settings.backend == "local":  # daily rollups past N + M days: per-month ones
        from beaconlake.adapters.parquet_sink import ParquetEventStore
        from beaconlake.stats import monthly_job

        daily = settings.daily_rollup_days if args.daily_days is None else args.daily_days
        engine = wiring.local_engine(settings.data_dir, cached_answers=0)
        store = ParquetEventStore(settings.data_dir)
        try:
            done = monthly_job.condense(engine, engine, store, today, days, daily)
        except ValueError as exc:
            print(f"error: {exc}")
            return 2
        finally:
            engine.close()
        print(
            f"condensed {done.months_written} site-months into per-month rollups, deleting "
            f"{done.days_deleted} days' daily rollups before "
            f"{monthly_job.first_day_daily(today, days, daily)}"
        )
    _print_late_events_note(erasure.first_day_kept(today, days) - timedelta(days=1))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """`beaconlake import plausible EXPORT --site DOMAIN`: Plausible's CSV export into the
    site's imported tables, which queries merge with native data (docs/IMPORT.md)."""
    from beaconlake.imports import plausible, store

    settings = _settings(args)
    site = args.site.strip().lower()
    if site not in {s.domain for s in wiring.catalogue_for(settings).sites()}:
        print(f"error: {site!r} is not a site here (beaconlake sites add {site})")
        return 2
    try:
        tables = plausible.read_export(Path(args.export))
        stored = store.store(settings, site, tables)
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    for item in stored:
        print(f"imported {item.rows} rows of {item.table} ({item.first} to {item.last})")
    return 0


def _print_late_events_note(last_day: date) -> None:
    note = wiring.late_events_note(last_day)
    if note:
        print(note)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def cmd_cost(args: argparse.Namespace) -> int:
    from beaconlake.cost import Usage, report

    path = Path(args.cdk_json) if args.cdk_json else _checkout() / "cdk.json"
    try:
        context = dict(json.loads(path.read_text("utf-8")).get("context", {}))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read the deploy settings in {path} ({exc}); name it with --cdk-json")
        return 2
    for item in args.context:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            print(f"error: a context value is NAME=VALUE, not {item!r}")
            return 2
        context[name.strip()] = value
    traffic = {"events_per_month": args.events_per_month, "dashboard_loads": args.dashboard_loads}
    if args.sites:
        traffic["sites"] = args.sites
    usage = Usage.deployed(context, events_per_record=args.events_per_record, **traffic)
    print(report(usage))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Compose a site's report of the last complete week or month and send it now."""
    from datetime import UTC, datetime

    from beaconlake.ports import MailFailed
    from beaconlake.site_ports import CatalogueError

    settings = _settings(args)
    job = wiring.report_job(settings, standalone=True)
    if job is None:
        print("error: no mail configured: set BEACONLAKE_SMTP_HOST (docs/REPORTS.md)")
        return 2
    try:
        report = job.send(args.site, args.period, datetime.now(UTC), tuple(args.to))
    except CatalogueError as exc:
        print(f"error: {exc.message}")
        return 2
    except MailFailed as exc:
        print(f"error: the mail was not sent: {exc}")
        return 1
    print(f"sent the {args.period} report of {report.site_id} ({report.first} to {report.last})")
    return 0


def _checkout() -> Path:
    """The repository this package runs from (where cdk.json lives), else the working folder."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "cdk.json").exists() else Path.cwd()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="beaconlake", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the local server (ingest, stats API, tracker)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=int(os.environ.get("BEACONLAKE_PORT", "8000")))
    serve.add_argument("--data-dir")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="generate realistic traffic through the ingest path")
    demo.add_argument("--site", help="a site from BEACONLAKE_SITES (default: the first)")
    demo.add_argument("--days", type=int, default=30)
    demo.add_argument("--visitors", type=int, default=300, help="visitors per day (about)")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--if-empty", action="store_true", help="do nothing if data exists")
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    demo.add_argument("--data-dir")
    demo.set_defaults(func=cmd_demo)

    sites = sub.add_parser("sites", help="list, add or remove the tracked sites")
    sites.add_argument("action", choices=("list", "add", "remove"))
    sites.add_argument("domain", nargs="?", help="with add or remove: the site's domain")
    sites.add_argument("--timezone", help="with add: its IANA time zone (default UTC)")
    sites.add_argument("--data-dir")
    sites.set_defaults(func=cmd_sites)

    keys = sub.add_parser("keys", help="create (add), list or revoke API keys")
    keys.add_argument("action", choices=("create", "add", "list", "revoke"))
    keys.add_argument("key_id", nargs="?", help="with revoke: the key id")
    keys.add_argument("--site", action="append", default=[], help="site the key may read (repeat)")
    keys.add_argument(
        "--scope",
        action="append",
        default=[],
        help="what the key may do (repeat): stats:read:* (the default), sites:read:*, "
        "sites:provision:* (manage sites, goals, funnels, annotations, segments), "
        "events:send:* (send events from a server: docs/SENDING.md)",
    )
    keys.add_argument("--label")
    keys.add_argument("--data-dir")
    keys.set_defaults(func=cmd_keys)

    dash = sub.add_parser(
        "dashboard-password",
        help="hash a dashboard password for BEACONLAKE_DASHBOARD_PASSWORD_HASH",
    )
    dash.add_argument("--stdin", action="store_true", help="read the password from stdin")
    dash.set_defaults(func=cmd_dashboard_password)

    cost = sub.add_parser(
        "cost", help="the monthly AWS bill of the stack cdk.json deploys (published prices)"
    )
    cost.add_argument("--events-per-month", type=int, required=True)
    cost.add_argument("--dashboard-loads", type=int, default=200, help="a month (default 200)")
    cost.add_argument("--sites", type=int, help="default: the deploy setting's count, or 1")
    cost.add_argument("--events-per-record", type=int, default=1, help="events per Firehose record")
    cost.add_argument(
        "-c", "--context", action="append", default=[], metavar="NAME=VALUE",
        help="a deploy setting, as for cdk synth (e.g. -c firehose_buffer_seconds=900)",
    )  # fmt: skip
    cost.add_argument("--cdk-json", help="the deploy settings (default: the checkout's cdk.json)")
    cost.set_defaults(func=cmd_cost)

    imp = sub.add_parser("import", help="import another tool's exported statistics")
    imp.add_argument("tool", choices=["plausible"], help="whose export it is")
    imp.add_argument("export", help="the export's zip (or one of its CSV files)")
    imp.add_argument("--site", required=True, help="the site it is imported into")
    imp.add_argument("--data-dir")
    imp.set_defaults(func=cmd_import)

    erase = sub.add_parser("erase", help="delete a site's events in a date range (GDPR Art. 17)")
    erase.add_argument("--site", required=True)
    erase.add_argument("--from", dest="first_day", type=_day, required=True, help="YYYY-MM-DD")
    erase.add_argument("--to", dest="last_day", type=_day, required=True, help="YYYY-MM-DD")
    erase.add_argument("--user-id", help="only this user's events (sites with user ids)")
    erase.add_argument("--data-dir")
    erase.set_defaults(func=cmd_erase)

    retention = sub.add_parser(
        "retention", help="delete events older than N days, keeping their daily rollups"
    )
    retention.add_argument(
        "--days", type=int, help="days kept, today included (default BEACONLAKE_RETENTION_DAYS)"
    )
    retention.add_argument(
        "--drop-rollups", action="store_true", help="delete the days' rollups with their events"
    )
    retention.add_argument(
        "--daily-days",
        type=int,
        help="days daily rollups are kept after the events (default BEACONLAKE_DAILY_ROLLUP_DAYS)",
    )
    retention.add_argument("--data-dir")
    retention.set_defaults(func=cmd_retention)

    report = sub.add_parser("report", help="send a site's e-mail report now (docs/REPORTS.md)")
    report.add_argument("action", choices=("send",))
    report.add_argument("--site", required=True)
    report.add_argument("--period", choices=("week", "month"), default="week")
    report.add_argument(
        "--to", action="append", default=[], help="instead of the site's recipients"
    )
    report.add_argument("--data-dir")
    report.set_defaults(func=cmd_report)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
