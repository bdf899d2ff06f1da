-- Tables added to the publication are captured by themselves.
--
-- `ALTER PUBLICATION cdc_publication ADD TABLE t` (or SET TABLE, listing t for the
-- first time) fires a second event trigger which, in the same transaction:
--   1. grants the connector's user SELECT on t (its incremental snapshot reads it);
--   2. records t's definition in cdc_schema_changes (command 'ALTER PUBLICATION'):
--      the consumer creates the replica table at that point of the stream;
--   3. rewrites one row with its own values (see below), and
--   4. inserts an execute-snapshot signal for t into cdc_signals: the connector
--      then reads t's existing rows as an incremental snapshot (a backfill) while
--      the other tables keep streaming.
-- The connector's table.include.list covers every table of schema public, so the
-- publication alone decides what is streamed (connectors/postgres-source.json).
-- Dropping a table from the publication records nothing: its replica table stays
-- as it was (README, Operations, "Adding a table").

CREATE OR REPLACE FUNCTION cdc_capture_publication_change() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
DECLARE
    added record;
    key_assignments text;
BEGIN
    FOR added IN
        SELECT c.oid AS relid, c.relname
        FROM pg_event_trigger_ddl_commands() WITH ORDINALITY AS cmd
        JOIN pg_publication_rel pr ON pr.oid = cmd.objid
        JOIN pg_publication p ON p.oid = pr.prpubid
        JOIN pg_class c ON c.oid = pr.prrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE cmd.classid = 'pg_publication_rel'::regclass
          AND p.pubname = 'cdc_publication'
          AND c.relkind IN ('r', 'p')
          AND n.nspname = 'public'
          AND c.relname NOT IN ('cdc_schema_changes', 'cdc_signals', 'cdc_heartbeat', 'schema_migrations')
        ORDER BY cmd.ordinality
    LOOP
        EXECUTE format('GRANT SELECT ON public.%I TO cdc_replication_reader', added.relname);
        INSERT INTO public.cdc_schema_changes (table_name, command, definition, statement)
        VALUES (added.relname, TG_TAG, public.cdc_table_schema(added.relid), current_query());
        -- Debezium (3.1) cannot snapshot a table it has seen no change of since its task started (dbz#1540: the
        -- snapshot fails on the unknown schema): one row rewritten with its own values makes the table known
        -- before the signal is read. Nothing changes in it (row triggers of the table do fire); an empty
        -- table has nothing to backfill.
        SELECT string_agg(format('%I = %I', a.attname, a.attname), ', ')
        INTO key_assignments
        FROM pg_index i
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = added.relid AND i.indisprimary;
        IF key_assignments IS NOT NULL THEN
            EXECUTE format('UPDATE public.%I SET %s WHERE ctid = (SELECT ctid FROM public.%I LIMIT 1)',
                           added.relname, key_assignments, added.relname);
        END IF;
        INSERT INTO public.cdc_signals (id, type, data)
        VALUES ('publication-' || gen_random_uuid()::text, 'execute-snapshot',
                json_build_object('data-collections', json_build_array('public.' || added.relname),
                                  'type', 'incremental')::text);
    END LOOP;
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'cdc: the table added to the publication was not set up for replication: %', SQLERRM
        USING HINT = 'Its changes stream, but the replica has no table for them: remove it from the publication '
                     'and add it again once the cause is fixed.';
END
$$;

-- Creates each of the two event triggers that is missing (true when one was created now). Must be run by a
-- superuser.
CREATE OR REPLACE FUNCTION cdc_install_schema_capture() RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, public
AS $$
DECLARE
    created boolean := false;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'cdc_capture_schema_changes') THEN
        CREATE EVENT TRIGGER cdc_capture_schema_changes ON ddl_command_end
            WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE')
            EXECUTE FUNCTION public.cdc_capture_schema_change();
        created := true;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'cdc_capture_publication_changes') THEN
        CREATE EVENT TRIGGER cdc_capture_publication_changes ON ddl_command_end
            WHEN TAG IN ('ALTER PUBLICATION')
            EXECUTE FUNCTION public.cdc_capture_publication_change();
        created := true;
    END IF;
    RETURN created;
END
$$;

DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        PERFORM cdc_install_schema_capture();
    ELSIF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'cdc_capture_publication_changes') THEN
        RAISE WARNING 'tables added to the publication are not captured: creating the event trigger needs a '
                      'superuser (% is not one)', current_user
            USING HINT = 'As a superuser, in this database, run: SELECT cdc_install_schema_capture();';
    END IF;
END
$$;
