"""Changes made directly in the stack's shared source database."""
from __future__ import annotations

import uuid

import psycopg2


def insert_user(env: dict[str, str]) -> None:
    """One new user in the source (PG_DSN): a change for the consumer and the marts to apply."""
    pg = psycopg2.connect(env["PG_DSN"])
    with pg, pg.cursor() as cur:
        cur.execute("INSERT INTO users (first_name, last_name, email) VALUES ('Re', 'Balance', %s)",
                    (f"rebalance-{uuid.uuid4().hex}@example.com",))
    pg.close()
