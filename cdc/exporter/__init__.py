"""`cdc exporter`: the source side's metrics (core.metrics) for Prometheus, read every few seconds.

The replication slot's retained WAL and activity from PostgreSQL, the connector's and its tasks' states from
the Kafka Connect REST API. A reading that fails counts in cdc_exporter_scrape_errors_total{source} and drops
that source's series until the next reading succeeds (a stale value would look healthy).
"""
