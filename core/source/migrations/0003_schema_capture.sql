-- Source DDL captured in the WAL stream, in commit order with the data.
--
-- An event trigger, in the same transaction as each ALTER TABLE / CREATE TABLE,
-- inserts a row describing the table's complete new shape into
-- cdc_schema_changes. That table is published and captured like the others, so
-- the consumer reads each schema change exactly between the transactions
-- committed before and after it. Baseline rows (command 'BASELINE') start the
-- history with the current shape of every published table.
--
-- CREATE EVENT TRIGGER needs a superuser: when this migration runs as one (the
-- local stack) it creates the trigger; otherwise (docker compose migrates as the
-- application user) it warns, and a superuser must run
--     SELECT cdc_install_schema_capture();
-- (`cdc schema apply` does so when PG_SUPERUSER_DSN is set, as in compose).

CREATE TABLE IF NOT EXISTS cdc_schema_changes (
    id          bigserial   PRIMARY KEY,
    table_name  text        NOT NULL,
    command     text        NOT NULL,
    definition  jsonb       NOT NULL,
    statement   text,       -- the DDL's statement text (current_query()); NULL for BASELINE rows
    captured_at timestamptz NOT NULL DEFAULT now()
);

-- One table's current shape, from the catalog:
--   {"table": relname, "oid" (a table dropped and created again, or renamed, is told by it),
--    "columns": [{"attnum", "name", "type" (format_type), "nullable", "default" (pg_get_expr or null),
--                 "has_missing" (atthasmissing), "missing" (the fast default's value as JSON, or null),
--                 "identity" (GENERATED ... AS IDENTITY), "generated" (GENERATED ALWAYS AS (...) STORED)}, ...]
--                (live columns in attnum order),
--    "primary_key": [column names in key order]}
-- TimeZone is fixed to UTC so that timestamptz values and defaults read the same whoever runs the DDL.
CREATE OR REPLACE FUNCTION cdc_table_schema(target regclass) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, public
SET TimeZone = 'UTC'
AS $$
DECLARE
    col record;
    missing_value json;
    columns jsonb := '[]'::jsonb;
    key_columns jsonb;
BEGIN
    FOR col IN
        SELECT a.attnum, a.attname, a.attnotnull, a.atthasmissing, a.attmissingval::text AS missing_literal,
               a.attidentity <> '' AS is_identity, a.attgenerated <> '' AS is_generated,
               format_type(a.atttypid, a.atttypmod) AS type_name,
               pg_get_expr(d.adbin, d.adrelid) AS default_expr
        FROM pg_attribute a
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
    LOOP
        missing_value := NULL;
        IF col.atthasmissing AND col.missing_literal IS NOT NULL THEN
            -- attmissingval is a one-element array of the column's type: its element's text (read as
            -- text[], which also holds for array columns), cast back to the column's type.
            EXECUTE format('SELECT to_json(%L::%s)', (col.missing_literal::text[])[1], col.type_name)
                INTO missing_value;
        END IF;
        columns := columns || jsonb_build_array(jsonb_build_object(
            'attnum', col.attnum,
            'name', col.attname,
            'type', col.type_name,
            'nullable', NOT col.attnotnull,
            'default', col.default_expr,
            'has_missing', col.atthasmissing,
            'missing', missing_value,
            'identity', col.is_identity,
            'generated', col.is_generated));
    END LOOP;

    SELECT coalesce(jsonb_agg(a.attname ORDER BY k.position), '[]'::jsonb)
    INTO key_columns
    FROM pg_constraint c
    CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, position)
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
    WHERE c.conrelid = target AND c.contype = 'p';

    RETURN jsonb_build_object(
        'table', (SELECT relname FROM pg_class WHERE oid = target),
        'oid', target::oid::bigint,
        'columns', columns,
        'primary_key', key_columns);
END
$$;

-- The event trigger's function. SECURITY DEFINER: it runs as its owner (who
-- owns cdc_schema_changes), whoever runs the DDL; search_path is fixed.
-- Each distinct ordinary or partitioned table of schema public the command
-- touched, in the order the command reports them, gets one row; a table gone
-- by the end of the command (dropped in it) has no pg_class row and is skipped.
-- RENAME COLUMN reports object type 'table column' with objid = the table.
-- It never fails the user's DDL: on an error it warns and records nothing, and
-- the consumer then pauses the table whose changes no longer fit (loudly).
CREATE OR REPLACE FUNCTION cdc_capture_schema_change() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
    touched record;
BEGIN
    FOR touched IN
        SELECT c.oid AS relid, c.relname
        FROM pg_event_trigger_ddl_commands() WITH ORDINALITY AS cmd
        JOIN pg_class c ON c.oid = cmd.objid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE cmd.classid = 'pg_class'::regclass
          AND c.relkind IN ('r', 'p')
          AND n.nspname = 'public'
          AND c.relname NOT IN ('cdc_schema_changes', 'cdc_signals', 'schema_migrations')
        GROUP BY c.oid, c.relname
        ORDER BY min(cmd.ordinality)
    LOOP
        INSERT INTO public.cdc_schema_changes (table_name, command, definition, statement)
        VALUES (touched.relname, TG_TAG, public.cdc_table_schema(touched.relid), current_query());
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'cdc: the schema change was not recorded for replication: %', SQLERRM
        USING HINT = 'The replica pauses the tables whose changes no longer fit (cdc consume --stats).';
END
$$;

-- Creates the event trigger unless it exists (true when created now). Must be
-- run by a superuser: this is the one statement of the trigger.
CREATE OR REPLACE FUNCTION cdc_install_schema_capture() RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'cdc_capture_schema_changes') THEN
        RETURN false;
    END IF;
    CREATE EVENT TRIGGER cdc_capture_schema_changes ON ddl_command_end
        WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE')
        EXECUTE FUNCTION public.cdc_capture_schema_change();
    RETURN true;
END
$$;

-- Published before the baseline rows are written, so that they are streamed too.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_publication_tables
                   WHERE pubname = 'cdc_publication' AND schemaname = 'public'
                     AND tablename = 'cdc_schema_changes') THEN
        ALTER PUBLICATION cdc_publication ADD TABLE cdc_schema_changes;
    END IF;
END
$$;

-- The captured history starts with the current shape of each published table.
INSERT INTO cdc_schema_changes (table_name, command, definition)
SELECT p.tablename, 'BASELINE', cdc_table_schema(format('%I.%I', p.schemaname, p.tablename)::regclass)
FROM pg_publication_tables p
JOIN pg_class c ON c.oid = format('%I.%I', p.schemaname, p.tablename)::regclass
WHERE p.pubname = 'cdc_publication' AND p.schemaname = 'public'
  AND p.tablename NOT IN ('cdc_schema_changes', 'schema_migrations')
  AND NOT EXISTS (SELECT 1 FROM cdc_schema_changes s WHERE s.table_name = p.tablename)
ORDER BY c.oid;


GRANT SELECT ON cdc_schema_changes TO cdc_replication_reader;

DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        PERFORM cdc_install_schema_capture();
    ELSIF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'cdc_capture_schema_changes') THEN
        RAISE WARNING 'source DDL is not captured: creating the event trigger needs a superuser (% is not one)',
            current_user
            USING HINT = 'As a superuser, in this database, run: SELECT cdc_install_schema_capture();';
    END IF;
END
$$;
