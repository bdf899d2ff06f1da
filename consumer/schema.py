"""Source schema changes -> the replica: what one new source definition of a table does to its replica table.

The source's event trigger writes a table's complete definition
(core.source.catalog) into `cdc_schema_changes` in the same transaction as
each ALTER TABLE, so the consumer reads it in commit order, between the
transactions before and after the DDL. `evolve` compares it with the
definition the replica mirrors (by attribute number, so a rename is told from
a drop and an add) and gives either one ALTER TABLE for the replica or a
pause:

- ADD COLUMN: added with the replica's type. Rows that existed before get
  PostgreSQL's value for them (its "missing" value of a non-volatile default,
  or NULL) in the same ALTER, as the source does. A volatile default (the
  source rewrote every row with its own value, which the WAL does not carry)
  pauses the table.
- DROP COLUMN: dropped. RENAME COLUMN: renamed, values kept.
- Widening (smallint -> integer -> bigint, numeric(p,s) to one holding every
  value of it, a character type to another, NOT NULL -> NULL, and NULL ->
  NOT NULL, which the source enforced on its rows): the column's type changes.
- Anything else (narrowing, another type, a changed primary key, a source
  type the replica cannot hold exactly): the table pauses. Its changes are no
  longer applied, the other tables go on, and the reason is logged, counted in
  the metrics and shown by `cdc consume --stats`; nothing is dead-lettered.
  `cdc backfill TABLE` is the way out: at its signal the replica table is made
  anew from the source's latest definition and refilled (recreate).

Every ALTER also sets the table's comment to its version (the id of the
definition's row in `cdc_schema_changes`): an ALTER is one atomic DDL
statement, so after a crash the comment tells whether it was applied. The
version and definition each replica table mirrors are stored in
`cdc_replica_schemas`, in the MySQL transaction of the data that follows it.

Rows of an earlier shape still to be written (decoded before the change, or
in the DDL's own transaction before the DDL) are decoded again against the
new table, with `Earlier`: the names a column had, the columns dropped since,
and the value an added column has for a row from before it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from pymysql.converters import escape_item

from consumer.replica_schema import (
    Earlier,
    StoredSchema,
    TableSpec,
    UnsupportedType,
    column_sql,
    is_own_table,
    quoted,
    replica_column,
)
from consumer.types import Column, Kind, ValueConversionError
from core.marts_tables import is_marts_table
from core.source.catalog import CatalogColumn, CatalogTable, parse_definition

COMMENT_PREFIX = "cdc schema version "


@dataclass(frozen=True)
class TableSchema:
    """What the consumer knows of one replicated table."""

    version: int  # the id of the cdc_schema_changes row the replica table mirrors
    definition: CatalogTable  # the source's definition it mirrors
    spec: TableSpec  # the replica table (unchanged while paused)
    paused: str | None = None  # why the table's changes are not applied; None: replicating

    def stored(self) -> StoredSchema:
        return StoredSchema(self.spec.name, self.version, self.definition.to_json(), self.paused)

    @classmethod
    def from_stored(cls, stored: StoredSchema) -> TableSchema:
        definition = parse_definition(stored.definition)
        if stored.paused is not None:
            return cls(stored.version, definition, _paused_spec(definition), stored.paused)
        if is_own_table(definition.name):  # made by an earlier version, in place of the pipeline's table
            return cls(stored.version, definition, _paused_spec(definition), _pause_reason(
                definition.name, stored.version, f"{_own_name(definition.name)}; an earlier version made the replica "
                "table in its place (if that was a mart's, `cdc marts --rebuild` makes the marts anew)"))
        return cls(stored.version, definition, _replica_table(definition))

    @classmethod
    def first(cls, version: int, definition: CatalogTable) -> TableSchema:
        """A table seen for the first time: its replica mirrors `definition`, or it is paused if it cannot."""
        try:
            return cls(version, definition, _replica_table(definition))
        except UnsupportedType as exc:
            return cls(version, definition, TableSpec(definition.name, (), ()),  # never created
                       _pause_reason(definition.name, version, str(exc)))


@dataclass(frozen=True)
class Evolution:
    schema: TableSchema  # after the change
    alter: str | None  # the replica's ALTER TABLE; None when nothing changes in MySQL (or it pauses)
    # Columns made NOT NULL, after the data of the DDL's transaction is committed: rows it updates before the
    # DDL (UPDATE ... SET c = 'x' WHERE c IS NULL; ALTER ... SET NOT NULL) are still NULL when `alter` runs.
    tighten: str | None = None
    recreate: str | None = None  # a paused table made anew (recreate()): its CREATE TABLE, after a DROP


def evolve(current: TableSchema, version: int, new: CatalogTable, statement: str | None = None) -> Evolution:
    """The replica's answer to the source definition `new` (version: its cdc_schema_changes id; statement: the
    DDL's text, where a type change may have a USING expression)."""
    if version <= current.version:
        return Evolution(current, None)  # applied already
    if current.paused is not None:  # stays paused; the latest definition is the one a backfill recreates it with
        return Evolution(TableSchema(version, new, _paused_spec(new), current.paused), None)
    try:
        clauses, tightened, earlier = _changes(current, new, statement or "")
        spec = _replica_table(new)
    except _Incompatible as exc:
        return Evolution(TableSchema(version, new, _paused_spec(new), _pause_reason(new.name, version, str(exc))), None)
    spec = replace(spec, earlier=earlier)
    alter = tighten = None
    if clauses:
        clauses.append(f"COMMENT = '{COMMENT_PREFIX}{version}'")
        alter = f"ALTER TABLE {quoted(new.name)} " + ", ".join(clauses)
    if tightened:
        tighten = f"ALTER TABLE {quoted(new.name)} " + ", ".join(f"MODIFY COLUMN {column_sql(column)}"
                                                                  for column in tightened)
    return Evolution(TableSchema(version, new, spec), alter, tighten)


