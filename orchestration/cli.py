"""`xmo`: the scriptable face of the XMO Definitions (DESIGN §2).

Runs go through Dagster with the persistent instance under the data dir, so everything `xmo`
does is also visible in the Dagster UI.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from ingestion.declared_sources import (
    ALL_SOURCES,
    ENVIRONMENT_VARIABLE,
    DeclaredSourcesError,
    parse_sources_text,
    write_sources_file,
)
from ingestion.loader import extract_dates
from ingestion.synthetic.generator import GeneratorConfig, generate
from ingestion.synthetic.realism import format_report, measure_landing
from orchestration.partitions import FULL_REFRESH_TAG
from orchestration.settings import PROJECT_ROOT, PROJECT_SEEDS_DIR, Settings, SettingsError

EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A mistake in how xmo was called or in what it was pointed at; printed without a trace."""


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _fraction(value: str) -> float:
    number = float(value)
    if not 0 <= number < 1:
        raise argparse.ArgumentTypeError("must be in [0, 1)")
    return number


def _sources(value: str) -> tuple[str, ...]:
    try:
        return parse_sources_text(value, "--sources")
    except DeclaredSourcesError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xmo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write synthetic landing files for every source")
    gen.add_argument("--employees", type=int, default=GeneratorConfig.employees)
    gen.add_argument("--days", type=int, default=GeneratorConfig.days)
    gen.add_argument("--start", type=_date, help="first day (default: the timeline ends yesterday)")
    gen.add_argument("--seed", type=int, default=GeneratorConfig.seed)
    gen.add_argument(
        "--bad-rows",
        type=_fraction,
        default=0.0,
        metavar="FRACTION",
        help="corrupt this fraction of rows with every kind of contract violation",
    )
    gen.add_argument(
        "--report",
        action="store_true",
        help="then measure the landing files against DOMAIN §5's figures and print each range",
    )
    gen.add_argument(
        "--sources",
        type=_sources,
        default=ALL_SOURCES,
        metavar="SOURCE,…",
        help="write only these sources (itsm required; default: all four), and declare them "
        "in $XMO_DATA_DIR/sources.yml",
    )
    gen.add_argument(
        "--no-proactive",
        dest="proactive",
        action="store_false",
        help="an organisation that runs ticket surveys only: no proactive answers",
    )

    run = sub.add_parser("run", help="materialize partitions and everything downstream")
    which = run.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every extract date in the landing zone")
    which.add_argument("--partition", type=_date, metavar="YYYY-MM-DD")
    which.add_argument("--from", dest="date_from", type=_date, metavar="YYYY-MM-DD")
    run.add_argument("--to", dest="date_to", type=_date, metavar="YYYY-MM-DD")
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every dbt model from raw (after a change of pseudonym key)",
    )

    pull = sub.add_parser("pull", help="pull changed records from a source system into landing/")
    pull.add_argument("system", choices=["servicenow", "happysignals", "nexthink", "intune"])
    pull.add_argument(
        "--since",
        metavar="'YYYY-MM-DD HH:MM:SS'",
        help="first pull only: start here instead of at the beginning (UTC)",
    )
    pull.add_argument(
        "--day",
        dest="days",
        type=_date,
        action="append",
        default=[],
        metavar="YYYY-MM-DD",
        help="nexthink: the device day to pull (default: yesterday, UTC); may be repeated. "
        "intune: only yesterday (UTC), the day its current snapshot is filed under",
    )

    report = sub.add_parser("report", help="write a session pack from the published marts")
    kind = report.add_subparsers(dest="kind", required=True)
    weekly = kind.add_parser("weekly", help="the weekly XMO session pack")
    weekly.add_argument("--week", metavar="YYYY-Www", help="default: the last complete week")
    monthly = kind.add_parser("monthly", help="the monthly XMO session pack")
    monthly.add_argument("--month", metavar="YYYY-MM", help="default: the last complete month")

    key = sub.add_parser("key", help="the installation's secret pseudonym key")
    key_action = key.add_subparsers(dest="action", required=True)
    key_action.add_parser(
        "rotate",
        help="replace the key (the old one is destroyed) and rebuild every pseudonym from raw",
    )

    services = sub.add_parser("services", help="the mapping of tickets to services")
    action = services.add_subparsers(dest="action", required=True)
    suggest = action.add_parser(
        "suggest",
        help="draft mapping rules from the warehouse's tickets: business services, assignment "
        "groups and categories by volume, each with an empty service_id to fill in",
    )
    suggest.add_argument("--days", type=int, default=90, help="tickets opened in the last DAYS")
    suggest.add_argument(
        "--out",
        type=Path,
        help="default: $XMO_DATA_DIR/drafts/service_mapping_rules.csv",
    )

    sub.add_parser("dev", help="the Dagster UI on 127.0.0.1:3000 over the same definitions")
    dashboard = sub.add_parser(
        "dashboard", help="the XMO cockpit on 127.0.0.1 over the published marts"
    )
    dashboard.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("XMO_DASHBOARD_PORT", "8501")),
        help="default: $XMO_DASHBOARD_PORT or 8501",
    )
    return parser


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    if args.employees < 1 or args.days < 1:
        raise UsageError("--employees and --days must be at least 1")
    config = GeneratorConfig(
        employees=args.employees,
        days=args.days,
        start=args.start,
        seed=args.seed,
        bad_rows=args.bad_rows,
        sources=args.sources,
        proactive=args.proactive,
    )
    summary = generate(
        settings.landing_dir,
        settings.reference_dir,
        PROJECT_SEEDS_DIR,
        config,
        settings.mappings_dir,
    )
    print(
        f"Synthetic organisation: {args.employees} employees, "
        f"{summary.first_day} to {summary.last_day}"
    )
    for source, rows in sorted(summary.rows.items()):
        print(f"  {source:<10} {rows:>10,} rows")
    if summary.bad_rows:
        print(f"  bad rows injected: {sum(summary.bad_rows.values())} ({dict(summary.bad_rows)})")
    if summary.other_encodings:
        saved, mapping = summary.other_encodings
        print(f"  saved as Windows-1252: {saved} (read through {mapping})")
    print(f"Landing files: {settings.landing_dir} ({summary.files} files)")
    print(f"Reference data: {settings.reference_dir}")
    declared = write_sources_file(settings.sources_file, args.sources)
    print(f"Sources: {', '.join(args.sources)} (declared in {declared})")
    if os.environ.get(ENVIRONMENT_VARIABLE, "").strip():
        print(f"  note: {ENVIRONMENT_VARIABLE} is set and takes precedence over that file")
    if args.report:
        print("Measuring realism (loading the landing files into a scratch warehouse) …")
        report = measure_landing(
            settings.landing_dir, settings.reference_dir, settings.mappings_dir
        )
        print(format_report(report))
    return EXIT_OK


