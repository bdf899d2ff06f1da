"""Migration 0003 against a real PostgreSQL: the event trigger writes each DDL's new table shape to
cdc_schema_changes, in the DDL's own transaction (the contract the consumer reads: the migration's header).

Each test gets a scratch database of its own, migrated (tests/support/scratch_source.py: the machine's
PostgreSQL as its superuser, or the test stack's).
"""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from core.settings import SourceSettings
from core.source.migrate import apply_migrations, install_schema_capture
from core.source.tables import SOURCE_TABLES
from tests.support.scratch_source import query, scratch_database

pytestmark = pytest.mark.integration

Definition = dict[str, Any]


@pytest.fixture
def source(pg_admin_dsn: str) -> Iterator[SourceSettings]:
    with scratch_database(pg_admin_dsn) as settings:
        yield settings


def column(attnum: int, name: str, type_: str, *, nullable: bool = False, default: str | None = None,
           missing: Any = None, identity: bool = False, generated: bool = False) -> dict[str, Any]:
    return {"attnum": attnum, "name": name, "type": type_, "nullable": nullable, "default": default,
            "has_missing": missing is not None, "missing": missing, "identity": identity, "generated": generated}


USERS_COLUMNS = [
    column(1, "user_id", "bigint", default="nextval('users_user_id_seq'::regclass)"),
    column(2, "first_name", "text"),
    column(3, "last_name", "text"),
    column(4, "email", "text"),
    column(5, "phone", "text", nullable=True),
    column(6, "registration_date", "timestamp with time zone", default="now()"),
    column(7, "loyalty_status", "text", default="'bronze'::text"),
]
USERS = {"table": "users", "columns": USERS_COLUMNS, "primary_key": ["user_id"]}
HEARTBEAT = {"table": "cdc_heartbeat", "primary_key": ["id"], "columns": [
    column(1, "id", "integer"), column(2, "ts", "timestamp with time zone")]}


