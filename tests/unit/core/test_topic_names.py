"""Topic names: Debezium's per table, and each stage's dead-letter topic, all under the topic prefix."""
from __future__ import annotations

from core.topic_names import (
    SCHEMA_CHANGES_TABLE,
    consumer_deadletter_topic,
    marts_deadletter_topic,
    schema_changes_topic,
    source_topic_tables,
    source_topics,
    table_topic,
    topic_table,
)


def test_a_source_table_topic_is_prefix_schema_table() -> None:
    assert table_topic("acme", "orders") == "acme.public.orders"


def test_a_table_topics_table_is_read_back_and_another_topic_has_none() -> None:
    assert (topic_table("acme", "acme.public.coupons"), topic_table("acme", "acme.transaction")) == ("coupons", None)


def test_the_source_topics_are_the_five_tables_in_the_catalogs_order() -> None:
    assert source_topics("shop") == ["shop.public.users", "shop.public.product_categories", "shop.public.products",
                                     "shop.public.orders", "shop.public.order_details"]
    assert list(source_topic_tables("shop").items())[3] == ("shop.public.orders", "orders")


def test_each_stage_has_its_own_dead_letter_topic() -> None:
    assert (consumer_deadletter_topic("shop"), marts_deadletter_topic("shop")) == ("shop.deadletter",
                                                                                  "shop.marts.deadletter")


def test_the_schema_changes_topic_is_the_tables_topic() -> None:
    assert (SCHEMA_CHANGES_TABLE, schema_changes_topic("acme")) == ("cdc_schema_changes",
                                                                    "acme.public.cdc_schema_changes")

