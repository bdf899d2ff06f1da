"""The `cdc` command. Subcommands load their settings from the environment once."""
from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click

from cdc.top.settings import DEFAULT_MAX_LAG_SECONDS, DEFAULT_MAX_WAL_BYTES
from core.errors import CdcError
from core.health import DEFAULT_MAX_AGE, DEFAULT_MAX_STALL, Limits, check
from core.settings import HEALTH_FILE_VARIABLES, HealthSettings, LogSettings

log = logging.getLogger("cdc")

CONSISTENCY_DURATION = 30.0  # seconds of sampling, `cdc verify --consistency`
CONSISTENCY_INTERVAL = 0.2  # seconds between two samples


def _setup_logging(verbose: bool) -> None:
    level = logging.DEBUG if verbose else LogSettings.from_env().level_number
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def cli(verbose: bool) -> None:
    """CDC streaming replicator: PostgreSQL -> Debezium -> Kafka -> MySQL replica and marts."""
    _setup_logging(verbose)


# --- cdc local -------------------------------------------------------------

@cli.group()
def local() -> None:
    """Run the pipeline's parts as local processes (no Docker)."""


_dir_option = click.option(
    "--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
    default=Path("stack"), show_default=True, help="Folder holding all of the stack's data and logs.",
)


@local.command("up")
@_dir_option
@click.option("--infra-only", is_flag=True,
              help="Start only PostgreSQL, MySQL, the broker and Kafka Connect (not the consumer and marts workers).")
@click.option("--mysql", type=click.Choice(["mariadb", "oracle"]), default=None,
              help="The MySQL server of a new stack: MariaDB (the default) or Oracle MySQL (fetched once from "
                   "Debian's development suite into a cache). A stack keeps the one it started with.")
def local_up(folder: Path, infra_only: bool, mysql: str | None) -> None:
    """Start the stack, apply the schema, register the connector, write DIR/stack.env."""
    from cdc.local import stack

    stack.up(folder, progress=lambda message: click.echo(f"  {message}"), infra_only=infra_only, mysql=mysql)
    env_file = folder.resolve() / stack.ENV_FILE
    click.echo(f"\nUse it:  set -a; . {env_file}; set +a\nStop it: cdc local down --dir {folder}")