def _run_dates(args: argparse.Namespace, settings: Settings) -> list[date]:
    if args.all:
        dates = extract_dates(settings.landing_dir, settings.sources)
        if not dates:
            raise UsageError(
                f"no extract folders under {settings.landing_dir}; run `xmo generate` or point "
                "XMO_DATA_DIR at a directory whose landing/<source>/<YYYY-MM-DD>/ holds exports"
            )
        first, last = dates[0], dates[-1]
    elif args.partition:
        first = last = args.partition
    else:
        if args.date_to is None:
            raise UsageError("--from needs --to")
        first, last = args.date_from, args.date_to
        if last < first:
            raise UsageError(f"--to {last} is before --from {first}")
    if args.date_to is not None and args.date_from is None:
        raise UsageError("--to only goes with --from")
    latest = datetime.now(UTC).date() - timedelta(days=1)
    if first < settings.partitions_start:
        raise UsageError(
            f"{first} is before the first partition {settings.partitions_start}; "
            "set XMO_PARTITIONS_START to an earlier date"
        )
    if last > latest:
        raise UsageError(f"{last} is not a complete day yet; the latest partition is {latest}")
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


@dataclass
class RunSummary:
    success: bool
    published: bool
    checks_passed: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)
    # Warn-only verdicts that did not pass (an experience drop, an unusual distribution): news,
    # not failures; they never hold publication back.
    checks_warned: list[str] = field(default_factory=list)
    step_failures: list[str] = field(default_factory=list)
    quarantined: int = 0
    packs: list[str] = field(default_factory=list)
    # What a check said about its verdict (why it failed, warned or was not judged), by name.
    check_descriptions: dict[str, str] = field(default_factory=dict)


