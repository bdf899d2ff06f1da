"""Size limits that every stage must agree on, defined once.

A change event carries its row twice: the source tables use REPLICA IDENTITY
FULL, so an update's event holds the whole old row ("before") next to the new
one ("after"), as JSON. Kafka's defaults (about 1 MB for the producer's
request, the broker's message and the consumer's partition fetch) make the
connector fail with RecordTooLargeException on the update of a ~0.5 MB row.
MESSAGE_MAX_BYTES lets a row of about 7 MiB of JSON through; every Kafka limit
below derives from it. Copies that cannot import it (docker-compose.yml) are
checked against it by tests/unit/test_compose_file.py.
"""
from __future__ import annotations

MIB = 1024 * 1024

# The largest Kafka message: producer request, broker/topic message and consumer partition fetch.
MESSAGE_MAX_BYTES = 16 * MIB
# One fetch response may hold several partitions' messages; it must fit at least one largest message.
CONSUMER_FETCH_MAX_BYTES = 4 * MESSAGE_MAX_BYTES
# librdkafka refuses receive.message.max.bytes below fetch.max.bytes + 512 (protocol overhead).
CONSUMER_RECEIVE_MAX_BYTES = CONSUMER_FETCH_MAX_BYTES + MIB

# The largest SQL statement the replica accepts: one row's upsert may be as long as the row's JSON
# and each character may take up to 4 bytes (utf8mb4). MySQL 8.4's default; MariaDB's is 16 MiB.
MYSQL_MAX_ALLOWED_PACKET = 4 * MESSAGE_MAX_BYTES

# PostgreSQL drops (invalidates) a replication slot whose consumer lags by more WAL than this, so a
# connector that is down for long cannot fill the source's disk; the connector must then snapshot again.
MAX_SLOT_WAL_KEEP_SIZE = "4GB"
