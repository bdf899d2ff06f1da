"""`cdc marts`: run the marts worker until SIGTERM/SIGINT; `cdc marts --verify`: compare with the source."""
from __future__ import annotations

import logging
import os
import sys

import click

from cdc.settings import MySqlSettings

log = logging.getLogger(__name__)


@click.command("marts")
@click.option("--verify", is_flag=True,
              help="Do not run the worker: compare the marts with their definitions evaluated on the "
                   "source (PG_DSN) and exit 1 on any difference.")
def marts(verify: bool) -> None:
    """Maintain the user_activity and sales_by_category marts in MySQL from the change topics.

    Reads KAFKA_BOOTSTRAP, MYSQL_URL, MARTS_APP_ID (consumer group, default cdc-marts),
    MARTS_BATCH_SIZE, MARTS_BATCH_SECONDS, MARTS_FETCH_WAIT_MS, MARTS_DATA_DIR, MARTS_DEADLETTER_TOPIC.
    Several workers with one MARTS_APP_ID share the partitions.
    """
    mysql = MySqlSettings.from_env()
    if verify:
        _verify(mysql)
    else:
        _run_worker(mysql)


def _verify(mysql: MySqlSettings) -> None:
    from cdc.settings import SourceSettings
    from cdc.verify import render
    from marts.verify import mart_reports

    reports = mart_reports(SourceSettings.from_env(), mysql)
    click.echo(render(reports))
    if not all(report.matches for report in reports):
        sys.exit(1)


def _run_worker(mysql: MySqlSettings) -> None:
    import faust

    from cdc.connector_watch import start_connector_watch
    from cdc.deadletter import DeadLetterProducer
    from cdc.settings import KafkaSettings
    from marts.app import create_app
    from marts.settings import MartsSettings
    from marts.store import MartStore, ensure_schema

    settings = MartsSettings.from_env()
    kafka = KafkaSettings.from_env()
    ensure_schema(mysql)
    start_connector_watch()
    store = MartStore(mysql, settings.max_attempts)
    deadletters = DeadLetterProducer(kafka.bootstrap, settings.deadletter_topic)
    app = create_app(settings, kafka, store, deadletters)
    log.info("marts worker %s starting (batch %d / %.2f s)", settings.app_id, settings.batch_size,
             settings.batch_seconds)
    level = os.environ.get("LOG_LEVEL", "INFO").lower()
    worker = faust.Worker(app, loglevel=level, quiet=True)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        deadletters.close()
        store.close()
    log.info("marts worker %s stopped", settings.app_id)