def summarize(result: Any) -> RunSummary:
    """What a person needs from an in-process run: did it publish, and if not, why."""
    import dagster as dg

    from orchestration.assets.reporting import PUBLISH_KEY

    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    summary = RunSummary(success=result.success, published=PUBLISH_KEY in materialized)
    for evaluation in result.get_asset_check_evaluations():
        name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
        if evaluation.description:
            summary.check_descriptions[name] = evaluation.description
        if evaluation.passed:
            summary.checks_passed.append(name)
        elif evaluation.severity == dg.AssetCheckSeverity.WARN:
            summary.checks_warned.append(name)
        else:
            summary.checks_failed.append(name)
    # A run over many partitions records one materialization per partition, each carrying the
    # metadata of the whole step: count a step's quarantine once.
    counted: set[tuple[str | None, Any]] = set()
    for event in result.all_events:
        if event.is_step_failure:
            error = event.event_specific_data.error
            message = (error.message if error else "failed").strip().splitlines()[0]
            summary.step_failures.append(f"{event.step_key}: {message}")
        if event.is_step_materialization:
            metadata = event.event_specific_data.materialization.metadata
            if "rows_quarantined" in metadata and (event.step_key, event.asset_key) not in counted:
                counted.add((event.step_key, event.asset_key))
                summary.quarantined += metadata["rows_quarantined"].value
            if event.asset_key.path[0] == "reports" and "path" in metadata:
                summary.packs.append(str(metadata["path"].value))
    return summary


def not_configured_lines(settings: Settings) -> list[str]:
    """One line per source the organisation does not declare, naming the marts left empty."""
    from quality.specs import MARTS

    missing = set(settings.undeclared_sources)
    lines = []
    for source in settings.undeclared_sources:
        empty = sorted(spec.table for spec in MARTS.values() if source in spec.needs)
        # Marts that lose its figures but are published (not left empty by another source).
        partial = sorted(
            spec.table
            for spec in MARTS.values()
            if source in spec.uses and not spec.needs & missing
        )
        parts = [f"{source} marts are empty ({', '.join(empty)})"] if empty else []
        if partial:
            parts.append(f"its figures are missing in {', '.join(partial)}")
        lines.append(f"{source}: not configured — {'; '.join(parts) or 'no mart needs it'}")
    return lines


def unmapped_line(settings: Settings) -> str | None:
    """How many of the newest week's resolved tickets no mapping rule gave a service."""
    from quality.config import load_gate_config
    from quality.gates.marts import describe_unmapped
    from reporting.marts import PublishedMarts

    with PublishedMarts(settings.reporting_path) as marts:
        week = marts.newest_resolved_week()
        if week is None:
            return None
        resolved, unmapped = marts.unmapped_in_week(week)
    limit = load_gate_config(settings.gates_path).unmapped_share_max
    return "Unmapped: " + describe_unmapped(
        unmapped / resolved, resolved, f"the week of {week}", limit
    )


def _mart_rows(settings: Settings) -> dict[str, int]:
    if not settings.reporting_path.exists():
        return {}
    con = duckdb.connect(str(settings.reporting_path), read_only=True)
    try:
        tables = [
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' "
                "ORDER BY table_name"
            ).fetchall()
        ]
        return {t: con.execute(f"SELECT count(*) FROM marts.{t}").fetchone()[0] for t in tables}
    finally:
        con.close()