def recreate(current: TableSchema, signal: str) -> Evolution | None:
    """A paused table's backfill (`cdc backfill`, signal: its id) makes its replica table anew, empty, from the
    source's latest definition, at the signal's place in the stream: the live changes after it and the backfill's
    reads fill it exactly. None when the table is not paused (the backfill only rewrites rows) or its latest
    definition still has no replica table."""
    if current.paused is None:
        return None
    try:
        spec = _replica_table(current.definition)
    except UnsupportedType:
        return None
    ddl = spec.ddl(recreated_comment(current.version, signal))
    return Evolution(TableSchema(current.version, current.definition, spec), None, recreate=ddl)


def recreated_comment(version: int, signal: str) -> str:
    return f"{COMMENT_PREFIX}{version}, recreated by {signal}"


def published_comment(version: int) -> str:
    return f"{COMMENT_PREFIX}{version}, added to the publication"


def snapshotted_comment(version: int, adoption: str) -> str:
    """A table adopted from the connector's initial snapshot (`adoption`: an id of that decision). Not the
    version alone: a replica table left from before a new snapshot could carry the same version, and must be
    made anew."""
    return f"{COMMENT_PREFIX}{version}, read by the initial snapshot ({adoption})"


def applied_version(comment: str | None) -> int | None:
    """The version an ALTER (or a recreation) left in the table's comment (None: never altered)."""
    match = re.match(re.escape(COMMENT_PREFIX) + r"(\d+)", comment or "")
    return int(match[1]) if match else None


def _paused_spec(definition: CatalogTable) -> TableSpec:
    """A paused table's replica table as it stands (none, when it paused before its first definition)."""
    try:
        return _replica_table(definition)
    except UnsupportedType:
        return TableSpec(definition.name, (), ())


class _Incompatible(Exception):
    pass


def _replica_table(definition: CatalogTable) -> TableSpec:
    if is_own_table(definition.name):
        raise UnsupportedType(f"{_own_name(definition.name)}, which its replica table would replace, so it has none "
                              "(to replicate it: remove it from the publication, rename it in the source, add it "
                              "under its new name)")
    if not definition.key:
        raise UnsupportedType("the table has no primary key (the replica upserts and deletes by key)")
    return TableSpec(definition.name, tuple(replica_column(column) for column in definition.columns), definition.key)


def _own_name(table: str) -> str:
    whose = "the marts'" if is_marts_table(table) else "the replica's"
    return f"its name is that of the pipeline's own MySQL table {table} ({whose})"


def _pause_reason(table: str, version: int, why: str) -> str:
    return (f"table {table} paused at source schema change {version}: {why}. Its changes are not applied from "
            f"there on; the other tables go on. Way out: README, Operations, 'A paused table'")