def run(settings: SourceSettings, *statements: str, timezone: str = "America/New_York") -> None:
    """The statements in one transaction, in a session whose TimeZone is not UTC."""
    conn = psycopg2.connect(settings.dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SET TimeZone = %s", (timezone,))
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def captured(settings: SourceSettings, after: int = 0) -> list[tuple[str, str, Definition]]:
    """(table_name, command, definition) of the rows after id `after`, in id order; numbers as Decimal."""
    rows = query(settings, "SELECT table_name, command, definition::text FROM cdc_schema_changes WHERE id > %s "
                           "ORDER BY id", (after,))
    return [(table, command, _without_oid(json.loads(definition, parse_float=Decimal)))
            for table, command, definition in rows]


def _without_oid(definition: Definition) -> Definition:
    """The definition without the table's oid (a number of each database), checked to be one."""
    assert isinstance(definition.pop("oid"), int)
    return definition


def last_id(settings: SourceSettings) -> int:
    return int(query(settings, "SELECT coalesce(max(id), 0) FROM cdc_schema_changes")[0][0])


def with_user(settings: SourceSettings) -> int:
    """A user row (so that a fast default has rows to apply to); the id before the next DDL's row."""
    run(settings, "INSERT INTO users (first_name, last_name, email) VALUES ('Ada', 'Lovelace', 'ada@example.com')")
    return last_id(settings)


# --- baseline and wiring ----------------------------------------------------------------------------------

def test_the_history_starts_with_one_baseline_row_per_published_table(source: SourceSettings) -> None:
    rows = captured(source)

    assert [(table, command) for table, command, _ in rows] == [
        (table, "BASELINE") for table in (*SOURCE_TABLES, "cdc_heartbeat")]
    assert rows[0][2] == USERS
    assert rows[-1][2] == HEARTBEAT


def test_the_schema_changes_table_is_published_and_readable_by_the_replication_role(source: SourceSettings) -> None:
    published = query(source, "SELECT tablename FROM pg_publication_tables WHERE pubname = 'cdc_publication' "
                              "AND tablename = 'cdc_schema_changes'")
    readable = query(source, "SELECT has_table_privilege('cdc_replication_reader', 'cdc_schema_changes', 'SELECT')")

    assert (published, readable) == ([("cdc_schema_changes",)], [(True,)])


def test_the_event_triggers_fire_on_alter_table_create_table_and_alter_publication(source: SourceSettings) -> None:
    assert query(source, "SELECT evtname, evtevent, evttags FROM pg_event_trigger ORDER BY evtname") == [
        ("cdc_capture_publication_changes", "ddl_command_end", ["ALTER PUBLICATION"]),
        ("cdc_capture_schema_changes", "ddl_command_end", ["ALTER TABLE", "CREATE TABLE"])]


# --- tables added to the publication (migration 0005) -----------------------------------------------------

COUPONS = "CREATE TABLE coupons (coupon_id bigserial PRIMARY KEY, code text NOT NULL)"


def test_a_table_added_to_the_publication_is_recorded_granted_and_signalled_for_a_backfill(
        source: SourceSettings) -> None:
    run(source, COUPONS, "INSERT INTO coupons (code) VALUES ('A'), ('B')")
    before = last_id(source)
    run(source, "ALTER PUBLICATION cdc_publication ADD TABLE coupons")

    [(table, command, definition)] = captured(source, before)
    assert (table, command, [c["name"] for c in definition["columns"]]) == (
        "coupons", "ALTER PUBLICATION", ["coupon_id", "code"])
    assert query(source, "SELECT has_table_privilege('cdc_replication_reader', 'coupons', 'SELECT')") == [(True,)]
    [(signal_id, kind, data)] = query(source, "SELECT id, type, data FROM cdc_signals")
    assert signal_id.startswith("publication-") and kind == "execute-snapshot"
    assert json.loads(data) == {"data-collections": ["public.coupons"], "type": "incremental"}
    assert query(source, "SELECT code FROM coupons ORDER BY coupon_id") == [("A",), ("B",)]  # rewritten as it was


def test_a_table_added_to_another_publication_is_not_recorded(source: SourceSettings) -> None:
    run(source, COUPONS, "CREATE PUBLICATION elsewhere")
    before = last_id(source)
    run(source, "ALTER PUBLICATION elsewhere ADD TABLE coupons")

    assert (captured(source, before), query(source, "SELECT count(*) FROM cdc_signals")) == ([], [(0,)])


# --- each kind of DDL -------------------------------------------------------------------------------------

def test_add_column_nullable(source: SourceSettings) -> None:
    before = last_id(source)

    run(source, "ALTER TABLE users ADD COLUMN nickname text")

    assert captured(source, before) == [("users", "ALTER TABLE", {
        **USERS, "columns": [*USERS_COLUMNS, column(8, "nickname", "text", nullable=True)]})]


@pytest.mark.parametrize(("sql_type", "default", "type_", "default_expr", "missing"), [
    ("text", "'gold'", "text", "'gold'::text", "gold"),
    ("integer", "0", "integer", "0", 0),
    ("numeric(12,2)", "12.50", "numeric(12,2)", "12.50", Decimal("12.50")),
    ("date", "'2024-01-01'", "date", "'2024-01-01'::date", "2024-01-01"),
    ("timestamptz", "'2024-01-01 00:00:00+00'", "timestamp with time zone",
     "'2024-01-01 00:00:00+00'::timestamp with time zone", "2024-01-01T00:00:00+00:00"),
    ("boolean", "true", "boolean", "true", True),
], ids=["text", "integer", "numeric", "date", "timestamptz", "boolean"])
def test_add_column_with_a_constant_default_on_a_table_with_rows_records_the_missing_value(
        source: SourceSettings, sql_type: str, default: str, type_: str, default_expr: str, missing: Any) -> None:
    before = with_user(source)

    run(source, f"ALTER TABLE users ADD COLUMN added {sql_type} NOT NULL DEFAULT {default}")

    [(table, command, definition)] = captured(source, before)
    added = column(8, "added", type_, default=default_expr, missing=missing)
    assert (table, command, definition) == ("users", "ALTER TABLE", {**USERS, "columns": [*USERS_COLUMNS, added]})
    assert str(definition["columns"][-1]["missing"]) == str(missing)  # 12.50 keeps its scale


def test_add_column_with_a_volatile_default_has_no_missing_value(source: SourceSettings) -> None:
    before = with_user(source)

    run(source, "ALTER TABLE users ADD COLUMN score double precision DEFAULT random()")

    assert captured(source, before) == [("users", "ALTER TABLE", {**USERS, "columns": [
        *USERS_COLUMNS, column(8, "score", "double precision", nullable=True, default="random()")]})]


def test_an_added_identity_column_is_marked_identity(source: SourceSettings) -> None:
    before = with_user(source)

    run(source, "ALTER TABLE users ADD COLUMN rank bigint GENERATED BY DEFAULT AS IDENTITY")

    assert captured(source, before)[0][2]["columns"][-1] == column(8, "rank", "bigint", identity=True)


def test_a_stored_generated_column_is_marked_generated(source: SourceSettings) -> None:
    before = last_id(source)

    run(source, "ALTER TABLE users ADD COLUMN shout text GENERATED ALWAYS AS (upper(first_name)) STORED")

    assert captured(source, before)[0][2]["columns"][-1] == column(
        8, "shout", "text", nullable=True, default="upper(first_name)", generated=True)


def test_the_statement_of_the_ddl_is_recorded_with_it(source: SourceSettings) -> None:
    before = last_id(source)

    run(source, "ALTER TABLE users ALTER COLUMN phone TYPE varchar(40) USING left(phone, 40)")

    assert query(source, "SELECT statement FROM cdc_schema_changes WHERE id > %s", (before,)) == [
        ("ALTER TABLE users ALTER COLUMN phone TYPE varchar(40) USING left(phone, 40)",)]


def test_a_failure_to_record_warns_and_never_fails_the_ddl(source: SourceSettings) -> None:
    run(source, "REVOKE INSERT ON cdc_schema_changes FROM PUBLIC", "ALTER TABLE cdc_schema_changes RENAME TO gone")
    before = int(query(source, "SELECT coalesce(max(id), 0) FROM gone")[0][0])

    run(source, "ALTER TABLE users ADD COLUMN nickname text")

    assert query(source, "SELECT count(*) FROM gone WHERE id > %s", (before,)) == [(0,)]
    assert query(source, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'nickname'") == [(1,)]


def test_drop_column_keeps_the_other_columns_attnums(source: SourceSettings) -> None:
    before = last_id(source)

    run(source, "ALTER TABLE users DROP COLUMN phone")

    assert captured(source, before) == [("users", "ALTER TABLE", {
        **USERS, "columns": [c for c in USERS_COLUMNS if c["name"] != "phone"]})]


def test_rename_column_keeps_its_attnum(source: SourceSettings) -> None:
    before = last_id(source)

    run(source, "ALTER TABLE users RENAME COLUMN phone TO mobile")

    assert captured(source, before) == [("users", "ALTER TABLE", {**USERS, "columns": [
        {**c, "name": "mobile"} if c["name"] == "phone" else c for c in USERS_COLUMNS]})]


def test_alter_column_type_to_bigint(source: SourceSettings) -> None:
    before = last_id(source)

    run(source, "ALTER TABLE users ALTER COLUMN phone TYPE bigint USING phone::bigint")

    assert captured(source, before) == [("users", "ALTER TABLE", {**USERS, "columns": [
        {**c, "type": "bigint"} if c["name"] == "phone" else c for c in USERS_COLUMNS]})]


def test_create_table_in_public(source: SourceSettings) -> None:
    before = last_id(source)

    run(source, "CREATE TABLE coupons (code text PRIMARY KEY, percent_off numeric(5,2) NOT NULL DEFAULT 10)")

    assert captured(source, before) == [("coupons", "CREATE TABLE", {"table": "coupons", "primary_key": ["code"],
                                                                      "columns": [
        column(1, "code", "text"),
        column(2, "percent_off", "numeric(5,2)", default="10")]})]


def test_a_composite_primary_key_is_listed_in_key_order(source: SourceSettings) -> None:
    before = last_id(source)

    run(source, "CREATE TABLE pairs (a int, b int, PRIMARY KEY (b, a))")

    assert [definition["primary_key"] for _, _, definition in captured(source, before)] == [["b", "a"]]


# --- transactions ------------------------------------------------------------------------------------------

def test_ddl_and_dml_in_one_transaction_yield_one_row_per_ddl_in_that_transaction(source: SourceSettings) -> None:
    before = last_id(source)

    run(source,
        "ALTER TABLE users ADD COLUMN a text",
        "INSERT INTO users (first_name, last_name, email, a) VALUES ('Ada', 'Lovelace', 'ada@example.com', 'x')",
        "ALTER TABLE users ADD COLUMN b text",
        "ALTER TABLE orders ADD COLUMN c text")

    rows = captured(source, before)
    assert [(table, command, [c["name"] for c in d["columns"]][-2:]) for table, command, d in rows] == [
        ("users", "ALTER TABLE", ["loyalty_status", "a"]),
        ("users", "ALTER TABLE", ["a", "b"]),
        ("orders", "ALTER TABLE", ["delivery_date", "c"]),
    ]
    # Each row is written in a subtransaction of the DDL's (the trigger's error handler), so of its transaction:
    # committed with it (a rolled-back DDL leaves none, below).


def test_one_command_touching_a_table_twice_yields_one_row(source: SourceSettings) -> None:
    before = last_id(source)

    run(source, "ALTER TABLE users ADD COLUMN a text, ADD COLUMN b integer, ALTER COLUMN phone SET NOT NULL")

    assert [(table, len(d["columns"])) for table, _, d in captured(source, before)] == [("users", 9)]


def test_a_rolled_back_ddl_leaves_no_row(source: SourceSettings) -> None:
    before = last_id(source)
    conn = psycopg2.connect(source.dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("ALTER TABLE users ADD COLUMN a text")
        conn.rollback()
    finally:
        conn.close()

    assert captured(source, before) == []


# --- what is ignored ----------------------------------------------------------------------------------------

def test_the_trigger_ignores_cdc_schema_changes_and_schema_migrations(source: SourceSettings) -> None:
    before = last_id(source)

    run(source, "ALTER TABLE cdc_schema_changes ADD COLUMN note text",
        "ALTER TABLE schema_migrations ADD COLUMN note text")

    assert captured(source, before) == []


def test_the_trigger_ignores_tables_outside_public_and_relations_that_are_not_tables(source: SourceSettings) -> None:
    before = last_id(source)

    run(source, "CREATE SCHEMA elsewhere",
        "CREATE TABLE elsewhere.t (a int)",
        "ALTER TABLE elsewhere.t ADD COLUMN b int",
        "CREATE VIEW user_names AS SELECT first_name FROM users",
        "ALTER TABLE user_names RENAME COLUMN first_name TO name",
        "ALTER TABLE users_pkey RENAME TO users_pk",
        "ALTER TABLE users_user_id_seq RENAME TO users_id_seq")

    assert captured(source, before) == []


# --- installed by a non-superuser owner (docker compose) ---------------------------------------------------

@pytest.fixture
def app_owned(pg_admin_dsn: str) -> Iterator[tuple[SourceSettings, SourceSettings]]:
    """(as the owner, as the superuser) of a new database whose schema a non-superuser login owns, unmigrated,
    as compose's init-users.sh sets it up."""
    role, password = f"capture_app_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    admin = psycopg2.connect(pg_admin_dsn)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", (password,))
            cur.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cdc_replication_reader')"
                        " THEN CREATE ROLE cdc_replication_reader NOLOGIN; END IF; END $$")
        with scratch_database(pg_admin_dsn, migrate=False) as superuser:
            parts = urlsplit(superuser.dsn)
            run(superuser, f"GRANT ALL ON DATABASE {parts.path.lstrip('/')} TO {role}",
                f"ALTER SCHEMA public OWNER TO {role}")
            owner = SourceSettings(dsn=urlunsplit(parts._replace(
                netloc=f"{role}:{password}@{parts.hostname}:{parts.port or 5432}")))
            yield owner, superuser
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()


def test_a_non_superuser_migration_warns_and_creates_no_trigger(
        app_owned: tuple[SourceSettings, SourceSettings], caplog: pytest.LogCaptureFixture) -> None:
    owner, _ = app_owned

    with caplog.at_level(logging.WARNING, logger="core.source.migrate"):
        apply_migrations(owner)

    assert query(owner, "SELECT count(*) FROM pg_event_trigger") == [(0,)]
    # (0001 may warn too: a server with wal_level below logical says so when the publication is created.)
    warned = [r.getMessage() for r in caplog.records if r.getMessage().startswith("migration 0003_schema_capture:")]
    assert warned == [
        "migration 0003_schema_capture: WARNING:  source DDL is not captured: creating the event trigger needs a "
        f"superuser ({urlsplit(owner.dsn).username} is not one)\n"
        "HINT:  As a superuser, in this database, run: SELECT cdc_install_schema_capture();"]


def test_the_superuser_installs_the_trigger_once_and_ddl_by_anyone_is_captured_as_the_owner(
        app_owned: tuple[SourceSettings, SourceSettings]) -> None:
    owner, superuser = app_owned
    apply_migrations(owner)

    installed = [install_schema_capture(superuser.dsn), install_schema_capture(superuser.dsn)]
    before = last_id(owner)
    run(superuser, "ALTER TABLE users ADD COLUMN by_superuser text")
    run(owner, "ALTER TABLE users ADD COLUMN by_owner text")

    assert installed == [True, False]
    assert [(table, d["columns"][-1]["name"]) for table, _, d in captured(owner, before)] == [
        ("users", "by_superuser"), ("users", "by_owner")]
