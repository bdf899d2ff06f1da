-- Debezium's signalling table (the connector's signal.data.collection). `cdc backfill` inserts an
-- execute-snapshot signal here; the connector reads it from the stream and runs an incremental snapshot
-- of the tables named, writing the marks of each chunk's window here too (so its database user may insert).
-- Published and captured like the shop tables; never replicated.
CREATE TABLE IF NOT EXISTS cdc_signals (
    id   varchar(64) PRIMARY KEY,
    type varchar(32) NOT NULL,
    data text
);

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_publication_tables
                   WHERE pubname = 'cdc_publication' AND schemaname = 'public' AND tablename = 'cdc_signals') THEN
        ALTER PUBLICATION cdc_publication ADD TABLE cdc_signals;
    END IF;
END
$$;

GRANT SELECT, INSERT ON cdc_signals TO cdc_replication_reader;
