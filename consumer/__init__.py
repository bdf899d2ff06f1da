"""The replication consumer: Debezium topics -> MySQL replica."""
