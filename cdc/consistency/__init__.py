"""`cdc verify --consistency`: sample the replica and the marts in consistent snapshots under live load and
count the views that no source transaction boundary could have produced (torn views)."""
