#!/bin/bash
# Runs once, when the postgres container initialises its volume.
# The application user owns the shop schema (migrations, generator, verify);
# the Debezium user may only log in, replicate and read what is published
# (its table privileges come from the cdc_replication_reader role, which the
# project's migration 0002 defines).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v app_password="$APP_DB_PASSWORD" -v dbz_password="$DEBEZIUM_DB_PASSWORD" <<'SQL'
CREATE ROLE app LOGIN PASSWORD :'app_password';
GRANT ALL ON DATABASE shop TO app;
GRANT ALL ON SCHEMA public TO app;
ALTER SCHEMA public OWNER TO app;
CREATE ROLE cdc_replication_reader NOLOGIN;
CREATE ROLE debezium LOGIN REPLICATION PASSWORD :'dbz_password' IN ROLE cdc_replication_reader;
GRANT CONNECT ON DATABASE shop TO debezium;
SQL
