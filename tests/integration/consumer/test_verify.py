"""The replica comparison of `cdc verify` when a read fails: an error `--wait` reads again after, never a crash."""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest

from consumer.errors import ConsumerError
from consumer.replica_schema import SCHEMAS_DDL
from consumer.verify import replica_reports
from core.mysql import close_quietly, connect
from core.settings import MySqlSettings, SourceSettings
from tests.support.scratch_source import query, scratch_database

pytestmark = pytest.mark.integration


def replica_sql(env: dict[str, str], statement: str) -> None:
    conn = connect(MySqlSettings.from_env(env))
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
        conn.commit()
    finally:
        close_quietly(conn)


def wait_until_blocked_on_a_lock(source: SourceSettings, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not query(source, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database()"
                            " AND wait_event_type = 'Lock'"):
        assert time.monotonic() < deadline, "the comparison never reached the locked source table"
        time.sleep(0.05)


def test_a_replica_table_created_after_the_comparisons_snapshot_began_is_a_read_failure_to_retry(
        pg_admin_dsn: str, replica: dict[str, str]) -> None:
    # MariaDB refuses to read a table created after a transaction's snapshot began (error 1412). The comparison
    # opens its snapshot reading the consumer's schema records, then reads the source table (held here by a
    # lock) and only then the replica table, which the "consumer" creates meanwhile.
    table = f"verify_{uuid.uuid4().hex[:8]}"
    replica_sql(replica, SCHEMAS_DDL)
    with scratch_database(pg_admin_dsn) as source:
        query(source, f"CREATE TABLE {table} (id bigint PRIMARY KEY, code text)")
        holder = psycopg2.connect(source.dsn)
        try:
            with holder.cursor() as cur:
                cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            with ThreadPoolExecutor(1) as pool:
                comparison = pool.submit(replica_reports, source, MySqlSettings.from_env(replica), [table])
                try:
                    wait_until_blocked_on_a_lock(source)
                    replica_sql(replica, f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, code TEXT) ENGINE=InnoDB")
                finally:
                    holder.rollback()  # the comparison goes on (else the pool's exit would wait for it forever)
                with pytest.raises(ConsumerError, match="Table definition has changed"):
                    comparison.result(timeout=30)
        finally:
            holder.close()
