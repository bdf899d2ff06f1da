"""The marts paused by a source schema change they cannot follow (marts.source_fit), kept in MySQL.

The pause is written in the transaction of the marts' last batch before the
offending source transaction (marts.apply.batch), with the positions and the
watermark of that batch: the marts stay a prefix of the source's commits,
and a restarted worker reads the pause back and applies nothing either.
`cdc marts --rebuild` drops the table with the marts (marts.generations).

Why the worker stays up, idle, instead of exiting: an exit would be a crash
loop under any supervisor that restarts workers (compose's restart policy,
an operator's systemd unit), each start saying the same thing; running, it
keeps its metrics endpoint (cdc_marts_paused, `cdc top`) and its heartbeat
(`cdc health marts` says why it is unhealthy), and logs the reason once per
start.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marts.schema import PAUSE

WAY_OUT = ("the way out (README, When the marts pause): for a type change, give the state column a type that "
           "holds the new one (marts/state_tables.py), stop the worker, `cdc marts --rebuild`, start it; for a "
           "renamed or dropped column, or a change reverted on the source, the same rebuild from a new snapshot "
           "(a new connector and TOPIC_PREFIX)")


@dataclass(frozen=True)
class Pause:
    table: str  # the first column at fault's
    column: str
    what: str  # every column at fault and its change
    version: int  # the cdc_schema_changes row
    xid: int  # the DDL's source transaction: neither it nor anything after it is applied
    commit_lsn: int
    statement: str | None = None

    def message(self) -> str:
        """The one log line (and the heartbeat's reason)."""
        ddl = f" ({' '.join(self.statement.split())[:200]})" if self.statement else ""
        return (f"marts paused at source schema change {self.version}{ddl}, source transaction {self.xid} "
                f"(commit lsn {self.commit_lsn}): {self.what}; the marts stay as of the source transaction "
                f"before it; {WAY_OUT}")


def write(cur: Any, pause: Pause) -> None:
    cur.execute(f"INSERT INTO {PAUSE} (id, source_table, source_column, what, schema_version, source_txid,"
                " source_lsn, statement, paused_at) VALUES (1, %s, %s, %s, %s, %s, %s, %s, UTC_TIMESTAMP(6))",
                (pause.table, pause.column, pause.what, pause.version, pause.xid, pause.commit_lsn, pause.statement))


def read(cur: Any) -> Pause | None:
    cur.execute(f"SELECT source_table, source_column, what, schema_version, source_txid, source_lsn, statement"
                f" FROM {PAUSE} WHERE id = 1")
    row = cur.fetchone()
    return None if row is None else Pause(*row)
