"""A simulated shop source for the marts' tests, without PostgreSQL or Kafka.

It applies random shop changes and records the Debezium change events each
produces, per (topic, partition) in order (a row's events stay in its key's
partition, as with Debezium); `shuffled_delivery` then interleaves the
partitions at random, with replays, as a consumer may see them.
"""
from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from marts import reference
from marts.events import Event, Position, RowChange, Truncate

PARTITIONS = 4
STATUSES = ("pending", "paid", "shipped", "completed", "cancelled")


class Source:
    """A tiny shop database that records its change events per (table, partition)."""

    def __init__(self, rand: random.Random) -> None:
        self.rand = rand
        self.rows: dict[str, dict[int, tuple[Any, ...]]] = {
            t: {} for t in ("users", "product_categories", "products", "orders", "order_details")
        }
        self.log: dict[tuple[str, int], list[Event]] = {}
        self.next_id = 1

    def put(self, table: str, row: tuple[Any, ...] | None, key: int | None = None) -> None:
        key = row[0] if row is not None else key
        assert key is not None
        if row is None:
            self.rows[table].pop(key)
        else:
            self.rows[table][key] = row
        self.emit(table, key % PARTITIONS, RowChange(table, key, row))

    def emit(self, table: str, partition: int, change: RowChange | Truncate | None) -> None:
        events = self.log.setdefault((table, partition), [])
        events.append(Event(Position(f"shop.public.{table}", partition, len(events)), change))

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def pick(self, table: str) -> tuple[Any, ...] | None:
        rows = self.rows[table]
        return rows[self.rand.choice(list(rows))] if rows else None

    def money(self) -> Decimal:
        return Decimal(self.rand.randint(1, 100_000)) / 100

    # --- the kinds of change -------------------------------------------------------

    def new_user(self) -> None:
        self.put("users", (self.new_id(), f"First{self.rand.randint(1, 9)}", f"Last{self.rand.randint(1, 9)}"))

    def new_category(self) -> None:
        self.put("product_categories", (self.new_id(), f"Cat {self.rand.randint(1, 99)} 🚀"))

    def new_product(self) -> None:
        category = self.pick("product_categories")
        if category:
            self.put("products", (self.new_id(), category[0]))

    def new_order(self) -> None:
        user, lines = self.pick("users"), []
        if not user or not self.rows["products"]:
            return
        order_id = self.new_id()
        for _ in range(self.rand.randint(1, 4)):
            product = self.pick("products")
            assert product is not None  # there are products: checked above
            lines.append((self.new_id(), order_id, product[0], self.rand.randint(1, 5), self.money()))
        self.put("orders", (order_id, user[0], "pending", sum((line[4] for line in lines), Decimal(0))))
        for line in lines:
            self.put("order_details", line)

    def change_status(self) -> None:
        order = self.pick("orders")
        if order:
            self.put("orders", order[:2] + (self.rand.choice(STATUSES),) + order[3:])

    def edit_amount(self) -> None:
        order = self.pick("orders")
        if order:
            self.put("orders", order[:3] + (self.money(),))

    def edit_quantity(self) -> None:
        line = self.pick("order_details")
        if line:
            self.put("order_details", line[:3] + (self.rand.randint(1, 9), self.money()))

    def delete_line(self) -> None:
        line = self.pick("order_details")
        if line:
            self.put("order_details", None, line[0])

    def delete_order(self) -> None:
        order = self.pick("orders")
        if order:
            for line in [row for row in self.rows["order_details"].values() if row[1] == order[0]]:
                self.put("order_details", None, line[0])
            self.put("orders", None, order[0])

    def move_product(self) -> None:
        product, category = self.pick("products"), self.pick("product_categories")
        if product and category:
            self.put("products", (product[0], category[0]))

    def rename_user(self) -> None:
        user = self.pick("users")
        if user:
            self.put("users", (user[0], user[1], f"Renamed{self.rand.randint(1, 99)}"))

    def rename_category(self) -> None:
        category = self.pick("product_categories")
        if category:
            self.put("product_categories", (category[0], f"Renamed {self.rand.randint(1, 99)}"))

    def tombstone(self) -> None:
        self.emit("order_details", self.rand.randrange(PARTITIONS), None)

    KINDS = ("new_user", "new_category", "new_product", "new_order", "new_order", "new_order", "change_status",
             "change_status", "edit_amount", "edit_quantity", "delete_line", "delete_order", "move_product",
             "rename_user", "rename_category", "tombstone")

    def run(self, steps: int) -> None:
        for _ in range(3):
            self.new_user()
            self.new_category()
            self.new_product()
        for _ in range(steps):
            getattr(self, self.rand.choice(self.KINDS))()
        for _ in range(5):  # last, so that no later change of the same rows hides a missed relabel
            self.rename_user()
            self.rename_category()

    def expected(self) -> dict[str, list[tuple[Any, ...]]]:
        r = self.rows
        return {
            "user_activity": reference.user_activity(r["users"], r["orders"]),
            "sales_by_category": reference.sales_by_category(
                r["product_categories"], r["products"], r["orders"], r["order_details"]),
        }


def shuffled_delivery(log: dict[tuple[str, int], list[Event]], rand: random.Random,
                      replay_share: float = 0.1) -> list[Event]:
    """All events, each partition in order, partitions interleaved at random; some ranges delivered twice."""
    cursors = {tp: 0 for tp in log}
    out: list[Event] = []
    while cursors:
        tp = rand.choice(sorted(cursors))
        start = cursors[tp]
        end = min(len(log[tp]), start + rand.randint(1, 8))
        out.extend(log[tp][start:end])
        if start and rand.random() < replay_share:  # a replay from an earlier offset
            out.extend(log[tp][rand.randrange(start):end])
        cursors[tp] = end
        if end == len(log[tp]):
            del cursors[tp]
    return out
