"""Which added tables the connector's initial snapshot reads (connectors.publication), on a real source."""
from __future__ import annotations

import pytest

from connectors.publication import added_tables
from tests.support.scratch_source import query, scratch_database

pytestmark = pytest.mark.integration


def test_the_snapshot_reads_the_added_tables_whose_addition_the_source_recorded(pg_admin_dsn: str) -> None:
    with scratch_database(pg_admin_dsn) as source:
        for table in ("coupons", "gifts", "drafts"):
            query(source, f"CREATE TABLE {table} (id bigint PRIMARY KEY)")
        query(source, "ALTER PUBLICATION cdc_publication ADD TABLE coupons, drafts")
        query(source, "REVOKE SELECT ON drafts FROM cdc_replication_reader")  # the connector could not read it
        query(source, "ALTER EVENT TRIGGER cdc_capture_publication_changes DISABLE")
        query(source, "ALTER PUBLICATION cdc_publication ADD TABLE gifts")  # not recorded: no definition, no grant

        assert added_tables(source) == ["coupons"]