@local.command("down")
@_dir_option
def local_down(folder: Path) -> None:
    """Stop every process of the stack (data stays in DIR)."""
    from cdc.local import stack

    stopped = stack.down(folder, progress=lambda message: click.echo(f"  {message}"))
    click.echo(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@local.command("restart")
@_dir_option
@click.argument("part", type=click.Choice(["postgres", "mariadb", "mysql", "broker", "connect", "consumer", "marts"]))
@click.option("--kill", is_flag=True, help="SIGKILL the part instead of stopping it cleanly (a crash).")
def local_restart(folder: Path, part: str, kill: bool) -> None:
    """Stop one part of the running stack and start it again, same port, same data.

    The broker keeps its topics in memory: restarting it restarts Kafka Connect and the workers
    too, and carries the pipeline across (the connector resumes where it stopped; with --kill the
    source is snapshotted again and the replica and marts rebuilt).
    """
    from cdc.local import stack

    stack.restart(folder, part, kill=kill, progress=lambda message: click.echo(f"  {message}"))
    click.echo(f"restarted: {part}")


@local.command("status")
@_dir_option
def local_status(folder: Path) -> None:
    """Show each part of the stack; exit 1 if any is down."""
    from cdc.local import stack

    parts = stack.status(folder)
    width = max(len(part.name) for part in parts)
    for part in parts:
        state = "FAILED" if part.failed else "up" if part.running else "DOWN"
        click.echo(f"{part.name:<{width}}  {state:<6}  {part.detail}")
    if not all(part.running for part in parts):
        sys.exit(1)


# --- cdc connectors --------------------------------------------------------

@cli.group()
def connectors() -> None:
    """The Debezium PostgresConnector in Kafka Connect."""


@connectors.command("apply")
@click.option("--timeout", type=float, default=None,
              help="Seconds to wait for RUNNING (default CONNECTOR_TIMEOUT or 120).")
def connectors_apply(timeout: float | None) -> None:
    """Create the source topics, create or update the connector (idempotent), wait until it runs.

    Its initial snapshot reads the shop's tables and those added to the publication (read from PG_DSN).
    """
    from connectors.apply import apply_connector
    from connectors.publication import added_tables
    from connectors.settings import ConnectorSettings
    from connectors.template import render
    from core.kafka_connect import ConnectClient, wait_for_connect
    from core.settings import KafkaSettings, SourceSettings
    from core.topics import ensure_source_topics

    settings = ConnectorSettings.from_env()
    kafka = KafkaSettings.from_env()
    limit = timeout if timeout is not None else settings.timeout_seconds
    client = ConnectClient(settings.connect_url)
    wait_for_connect(client, limit)
    ensure_source_topics(kafka.bootstrap, settings.topic_prefix,
                  settings.topic_partitions, settings.topic_replication_factor)
    name, config = render(settings, added_tables(SourceSettings.from_env()))
    result = apply_connector(client, name, config, limit)
    click.echo(result.describe())


@connectors.command("status")
def connectors_status() -> None:
    """Show the connector's and its tasks' states; exit 1 unless all run."""
    from connectors.password_reference import unresolved_password_hint
    from connectors.settings import ConnectorSettings
    from connectors.template import render
    from core.kafka_connect import ConnectClient, first_lines, restart_advice

    settings = ConnectorSettings.from_env()
    name, config = render(settings)
    current = ConnectClient(settings.connect_url).status(name)
    click.echo(current.describe())
    if current.trace:
        click.echo(first_lines(current.trace))
        hint = unresolved_password_hint(current.trace, config)
        if hint:
            click.echo(hint)
    if current.failed:
        click.echo(restart_advice(settings.connect_url, current))
    if not current.running:
        sys.exit(1)


# --- cdc schema ------------------------------------------------------------

@cli.group()
def schema() -> None:
    """The PostgreSQL source schema."""


@schema.command("apply")
def schema_apply() -> None:
    """Apply the source schema migrations that are not applied yet.

    With PG_SUPERUSER_DSN set (docker compose), then also create, as that superuser, the event trigger that
    captures source DDL (migration 0003), which PG_DSN's user cannot create unless it is a superuser."""
    from core.settings import SourceSettings
    from core.source.migrate import SUPERUSER_DSN_VARIABLE, apply_migrations, install_schema_capture

    applied = apply_migrations(SourceSettings.from_env())
    click.echo(f"applied: {', '.join(applied) or 'nothing, already up to date'}")
    superuser_dsn = os.environ.get(SUPERUSER_DSN_VARIABLE, "").strip()
    if superuser_dsn:
        created = install_schema_capture(superuser_dsn)
        click.echo(f"DDL capture: {'event trigger created' if created else 'event trigger already there'}")


# --- cdc health --------------------------------------------------------------

@cli.command("backfill")
@click.argument("tables", nargs=-1, required=True)
@click.option("--timeout", type=click.FloatRange(min=1), default=3600.0, show_default=True,
              help="Seconds to wait for the connector to complete it (it goes on after).")
def backfill(tables: tuple[str, ...], timeout: float) -> None:
    """Re-read TABLES from the source into the running pipeline: repairs replica tables online."""
    from connectors.backfill import TableProgress, follow, request
    from core.settings import KafkaSettings, SourceSettings
    from core.topic_names import notifications_topic

    source, kafka = SourceSettings.from_env(), KafkaSettings.from_env()
    signal = request(source, tables)
    click.echo(f"backfill {signal} of {', '.join(tables)} asked of the connector (stopping this command does not "
               "stop it)", err=True)

    def show(progress: TableProgress) -> None:
        share = f" ({progress.done / progress.total:.0%})" if progress.total else ""
        click.echo(f"\r{progress.table}: {progress.done:,} / {progress.total:,} rows read{share}",
                   err=True, nl=progress.finished)

    follow(kafka.bootstrap, notifications_topic(kafka.topic_prefix), signal, source, show, timeout)
    click.echo(f"backfill of {', '.join(tables)} read; `cdc verify --wait 60` shows the replica once it applied it")


@cli.command("health")
@click.argument("worker", type=click.Choice(sorted(HEALTH_FILE_VARIABLES)))
@click.option("--max-stall", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_MAX_STALL,
              show_default=True, help="Seconds without progress allowed while input is waiting.")
@click.option("--max-age", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_MAX_AGE,
              show_default=True, help="Seconds the heartbeat may be old before the worker counts as hung or dead.")
def health(worker: str, max_stall: float, max_age: float) -> None:
    """Judge a worker by its heartbeat file (CONSUMER_HEALTH_FILE / MARTS_HEALTH_FILE); exit 1 if unhealthy."""
    verdict = check(HealthSettings.from_env(worker).file, time.time(), Limits(max_stall, max_age))
    click.echo(f"{'healthy' if verdict.healthy else 'unhealthy'}: {verdict.reason}")
    if not verdict.healthy:
        sys.exit(1)


# --- cdc exporter ------------------------------------------------------------

@cli.command("exporter")
def exporter() -> None:
    """Serve the replication slot's and the connector's metrics for Prometheus (EXPORTER_METRICS_PORT)."""
    import threading

    from cdc.exporter.run import Exporter
    from cdc.exporter.settings import ExporterSettings
    from core.signals import stop_on_signals

    settings = ExporterSettings.from_env()
    stop = threading.Event()
    with stop_on_signals(stop, "the current reading"):
        Exporter(settings).run(stop)


# --- cdc top ----------------------------------------------------------------

@cli.command("top")
@click.option("--once", is_flag=True, help="Print one snapshot and exit: 0 when healthy, 1 when something fails.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True,
              help="Seconds between scrapes (rates are over this window; --once scrapes twice this far apart).")
@click.option("--max-lag", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_MAX_LAG_SECONDS,
              show_default=True, help="Seconds the replica and each mart may be behind the source.")
@click.option("--max-wal-mib", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_MAX_WAL_BYTES / 2**20,
              show_default=True, help="MiB of WAL a replication slot may retain.")
def top(once: bool, interval: float, max_lag: float, max_wal_mib: float) -> None:
    """The whole pipeline live: rates, lag, mart freshness, dead letters, connector, slot WAL.

    Reads CONSUMER_METRICS_URL, MARTS_METRICS_URL and EXPORTER_METRICS_URL (a local stack's stack.env has
    them); unset, the URLs compose publishes on 127.0.0.1 (9108, 9109, 9110).
    """
    from rich.console import Console

    from cdc.top import app
    from cdc.top.settings import Limits, TopSettings

    settings, limits = TopSettings.from_env(), Limits(max_lag, max_wal_mib * 2**20)
    # Piped or captured: no terminal width to follow, so wide enough that no table wraps.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    if not once:
        app.live(settings, limits, interval, console)
    elif not app.once(settings, limits, interval, console).healthy:
        sys.exit(1)


# --- cdc verify --------------------------------------------------------------

@cli.command("verify")
@click.option("--wait", "wait_seconds", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Retry until everything matches or this many seconds have passed.")
@click.option("--scope", type=click.Choice(["all", "replica", "marts"]), default="all", show_default=True,
              help="replica: the five tables; marts: user_activity and sales_by_category against their SQL "
                   "definitions evaluated on the source.")
@click.option("--consistency", is_flag=True,
              help="Instead of comparing with the source: sample the replica and the marts in consistent MySQL "
                   "snapshots (while a live load runs) and count torn views, samples that break an invariant "
                   "every source transaction keeps (order totals = their lines, the marts' money balances, "
                   "no dangling reference). Needs MYSQL_URL only.")
@click.option("--duration", type=click.FloatRange(min=0), default=None,
              help=f"With --consistency: seconds of sampling [default: {CONSISTENCY_DURATION:g}].")
@click.option("--interval", type=click.FloatRange(min=0, min_open=True), default=None,
              help=f"With --consistency: seconds between samples [default: {CONSISTENCY_INTERVAL:g}].")
@click.option("--json", "as_json", is_flag=True, help="With --consistency: the report as one JSON object.")
def verify(wait_seconds: float, scope: str, consistency: bool, duration: float | None, interval: float | None,
           as_json: bool) -> None:
    """Compare the replica tables and the marts with the source row by row; exit 1 unless all match.

    With --consistency: count torn views instead (see README, Consistency check); exit 1 if any.
    """
    if consistency:
        if wait_seconds:
            raise click.UsageError("--wait compares with the source; --consistency samples for --duration")
        _verify_consistency(scope, _or(duration, CONSISTENCY_DURATION), _or(interval, CONSISTENCY_INTERVAL), as_json)
        return
    if duration is not None or interval is not None or as_json:
        raise click.UsageError("--duration, --interval and --json go with --consistency")
    _verify_against_source(wait_seconds, scope)


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _verify_against_source(wait_seconds: float, scope: str) -> None:
    from consumer.verify import replica_reports
    from core.settings import MySqlSettings, SourceSettings
    from core.verify import TableReport, render
    from marts.verify import mart_reports

    source, mysql = SourceSettings.from_env(), MySqlSettings.from_env()
    checks: dict[str, Callable[[], list[TableReport]]] = {
        "replica": lambda: replica_reports(source, mysql),
        "marts": lambda: mart_reports(source, mysql),
    }
    selected = [check for name, check in checks.items() if scope in ("all", name)]
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            reports = [report for check in selected for report in check()]
        except CdcError:
            if time.monotonic() >= deadline:
                raise
            reports = []
        if (reports and all(report.matches for report in reports)) or time.monotonic() >= deadline:
            break
        time.sleep(1.0)
    click.echo(render(reports))
    if not all(report.matches for report in reports):
        sys.exit(1)


def _verify_consistency(scope: str, duration: float, interval: float, as_json: bool) -> None:
    import json

    from cdc.consistency import invariants, report, sampling
    from core.settings import MySqlSettings

    chosen = invariants.selected(scope)
    with sampling.snapshot_reader(MySqlSettings.from_env()) as reader:
        started = time.monotonic()
        samples = sampling.sample_for(lambda at: sampling.take_sample(reader, chosen, at), duration, interval)
        seconds = time.monotonic() - started
    tallies = report.tally(chosen, samples)
    click.echo(json.dumps(report.as_json(tallies, seconds)) if as_json else report.render(tallies, seconds))
    if not report.consistent(tallies):
        sys.exit(1)


def _register_stage_commands() -> None:
    """Each stage package owns its commands in its own cli module."""
    from consumer.cli import consume
    from generator.cli import generate
    from marts.cli import marts

    for command in (generate, consume, marts):
        cli.add_command(command)


_register_stage_commands()


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except CdcError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
