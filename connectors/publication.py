"""The tables added to the publication since the migrations (README, Operations, "Adding a table").

The connector's initial snapshot reads them with the shop's tables: a new snapshot (a new connector: a new
broker, a lost slot) then brings their rows too, and the consumer makes their replica tables from it. Only
tables whose addition the source recorded (migration 0005: a cdc_schema_changes row, and the connector's
user's SELECT) are listed: the consumer needs that definition, and the snapshot that SELECT. The list is
read at each `apply`, so it is the publication's when the connector was last applied.
"""
from __future__ import annotations

import logging

import psycopg2

from core.errors import ConnectorError
from core.settings import SourceSettings
from core.source.catalog import PUBLICATION_COMMAND, published_tables
from core.source.tables import SOURCE_TABLES

log = logging.getLogger(__name__)


def added_tables(source: SourceSettings) -> list[str]:
    """The publication's tables beyond the shop's whose addition the source recorded, by name."""
    conn = None
    try:
        conn = psycopg2.connect(source.dsn, connect_timeout=10)
        with conn, conn.cursor() as cur:
            added = [table for table in published_tables(cur) if table not in SOURCE_TABLES]
            # Recorded, and still readable by the connector's role (the table may have been created again since).
            # A table gone has no regclass: has_table_privilege is strict, so NULL, and the row is left out.
            cur.execute("SELECT DISTINCT table_name FROM cdc_schema_changes WHERE command = %s"
                        " AND has_table_privilege('cdc_replication_reader',"
                        " to_regclass(format('public.%%I', table_name)), 'SELECT')",
                        (PUBLICATION_COMMAND,))
            recorded = {name for (name,) in cur.fetchall()}
    except psycopg2.Error as exc:
        raise ConnectorError(f"cannot read the publication's tables (PG_DSN): {exc}".strip()) from exc
    finally:
        if conn is not None:
            conn.close()
    for table in sorted(set(added) - recorded):
        log.warning("%s is in the publication but its addition was not recorded, or the connector's role "
                    "cdc_replication_reader cannot read it (was the event trigger of migration 0005 missing?): a new "
                    "snapshot does not read it. Remove it from the publication and add it again (README, Operations, "
                    "'Adding a table')", table)
    return [table for table in added if table in recorded]
