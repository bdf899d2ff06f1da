"""The SQL the sink sends: portable to MySQL 8 and MariaDB, batched by PyMySQL, exact DDL."""
from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pymysql.connections
import pymysql.cursors
import pytest

from consumer import sink
from consumer.replica_schema import REPLICA_TABLES
from consumer.sink import RowRenderer, delete_sql, upsert_sql
from consumer.truncations import truncate_sql


@pytest.mark.parametrize("table", sorted(REPLICA_TABLES))
def test_upsert_is_batched_into_one_multi_row_insert_by_pymysql(table: str) -> None:
    sql = upsert_sql(REPLICA_TABLES[table])
    assert pymysql.cursors.RE_INSERT_VALUES.match(sql), sql
    assert " AS new" not in sql and "=VALUES(" in sql


def test_upsert_updates_every_non_key_column_and_the_position() -> None:
    assert upsert_sql(REPLICA_TABLES["product_categories"]) == (
        "INSERT INTO `product_categories` (`category_id`, `name`, `parent_category_id`, `_cdc_lsn`) "
        "VALUES (%s, %s, %s, %s) "
        "ON DUPLICATE KEY UPDATE `name`=VALUES(`name`), `parent_category_id`=VALUES(`parent_category_id`), "
        "`_cdc_lsn`=VALUES(`_cdc_lsn`)"
    )


def test_delete_and_truncate() -> None:
    orders = REPLICA_TABLES["orders"]
    assert delete_sql(orders, 3) == "DELETE FROM `orders` WHERE `order_id` IN (%s, %s, %s)"
    assert truncate_sql(orders) == "DELETE FROM `orders` WHERE `_cdc_lsn` < %s OR `_cdc_lsn` IS NULL"


def test_ddl_has_exact_types_and_no_foreign_keys() -> None:
    ddl = REPLICA_TABLES["orders"].ddl()
    for fragment in ("`order_id` BIGINT NOT NULL", "`order_date` DATETIME(6) NOT NULL",
                     "`total_amount` DECIMAL(12,2) NOT NULL", "`status` LONGTEXT NOT NULL",
                     "`delivery_date` DATE NULL", "`_cdc_lsn` BIGINT NULL", "PRIMARY KEY (`order_id`)", "utf8mb4"):
        assert fragment in ddl
    assert all("FOREIGN KEY" not in spec.ddl() and "UNIQUE" not in spec.ddl() for spec in REPLICA_TABLES.values())


def offline_connection() -> pymysql.connections.Connection:
    conn = pymysql.connections.Connection(defer_connect=True, charset="utf8mb4")
    conn.server_status = 0  # set by the server's handshake: backslash escapes on
    return conn


def test_rows_render_exactly_as_pymysql_escapes_them() -> None:
    conn = offline_connection()
    row = (1, -5, 9223372036854775807, Decimal("0.0000000"), Decimal("-12.50"),
           "Zoë 🚀 'q' \"d\" \\ \x00 \n \r \x1a %s %%", "", None, datetime(2024, 3, 30, 23, 30, 0, 123456),
           datetime(2024, 3, 30, 23, 30), datetime(1000, 1, 1, 0, 0, 0, 5), date(1000, 1, 1), date(9999, 12, 31),
           True, 1.5, b"x", datetime(2024, 1, 1, tzinfo=UTC))
    assert RowRenderer(conn.escape).row(row) == conn.escape(row)


def test_upserts_are_split_into_statements_of_bounded_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sink, "MAX_STATEMENT", 100)
    spec = REPLICA_TABLES["product_categories"]
    rows = [(key, "x" * 30, None, 7) for key in range(10)] + [(99, "y" * 500, 1, 8)]
    statements = list(RowRenderer(offline_connection().escape).upserts(spec, rows))
    assert len(statements) > 2
    assert all(statement.startswith("INSERT INTO `product_categories` (`category_id`, `name`, `parent_category_id`, "
                                    "`_cdc_lsn`) VALUES (") for statement in statements)
    assert all(statement.endswith("ON DUPLICATE KEY UPDATE `name`=VALUES(`name`), "
                                  "`parent_category_id`=VALUES(`parent_category_id`), `_cdc_lsn`=VALUES(`_cdc_lsn`)")
               for statement in statements)
    assert "".join(statements).count("),(") + len(statements) == len(rows)
    assert statements[-1].count("y" * 500) == 1  # a row longer than the limit still goes, alone
