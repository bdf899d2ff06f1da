"""The Faust marts worker: incrementally maintained analytic tables in MySQL.

user_activity and sales_by_category are kept equal to their defining SQL
over the source, one change event at a time. The modules:

- the Faust side: marts.app (consumer group, scale-out, batches handed to
  the write path on one thread) and marts.transport (reading resumes at the
  offsets stored in MySQL);
- decoding: marts.events (Debezium events -> frozen dataclasses);
- definitions: marts.definitions (each mart once: columns, defining SQL on
  the source, the same query on the state), marts.state_tables (the narrow
  state kept per source table, a named row type each) and marts.schema
  (their DDL, the applied-offsets and truncate tables, the marts' MySQL
  session);
- the MySQL write path: marts.apply (a batch of events in ONE transaction
  with its offsets: exactly-once effect, SERIALIZABLE for concurrent
  workers, outages waited out; its own map in marts.apply);
- checking: marts.verify (the marts vs their definitions on PostgreSQL) and
  marts.reference (the definitions over in-memory rows: the tests' oracle);
- running: marts.cli (`cdc marts`), marts.settings, marts.generations
  (recreated source topics), marts.health (heartbeat), marts.errors.

Truncates are ordered with the row changes of the other partitions by source
lsn (marts.apply.truncations, core.truncation). Known limit: a TRUNCATE whose
record precedes the connector's snapshot position but commits after it (a
snapshot racing a truncate) is not covered.
"""
