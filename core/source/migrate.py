"""Apply the source schema: each migration file once, in order, in one transaction each."""
from __future__ import annotations

import logging
from importlib import resources

import psycopg2

from core.errors import SchemaError
from core.settings import SourceSettings

log = logging.getLogger(__name__)

# A superuser's DSN for what PG_DSN's user may not do: creating the DDL capture's event trigger (compose).
SUPERUSER_DSN_VARIABLE = "PG_SUPERUSER_DSN"

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
                _log_warnings(conn, version)
                cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied_now.append(version)
    except psycopg2.Error as exc:
        raise SchemaError(f"applying the source schema failed: {exc}".strip()) from exc
    finally:
        conn.close()
    return applied_now


def _log_warnings(conn: psycopg2.extensions.connection, version: str) -> None:
    """The WARNINGs a migration raised (e.g. 0003 run by a non-superuser: DDL capture not installed), logged."""
    for notice in conn.notices:
        if notice.startswith("WARNING"):
            log.warning("migration %s: %s", version, notice.strip())
    conn.notices.clear()


def install_schema_capture(superuser_dsn: str) -> bool:
    """Create the event trigger that captures source DDL (migration 0003's cdc_install_schema_capture()),
    connected as a superuser: CREATE EVENT TRIGGER needs one. True when created now, False when it existed."""
    try:
        conn = psycopg2.connect(superuser_dsn)
    except psycopg2.Error as exc:
        raise SchemaError(f"cannot connect to PostgreSQL as the superuser (PG_SUPERUSER_DSN): {exc}".strip()) from exc
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            row = cur.fetchone()
            if not (row and row[0]):
                raise SchemaError("PG_SUPERUSER_DSN does not connect as a superuser: "
                                  "the DDL capture's event trigger cannot be created")
            cur.execute("SELECT public.cdc_install_schema_capture()")
            created = cur.fetchone()
            return bool(created and created[0])
    except psycopg2.Error as exc:
        raise SchemaError(f"installing the DDL capture failed: {exc}".strip()) from exc
    finally:
        conn.close()
