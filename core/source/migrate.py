"""Apply the source schema: each migration file once, in order, in one transaction each."""
from __future__ import annotations

import logging
from importlib import resources

import psycopg2

from core.errors import SchemaError
from core.settings import SourceSettings

log = logging.getLogger(__name__)

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text        PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) for every migration shipped with the package, in order."""
    folder = resources.files("core.source") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


def apply_migrations(settings: SourceSettings) -> list[str]:
    """Apply the migrations not yet recorded; return the versions applied now."""
    applied_now: list[str] = []
    try:
        conn = psycopg2.connect(settings.dsn)
    except psycopg2.Error as exc:
        raise SchemaError(f"cannot connect to PostgreSQL (PG_DSN): {exc}".strip()) from exc
    try:
        with conn, conn.cursor() as cur:
            # One migrator at a time (compose may start several services at once).
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('cdc.schema_migrations'))")
            cur.execute(_LEDGER)
            cur.execute("SELECT version FROM schema_migrations")
            done = {row[0] for row in cur.fetchall()}
            for version, sql in migration_files():
                if version in done:
                    continue
                log.info("applying migration %s", version)
                cur.execute(sql)
                cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied_now.append(version)
    except psycopg2.Error as exc:
        raise SchemaError(f"applying the source schema failed: {exc}".strip()) from exc
    finally:
        conn.close()
    return applied_now
