"""The marts' MySQL write path: one batch of events applied in one transaction.

- store: MartStore, the entry point; one transaction per batch, retried
  through deadlocks and outages, a batch MySQL refuses split to find the
  events at fault;
- batch: one batch inside that transaction, in order: the events not
  applied yet, the state, the marts' deltas, the offsets;
- offsets: the last applied offset per partition (replays are skipped);
- batch_state: the state rows a batch reads and writes, cached;
- row_change: one row change applied to the state, its deltas gathered;
- row_deltas: the deltas of one row change, from cached rows or scoped SQL;
- groups: the pure delta logic (Group, Delta, diff, merged per batch);
- truncations: truncates, ordered with the row changes by source lsn;
- mart_writes: the batch's deltas upserted into the mart tables;
- multirow: multi-row statements in chunks.
"""
