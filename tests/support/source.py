"""Changes made directly in the stack's shared source database."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg2

T = TypeVar("T")


def insert_user(env: dict[str, str]) -> str:
    """One new user in the source (PG_DSN): a change for the consumer and the marts to apply; its email."""
    email = f"new-user-{uuid.uuid4().hex}@example.com"
    pg = psycopg2.connect(env["PG_DSN"])
    with pg, pg.cursor() as cur:
        cur.execute("INSERT INTO users (first_name, last_name, email) VALUES ('Re', 'Balance', %s)", (email,))
    pg.close()
    return email


def in_source_transaction(env: dict[str, str], write: Callable[[Any], T]) -> T:
    """`write(cursor)` in one source transaction; its result."""
    conn = psycopg2.connect(env["PG_DSN"])
    try:
        with conn, conn.cursor() as cur:
            return write(cur)
    finally:
        conn.close()
