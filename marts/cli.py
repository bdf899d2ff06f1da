"""`cdc marts`: run the marts worker until SIGTERM/SIGINT (`cdc verify --scope marts` checks them)."""
from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import click
import pymysql

from core.settings import KafkaSettings, MySqlSettings
from marts.events import Event
from marts.settings import MartsSettings

if TYPE_CHECKING:
    from core.leader import Leadership

log = logging.getLogger(__name__)
T = TypeVar("T")
EXIT_GRACE_SECONDS = 10.0  # after the worker stopped, for the interpreter's own shutdown (core.signals.exit_within)


@click.command("marts")
@click.option("--adopt-topics", is_flag=True,
              help="Do not run the worker: after the source topics were recreated, forget the offsets of "
                   "the old ones and keep the marts (only right when the old topics were applied to their "
                   "end and the connector resumed where it stopped).")
@click.option("--rebuild", is_flag=True,
              help="Do not run the worker: drop the marts and their state (the next run applies the topics "
                   "from their start; right when the topics start with a full snapshot).")
@click.option("--verify", is_flag=True, hidden=True, help="Deprecated spelling of `cdc verify --scope marts`.")
def marts(adopt_topics: bool, rebuild: bool, verify: bool) -> None:
    """Maintain the user_activity and sales_by_category marts in MySQL from the change topics.

    Reads KAFKA_BOOTSTRAP, MYSQL_URL, MARTS_APP_ID (consumer group, default cdc-marts),
    MARTS_BATCH_SIZE, MARTS_FETCH_WAIT_MS, MARTS_DATA_DIR, MARTS_DEADLETTER_TOPIC,
    MARTS_HEALTH_FILE (heartbeat for `cdc health marts`, default <tmp>/cdc-marts-health.json).
    One worker is active per marts database (a MySQL lock); a second one waits as a hot standby and takes
    over within seconds when the first is gone.
    """
    if verify:
        _verify_deprecated()
    elif adopt_topics:
        _adopt_topics(MySqlSettings.from_env(), KafkaSettings.from_env())
    elif rebuild:
        _rebuild(MySqlSettings.from_env())
    else:
        from core.signals import exit_within

        with exit_within(EXIT_GRACE_SECONDS):
            run_worker(MartsSettings.from_env())


def _verify_deprecated() -> None:
    """The old `cdc marts --verify`, kept so that scripts using it go on working."""
    from core.settings import SourceSettings
    from core.verify import render
    from marts.verify import mart_reports

    log.warning("`cdc marts --verify` is deprecated: use `cdc verify --scope marts`")
    reports = mart_reports(SourceSettings.from_env(), MySqlSettings.from_env())
    click.echo(render(reports))
    if not all(report.matches for report in reports):
        sys.exit(1)


def _adopt_topics(mysql: MySqlSettings, kafka: KafkaSettings) -> None:
    from marts import generations

    changed = generations.adopt(mysql, _source_topic_ids(kafka))
    click.echo(f"adopted new topics: {', '.join(changed) or 'none had changed'}")


def _rebuild(mysql: MySqlSettings) -> None:
    from marts import generations

    generations.rebuild(mysql)
    click.echo("marts dropped; `cdc marts` rebuilds them from the topics' start")


def _when_reachable(what: str, action: Callable[[], T]) -> T:
    """`action`, retried while the broker or MySQL is unavailable (a worker started before them waits)."""
    from core.errors import ConnectorError, MySqlUnavailable
    from core.mysql import Backoff, is_transient

    backoff = Backoff(first=1.0)
    while True:
        try:
            return action()
        except (ConnectorError, MySqlUnavailable, pymysql.MySQLError) as exc:
            if isinstance(exc, pymysql.MySQLError) and not is_transient(exc):
                raise
            delay = backoff.failed()
            log.warning("%s: %s; retrying in %.0f s", what, exc, delay)
            time.sleep(delay)


def _source_topic_ids(kafka: KafkaSettings) -> dict[str, str]:
    from core.topics import topic_ids
    from marts.generations import read_topics

    return topic_ids(kafka.bootstrap, read_topics(kafka.topic_prefix))


def run_worker(settings: MartsSettings,
               on_batch_committed: Callable[[Sequence[Event]], None] | None = None) -> None:
    """The worker until SIGTERM/SIGINT (`on_batch_committed`: see MartStore); first, while another worker holds
    the marts' lock (core.leader), a standby."""
    import faust  # noqa: F401 - loaded while a standby waits: a takeover does not wait for it (seconds)

    import marts.app  # noqa: F401 - as faust
    from core.health import HeartbeatWriter
    from core.leader import Leadership
    from core.signals import stop_on_signals
    from core.watermark import MARTS_STAGE

    leader = Leadership(settings.mysql, MARTS_STAGE, "marts")
    stop = threading.Event()
    with stop_on_signals(stop, "waiting as a standby"):
        active = leader.acquire(stop, HeartbeatWriter(settings.health.file, "marts").standby)
    if not active:
        log.info("marts worker %s stopped while waiting as a standby", settings.app_id)
        return
    try:
        _run_active(settings, leader, on_batch_committed)
    finally:
        leader.release()


def _run_active(settings: MartsSettings, leader: Leadership,
                on_batch_committed: Callable[[Sequence[Event]], None] | None) -> None:
    """The worker, once it holds the marts' lock: everything it starts from is read now."""
    import faust
    from prometheus_client import CollectorRegistry

    from core.connector_watch import start_connector_watch
    from core.deadletter import DeadLetterProducer
    from core.metrics import STAGE_MARTS, register_worker_metrics, serve
    from core.topics import ensure_schema_changes_topic, ensure_transaction_topic
    from marts import generations
    from marts.app import create_app
    from marts.apply.store import MartStore
    from marts.definitions import MARTS
    from marts.schema import ensure_schema

    mysql, kafka = settings.mysql, settings.kafka
    _when_reachable("creating the marts' tables", lambda: ensure_schema(mysql))
    start_connector_watch()
    topic_ids = _when_reachable("reading the source topics' ids", lambda: _source_topic_ids(kafka))
    _when_reachable("checking the topics' generations", lambda: generations.check(mysql, topic_ids))
    _when_reachable("creating the transaction topic", lambda: ensure_transaction_topic(
        kafka.bootstrap, kafka.topic_prefix, kafka.replication_factor))
    _when_reachable("creating the schema changes topic", lambda: ensure_schema_changes_topic(
        kafka.bootstrap, kafka.topic_prefix, kafka.replication_factor))
    metrics = register_worker_metrics(CollectorRegistry(), STAGE_MARTS, [mart.name for mart in MARTS])
    server = serve(metrics.registry, settings.metrics_port, settings.metrics_host) if settings.metrics_port else None
    store = MartStore(mysql, on_batch_committed, metrics=metrics)
    _when_reachable("reading the stored positions", store.load_positions)
    deadletters = DeadLetterProducer(kafka.bootstrap, settings.deadletter_topic, kafka.replication_factor)
    app = create_app(settings, store, deadletters, topic_ids, leader)
    log.info("marts worker %s starting (batches of up to %d messages)", settings.app_id, settings.batch_size)
    worker = faust.Worker(app, loglevel=settings.log.level.lower(), quiet=True)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        deadletters.close()
        store.close()
        if server is not None:
            server.shutdown()
            server.server_close()
    log.info("marts worker %s stopped", settings.app_id)
