"""The SQL the sink sends: portable to MySQL 8 and MariaDB, batched by PyMySQL, exact DDL."""
from __future__ import annotations

import pymysql.cursors
import pytest

from consumer.replica_schema import REPLICA_TABLES
from consumer.sink import delete_sql, is_retryable, truncate_sql, upsert_sql


@pytest.mark.parametrize("table", sorted(REPLICA_TABLES))
def test_upsert_is_batched_into_one_multi_row_insert_by_pymysql(table: str) -> None:
    sql = upsert_sql(REPLICA_TABLES[table])
    assert pymysql.cursors.RE_INSERT_VALUES.match(sql), sql
    assert " AS new" not in sql and "=VALUES(" in sql


def test_upsert_updates_every_non_key_column() -> None:
    assert upsert_sql(REPLICA_TABLES["product_categories"]) == (
        "INSERT INTO `product_categories` (`category_id`, `name`, `parent_category_id`) VALUES (%s, %s, %s) "
        "ON DUPLICATE KEY UPDATE `name`=VALUES(`name`), `parent_category_id`=VALUES(`parent_category_id`)"
    )


def test_delete_and_truncate() -> None:
    orders = REPLICA_TABLES["orders"]
    assert delete_sql(orders, 3) == "DELETE FROM `orders` WHERE `order_id` IN (%s, %s, %s)"
    assert truncate_sql(orders) == "DELETE FROM `orders`"


def test_ddl_has_exact_types_and_no_foreign_keys() -> None:
    ddl = REPLICA_TABLES["orders"].ddl()
    for fragment in ("`order_id` BIGINT NOT NULL", "`order_date` DATETIME(6) NOT NULL",
                     "`total_amount` DECIMAL(12,2) NOT NULL", "`status` LONGTEXT NOT NULL",
                     "`delivery_date` DATE NULL", "PRIMARY KEY (`order_id`)", "utf8mb4"):
        assert fragment in ddl
    assert all("FOREIGN KEY" not in spec.ddl() and "UNIQUE" not in spec.ddl() for spec in REPLICA_TABLES.values())


@pytest.mark.parametrize(("error", "retry"), [
    (pymysql.err.OperationalError(2003, "Can't connect"), True),
    (pymysql.err.OperationalError(2013, "Lost connection"), True),
    (pymysql.err.OperationalError(1213, "Deadlock"), True),
    (pymysql.err.InterfaceError(0, ""), True),
    (pymysql.err.DataError(1264, "Out of range value"), False),
    (pymysql.err.DataError(1406, "Data too long"), False),
    (pymysql.err.OperationalError(1292, "Incorrect datetime value"), False),
])
def test_retryable_errors_are_told_apart_from_refused_values(error: Exception, retry: bool) -> None:
    assert is_retryable(error) is retry