def execute_pipeline(settings: Settings, dates: list[date], full_refresh: bool = False) -> Any:
    """One Dagster run of the pipeline job over `dates`, on the persistent instance; with
    `full_refresh`, every dbt model is rebuilt from raw."""
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG,
        ASSET_PARTITION_RANGE_START_TAG,
    )

    from orchestration.definitions import PIPELINE_JOB, build_definitions
    from orchestration.instance import get_instance

    instance = get_instance(settings)
    job = build_definitions(settings).resolve_job_def(PIPELINE_JOB)
    tags = {
        ASSET_PARTITION_RANGE_START_TAG: dates[0].isoformat(),
        ASSET_PARTITION_RANGE_END_TAG: dates[-1].isoformat(),
        "xmo/launched_by": "xmo run",
        **({FULL_REFRESH_TAG: "true"} if full_refresh else {}),
    }
    # INFO keeps the per-partition counts and dbt's progress, without Dagster's DEBUG events.
    run_config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
    return job.execute_in_process(
        run_config=run_config, instance=instance, tags=tags, raise_on_error=False
    )


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    dates = _run_dates(args, settings)
    return run_and_report(settings, dates, args.full_refresh)


def run_and_report(settings: Settings, dates: list[date], full_refresh: bool = False) -> int:
    """Run the pipeline over `dates` and print what a person needs: published or not, why."""
    print(
        f"Running {len(dates)} partition(s) {dates[0]} .. {dates[-1]} "
        f"(data dir {settings.data_dir}){', rebuilding every model' if full_refresh else ''}"
    )
    result = execute_pipeline(settings, dates, full_refresh)
    summary = summarize(result)
    print()
    print(f"Run {result.run_id}: {'succeeded' if summary.success else 'FAILED'}")
    if summary.quarantined:
        print(f"Quarantined rows: {summary.quarantined:,} (see raw.quarantine_* in the warehouse)")
    print(
        f"Checks passed: {len(summary.checks_passed)}, warned: {len(summary.checks_warned)}, "
        f"failed: {len(summary.checks_failed)}"
    )
    for name in summary.checks_warned:
        print(f"  WARNING check {name}")
    for name in summary.checks_failed:
        print(f"  FAILED check {name}")
        if name in summary.check_descriptions:
            print(f"    {summary.check_descriptions[name]}")
    for failure in summary.step_failures:
        print(f"  FAILED step {failure}")
    for line in not_configured_lines(settings):
        print(line)
    if summary.published:
        print("Published marts (rows):")
        for mart, rows in _mart_rows(settings).items():
            print(f"  marts.{mart:<30} {rows:>10,}")
        if line := unmapped_line(settings):
            print(line)
    else:
        print("Nothing was published: the reporting database keeps its previous version.")
    print(f"Warehouse:  {settings.warehouse_path}")
    print(f"Reporting:  {settings.reporting_path}")
    print(f"Parquet:    {settings.reporting_parquet_dir}")
    for pack in summary.packs:
        print(f"Pack:       {pack}")
    print(f"Dagster UI: make dev (DAGSTER_HOME={settings.dagster_home})")
    return EXIT_OK if summary.success and summary.published else EXIT_RUN_FAILED


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """Materialize one pack asset through Dagster (so the UI shows it), for a chosen period."""
    from orchestration.assets.reports import MONTHLY_PACK_KEY, WEEKLY_PACK_KEY
    from orchestration.definitions import MONTHLY_PACK_JOB, WEEKLY_PACK_JOB, build_definitions
    from orchestration.instance import get_instance
    from reporting.periods import PeriodError, parse_month, parse_week

    weekly = args.kind == "weekly"
    period = args.week if weekly else args.month
    try:
        if period:
            (parse_week if weekly else parse_month)(period)
    except PeriodError as exc:
        raise UsageError(str(exc)) from None
    key = WEEKLY_PACK_KEY if weekly else MONTHLY_PACK_KEY
    job = build_definitions(settings).resolve_job_def(
        WEEKLY_PACK_JOB if weekly else MONTHLY_PACK_JOB
    )
    run_config = {
        "ops": {"__".join(key.path): {"config": {"period": period or ""}}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    result = job.execute_in_process(
        run_config=run_config,
        instance=get_instance(settings),
        tags={"xmo/launched_by": "xmo report"},
        raise_on_error=False,
    )
    summary = summarize(result)
    if not result.success:
        for failure in summary.step_failures:
            print(f"xmo: {failure}", file=sys.stderr)
        return EXIT_RUN_FAILED
    [event] = result.get_asset_materialization_events()
    metadata = event.event_specific_data.materialization.metadata
    print(f"{args.kind.capitalize()} pack {metadata['period'].value}: {metadata['path'].value}")
    return EXIT_OK


def cmd_pull(args: argparse.Namespace, settings: Settings) -> int:
    if args.system == "nexthink":
        return pull_nexthink(args, settings)
    if args.system == "intune":
        return pull_intune(args, settings)
    if args.days:
        raise UsageError(f"--day is for `xmo pull nexthink`; {args.system} pulls what changed")
    if args.system == "happysignals":
        return pull_happysignals(args, settings)
    from ingestion.servicenow.client import Credentials, ServiceNowClient, ServiceNowError
    from ingestion.servicenow.pull import pull_directory, pull_tickets

    if not settings.servicenow_url:
        raise UsageError("set XMO_SERVICENOW_URL (e.g. https://yourinstance.service-now.com)")
    if args.since is not None:
        try:
            datetime.strptime(args.since, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise UsageError(
                f"--since must look like '2026-01-31 00:00:00': {args.since!r}"
            ) from None
    try:
        client = ServiceNowClient(settings.servicenow_url, Credentials.from_env())
        tickets = pull_tickets(
            client, settings.landing_dir, settings.servicenow_state_path, since=args.since
        )
        directory = pull_directory(
            client, settings.landing_dir, datetime.now(UTC).date() - timedelta(days=1)
        )
    except ServiceNowError as exc:
        print(f"xmo: ServiceNow pull stopped: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    for table, count in {**tickets.records, **directory.records}.items():
        print(f"  {table:<12} {count:>8,} records")
    print(f"Watermarks: {tickets.watermarks} ({settings.servicenow_state_path})")
    print(f"Landing files written: {len(tickets.files) + len(directory.files)}")
    return EXIT_OK


def pull_happysignals(args: argparse.Namespace, settings: Settings) -> int:
    """`xmo pull happysignals`: changed survey responses into landing/survey/<day>/."""
    from ingestion.happysignals.client import ENV_TOKEN, HappySignalsError
    from ingestion.mapping import MappingError
    from orchestration.assets.happysignals import run_happysignals_pull

    if not settings.happysignals_url:
        raise UsageError(
            "set XMO_HAPPYSIGNALS_URL (e.g. https://yourclient.eu.happysignals.com/api/v2)"
        )
    if not os.environ.get(ENV_TOKEN):
        raise UsageError(f"set {ENV_TOKEN} to the API token HappySignals support issued")
    since = None
    if args.since is not None:
        try:
            since = datetime.strptime(args.since, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            raise UsageError(
                f"--since must look like '2026-01-31 00:00:00': {args.since!r}"
            ) from None
    try:
        result, requests = run_happysignals_pull(settings, since)
    except HappySignalsError as exc:
        print(f"xmo: HappySignals pull stopped: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except MappingError as exc:
        raise UsageError(f"survey mapping: {exc}") from None
    print(f"  responses    {result.records:>8,} records in {requests} requests")
    for path in result.files:
        print(f"  wrote {path}")
    print(f"Watermark: {result.watermark or 'none yet'} ({settings.happysignals_state_path})")
    print(f"Landing files written: {len(result.files)}")
    return EXIT_OK


def pull_nexthink(args: argparse.Namespace, settings: Settings) -> int:
    """`xmo pull nexthink`: device days from the saved NQL query into landing/device/<day>/."""
    from ingestion.mapping import MappingError
    from ingestion.nexthink.client import NexthinkError
    from orchestration.assets.nexthink import (
        NexthinkDayError,
        days_to_pull,
        nexthink_settings,
        run_nexthink_pull,
    )

    if args.since is not None:
        raise UsageError("--since is not for nexthink: it pulls whole days (--day YYYY-MM-DD)")
    try:
        days = days_to_pull(settings, args.days)
        connection = nexthink_settings(settings)
    except (NexthinkError, NexthinkDayError) as exc:
        raise UsageError(str(exc)) from None
    try:
        results, requests = run_nexthink_pull(settings, connection, days)
    except NexthinkError as exc:
        print(f"xmo: Nexthink pull stopped: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    except MappingError as exc:
        raise UsageError(f"device mapping: {exc}") from None
    print(f"  devices      {sum(r.rows for r in results):>8,} rows in {requests} requests")
    for result in results:
        via = f"export {result.export_id}" if result.export_id else result.method
        print(f"  wrote {result.file} ({result.rows:,} rows) via {via}")
    print(f"Query: {connection.query_id} on {connection.url}")
    methods = ", ".join(dict.fromkeys(r.method for r in results))
    print(f"Method: {methods} (XMO_NEXTHINK_METHOD={connection.method})")
    print(f"Landing files written: {len(results)}")
    return EXIT_OK


def pull_intune(args: argparse.Namespace, settings: Settings) -> int:
    """`xmo pull intune`: the endpoint analytics snapshot into landing/device/<yesterday>/."""
    from ingestion.intune.client import IntuneError
    from orchestration.assets.intune import (
        IntuneDayError,
        day_to_pull,
        intune_settings,
        run_intune_pull,
    )

    if args.since is not None:
        raise UsageError("--since is not for intune: it pulls the current snapshot as yesterday")
    try:
        day = day_to_pull(args.days)
        connection = intune_settings(settings)
    except (IntuneError, IntuneDayError) as exc:
        raise UsageError(str(exc)) from None
    try:
        result, requests = run_intune_pull(settings, connection, day)
    except IntuneError as exc:
        print(f"xmo: Intune pull stopped: {exc}", file=sys.stderr)
        return EXIT_RUN_FAILED
    print(f"  devices      {result.rows:>8,} rows in {requests} requests")
    print(f"  without user {result.devices_without_user:>8,} (landed; the load decides)")
    print(f"  battery      {'present' if result.battery else 'absent':>8}")
    if result.battery_note:
        print(f"  note: {result.battery_note}")
    print(f"  wrote {result.file} ({result.rows:,} rows)")
    print(f"Tenant: {connection.tenant_id} on {connection.graph_url}")
    print(f"Landing files written: {len(result.files)}")
    return EXIT_OK


def cmd_key(args: argparse.Namespace, settings: Settings) -> int:
    """`xmo key rotate`: a new key, the old one destroyed, every pseudonym rebuilt from raw."""
    from ingestion.pseudonym_key import PseudonymKeyError, rotate_key

    try:
        everything = argparse.Namespace(all=True, partition=None, date_from=None, date_to=None)
        dates = _run_dates(everything, settings)
    except UsageError:
        dates = []  # nothing landed yet: nothing to rebuild
    try:
        rotate_key(settings.data_dir)
    except PseudonymKeyError as exc:
        raise UsageError(str(exc)) from None
    print(
        f"New pseudonym key in {settings.pseudonym_key_path} (the old one is destroyed: back "
        "this one up, losing it changes every pseudonym)"
    )
    if not dates:
        print("Nothing loaded yet: the next `xmo run` uses the new key.")
        return EXIT_OK
    code = run_and_report(settings, dates, full_refresh=True)
    if code != EXIT_OK:
        print("Not rebuilt yet: `xmo run --all --full-refresh` publishes with the new key.")
    return code


def cmd_services(args: argparse.Namespace, settings: Settings) -> int:
    """`xmo services suggest`: a draft of mapping rules from the warehouse's tickets."""
    from ingestion.service_mapping import NoTicketsError, draft_rules, write_draft

    if args.days < 1:
        raise UsageError("--days must be at least 1")
    try:
        draft = draft_rules(settings.models_path, args.days)
    except NoTicketsError as exc:
        raise UsageError(str(exc)) from None
    path = write_draft(draft, args.out or settings.draft_rules_path)
    print(
        f"Draft of {len(draft.rules)} mapping rules from {draft.tickets:,} tickets opened "
        f"{draft.first_opened:%Y-%m-%d} .. {draft.last_opened:%Y-%m-%d}: {path}"
    )
    for name in ("business_service", "assignment_group", "category"):
        values = [r for r in draft.rules if r.field == name]
        if values:
            top = min(10, len(values))
            print(
                f"  {name:<17} {len(values):>5} values; the {top} biggest hold "
                f"{draft.coverage(name, top):.0%} of the tickets"
            )
    print(
        "Fill in service_id on the rows you want (leave the others empty or delete them), "
        f"then save it as {settings.reference_dir / 'service_mapping_rules.csv'} and run again."
    )
    return EXIT_OK


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    from orchestration.instance import ensure_dagster_home

    env = {**os.environ, "DAGSTER_HOME": str(ensure_dagster_home(settings))}
    dagster = Path(sys.executable).parent / "dagster"
    command = [
        str(dagster),
        "dev",
        "-w",
        str(PROJECT_ROOT / "workspace.yaml"),
        "-h",
        "127.0.0.1",
        "-p",
        os.environ.get("XMO_UI_PORT", "3000"),
    ]
    os.chdir(PROJECT_ROOT)
    os.execve(command[0], command, env)
    return EXIT_OK  # not reached: execve replaces this process


def dashboard_command(reporting_path: Path, port: int) -> tuple[list[str], dict[str, str]]:
    """The Streamlit server of the cockpit on 127.0.0.1: headless, no usage statistics sent."""
    streamlit = Path(sys.executable).parent / "streamlit"
    command = [
        str(streamlit),
        "run",
        str(PROJECT_ROOT / "dashboard" / "app.py"),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # Readers see the cockpit, not Streamlit's developer menu (deploy, rerun, settings).
        "--client.toolbarMode",
        "viewer",
    ]
    # The app's pages import the project's packages (dashboard, reporting) from this checkout.
    path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p)
    return command, {**os.environ, "XMO_REPORTING_PATH": str(reporting_path), "PYTHONPATH": path}


def cmd_dashboard(args: argparse.Namespace, settings: Settings) -> int:
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be a TCP port (1-65535), not {args.port}")
    reporting = Path(os.environ.get("XMO_REPORTING_PATH") or settings.reporting_path)
    command, env = dashboard_command(reporting, args.port)
    print(f"XMO cockpit on http://127.0.0.1:{args.port} over {reporting}")
    os.execve(command[0], command, env)
    return EXIT_OK  # not reached: execve replaces this process


COMMANDS = {
    "generate": cmd_generate,
    "run": cmd_run,
    "pull": cmd_pull,
    "report": cmd_report,
    "services": cmd_services,
    "key": cmd_key,
    "dev": cmd_dev,
    "dashboard": cmd_dashboard,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("generate", "pull"):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Runs log through Dagster's console logger (dagster.yaml manages ingestion and quality).
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    try:
        return COMMANDS[args.command](args, Settings.from_env())
    except (UsageError, SettingsError) as exc:
        print(f"xmo: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
