"""The tables added to the publication since the migrations (README, Operations, "Adding a table").

The connector's initial snapshot reads them with the shop's tables: a new snapshot (a connector without a
position: a new broker, a lost slot) then brings their rows too, and the consumer makes their replica tables
from it. The list is read at each `apply`, so it is the publication's when the connector was last applied.
"""
from __future__ import annotations

import psycopg2

from core.errors import ConnectorError
from core.settings import SourceSettings
from core.source.catalog import published_tables
from core.source.tables import SOURCE_TABLES


def added_tables(source: SourceSettings) -> list[str]:
    """The publication's tables beyond the shop's, by name."""
    conn = None
    try:
        conn = psycopg2.connect(source.dsn, connect_timeout=10)
        with conn, conn.cursor() as cur:
            return [table for table in published_tables(cur) if table not in SOURCE_TABLES]
    except psycopg2.Error as exc:
        raise ConnectorError(f"cannot read the publication's tables (PG_DSN): {exc}".strip()) from exc
    finally:
        if conn is not None:
            conn.close()