def _changes(current: TableSchema, new: CatalogTable, statement: str
             ) -> tuple[list[str], list[Column], Earlier]:
    """The ALTER TABLE clauses from the current definition to `new` (none makes a column NOT NULL), the columns to
    make NOT NULL after, and how rows of the current shape map onto the new one; or _Incompatible."""
    old = current.definition
    if old.oid is not None and new.oid is not None and old.oid != new.oid:
        raise _Incompatible("the table was dropped and created again: its rows since are not the old table's")
    if [_attnum(old, name) for name in old.key] != [_attnum(new, name) for name in new.key] or old.key != new.key:
        raise _Incompatible(f"the primary key changed from ({', '.join(old.key)}) to ({', '.join(new.key)})")
    clauses = [f"DROP COLUMN {quoted(column.name)}" for column in old.columns if new.column(column.attnum) is None]
    tightened: list[Column] = []
    sources: dict[str, str | None] = {}
    filled: dict[str, Any] = {}
    for column in new.columns:
        before = old.column(column.attnum)
        sources[column.name] = before.name if before else None
        replica = _replica(column)
        if before is None:
            clauses.append(_add_clause(replica, column, filled, tightened))
            continue
        _check_widening(before, column, statement)
        loose = replace(replica, nullable=replica.nullable or before.nullable)
        if (before.name, _replica(before).sql_type, before.nullable) != (column.name, loose.sql_type, loose.nullable):
            clauses.append(f"CHANGE COLUMN {quoted(before.name)} {column_sql(loose)}")
        if loose.nullable and not replica.nullable:
            tightened.append(replica)
    return clauses, tightened, Earlier(MappingProxyType(sources), MappingProxyType(filled))


def _attnum(table: CatalogTable, name: str) -> int:
    return next(column.attnum for column in table.columns if column.name == name)


def _replica(column: CatalogColumn) -> Column:
    try:
        return replica_column(column)
    except UnsupportedType as exc:
        raise _Incompatible(str(exc)) from None


def _add_clause(replica: Column, column: CatalogColumn, filled: dict[str, Any], tightened: list[Column]) -> str:
    if column.identity:
        raise _Incompatible(f"added identity column {column.name}: the source gave every existing row its own "
                            "value, which the WAL does not carry")
    if column.has_missing:
        try:
            value = replica.from_catalog_json(column.missing)
        except ValueConversionError as exc:
            raise _Incompatible(f"added column {column.name}: its value for existing rows {exc}") from None
    elif column.default is not None:
        raise _Incompatible(f"added column {column.name} has a volatile default ({column.default}): the source "
                            "gave every existing row its own value, which the WAL does not carry")
    else:
        value = None
    filled[column.name] = value
    if value is not None:
        return f"ADD COLUMN {column_sql(replica)} DEFAULT {_literal(value)}"
    if not replica.nullable:
        tightened.append(replica)  # rows the source deleted in the DDL's transaction before it are still here
    return f"ADD COLUMN {column_sql(replace(replica, nullable=True))}"


def _literal(value: Any) -> str:
    """A MySQL literal of a converted value, parenthesised: MySQL 8 takes a default on a TEXT column only as an
    expression."""
    return f"({escape_item(value, 'utf8mb4')})"


_USING = re.compile(r"\bUSING\b", re.IGNORECASE)
_BLANK_PADDED = re.compile(r"^character(\(\d+\))?$")
_INTEGER_WIDTH = {Kind.SMALLINT: 2, Kind.INT: 4, Kind.BIGINT: 8}
_DECIMAL = re.compile(r"DECIMAL\((\d+),(\d+)\)")


def _check_widening(before: CatalogColumn, after: CatalogColumn, statement: str) -> None:
    old, new = _replica(before), _replica(after)
    if before.pg_type != after.pg_type:
        if _USING.search(statement):
            raise _Incompatible(f"column {after.name}: {before.pg_type} -> {after.pg_type} with a USING expression, "
                                "which may have changed every value")
        if _BLANK_PADDED.match(before.pg_type) or _BLANK_PADDED.match(after.pg_type):
            raise _Incompatible(f"column {after.name}: {before.pg_type} -> {after.pg_type} changes the values' "
                                "trailing blanks")
    if old.sql_type == new.sql_type:
        return
    old_width, new_width = _INTEGER_WIDTH.get(old.kind), _INTEGER_WIDTH.get(new.kind)
    if old_width and new_width and new_width >= old_width:
        return
    old_decimal, new_decimal = _DECIMAL.fullmatch(old.sql_type), _DECIMAL.fullmatch(new.sql_type)
    if old_decimal and new_decimal:
        (p, s), (p2, s2) = map(int, old_decimal.groups()), map(int, new_decimal.groups())
        if s2 >= s and p2 - s2 >= p - s:
            return
    raise _Incompatible(f"column {after.name}: {before.pg_type} -> {after.pg_type} is not a widening the "
                        "replica can follow")
