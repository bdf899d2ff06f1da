"""The Faust marts worker: incrementally maintained analytic tables in MySQL.

user_activity and sales_by_category (marts.definitions) are kept equal to
their defining SQL over the source, one change event at a time:

- marts.events decodes Debezium events into frozen dataclasses;
- marts.definitions states each mart once: columns, defining SQL on the
  source, the same query on the state (schema, verifier and bench use it);
- marts.tables describes the narrow per-source-table state kept in MySQL,
  with a named row type per state table;
- marts.contributions holds the pure delta logic (before/after group
  contributions -> deltas, merged per batch);
- marts.store applies a batch in ONE MySQL transaction (marts.batch): state
  changes, mart deltas and the last applied offset per (topic, partition),
  so replays are skipped (exactly-once effect without Kafka transactions);
  SERIALIZABLE isolation makes concurrent workers safe; deadlocks and
  outages are retried (core.mysql);
- marts.app is the Faust transport (consumer group, scale-out, batching);
- marts.verify compares the marts with the definitions on PostgreSQL;
- marts.cli is `cdc marts`.

Known limit: a truncate event carries no key, so Debezium puts it on one
partition of the table's topic; it deletes the state rows present when it is
applied, which may be before or after row events of the other partitions
that preceded it in the source. It is applied and logged, not dead-lettered.
"""
