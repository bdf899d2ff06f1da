-- What the Debezium connector's database user may do, as a NOLOGIN role.
-- Deployments create a LOGIN user with REPLICATION and grant it this role
-- (docker/postgres/init-users.sh does so for docker compose); the local
-- stack connects as the cluster's superuser and does not need it.
--   SELECT on the published tables: the initial snapshot reads them.
--   INSERT/UPDATE on cdc_heartbeat: heartbeat.action.query writes there.
-- Nothing else: no DDL, no writes to the shop tables.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'cdc_replication_reader') THEN
        CREATE ROLE cdc_replication_reader NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO cdc_replication_reader;
GRANT SELECT ON users, product_categories, products, orders, order_details, cdc_heartbeat
    TO cdc_replication_reader;
GRANT INSERT, UPDATE ON cdc_heartbeat TO cdc_replication_reader;
