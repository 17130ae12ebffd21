-- 90_roles: who may do what (issue 16). Last of the definitions, so it sees every table and
-- function the others made, and every `parallaxctl db migrate` applies it again: a table or
-- function added later is covered by the rules below without anyone listing it.
--
--   owner            whoever runs `db migrate`: owns every object; the only one with DDL.
--   parallax_ingest  the coordinator: reads everything; writes evidence (results, gaps,
--                    batches, heartbeats), its own key, the agents' liveness columns, the
--                    schedule versions and the merge's tables; runs the merge. It cannot
--                    change the configuration (agents' keys and enabled, targets, probes,
--                    settings) nor delete evidence, and makes partitions only through
--                    ensure_partition(), which runs as the owner.
--   parallax_admin   parallaxctl: reads and writes every table's rows, runs every function;
--                    no DDL, no TRUNCATE.
--   parallax_read    analysts: SELECT on every table and view; only functions that cannot
--                    write (STABLE or IMMUTABLE). Not the receivers' secrets.
--   parallax_notify  the sender (parallax-notifier): reads everything, receivers' secrets
--                    included; writes only the deliveries and the events' routed_at; runs
--                    notify_route and the functions that cannot write.
--
-- The three are NOLOGIN group roles: a deployment grants them to its login roles (README
-- "Database roles"). Roles belong to the cluster, not to a database, so a role another
-- database's migrate made is used as it is. Installed in one transaction with the other
-- definitions.

-- The roles, made only if missing. Two migrates of two databases in one cluster may race to
-- make one: the loser's CREATE fails with a duplicate, which means it exists now.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['parallax_ingest', 'parallax_admin', 'parallax_read', 'parallax_notify'] LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r);
        BEGIN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;
            -- An owner without CREATEROLE (the README's first deployment step makes one)
            -- still migrates: the roles' grants are left out until they exist, below.
            WHEN insufficient_privilege THEN
                RAISE WARNING 'role % does not exist and % may not create it: no grants made', r, current_user
                    USING HINT = 'create the roles once per cluster as a superuser: CREATE ROLE parallax_ingest NOLOGIN; '
                                 'CREATE ROLE parallax_admin NOLOGIN; CREATE ROLE parallax_read NOLOGIN; '
                                 'CREATE ROLE parallax_notify NOLOGIN; '
                                 'then run db migrate again (README "Database roles")';
        END;
    END LOOP;
END $$;

-- Every function's search_path is pinned, so no object a caller puts first on its own path
-- (a table, a function, an operator) is ever found instead of the intended one; pg_temp
-- last, so even the functions' own temporary tables cannot shadow pg_catalog's names. The
-- schema's functions name their tables and functions with "parallax." anyway. A function
-- whose author pinned its own path keeps it.
-- Not LANGUAGE sql functions: PostgreSQL never inlines one that has a SET clause, and the
-- merge calls them (bin_floor, merge_rank, outage_step, ...) for every row: pinned, one
-- merge of the merge bench took twice as long (bench/README.md, issue 16). Inlined, their
-- text is planned as part of the calling query, under the caller's search_path, which the
-- calling functions pin; none is SECURITY DEFINER (db_roles checks), so a caller's own path
-- can mislead only that caller. Those with SQL-standard bodies (BEGIN ATOMIC, RETURN) are
-- resolved once, when made, and still inlined: the way to write a new one.
-- tests/integration/db_roles.sh fails if any other function is left unpinned.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'parallax'::regnamespace
          AND p.prokind IN ('f', 'p')
          AND p.prolang <> (SELECT l.oid FROM pg_catalog.pg_language l WHERE l.lanname = 'sql')
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')
    LOOP
        EXECUTE pg_catalog.format('ALTER ROUTINE %s SET search_path = pg_catalog, pg_temp', f);
    END LOOP;
END $$;

-- Partitions are made as the owner, so the coordinator needs no right to create tables; what
-- it may make is what ensure_partition makes, nothing else.
ALTER FUNCTION parallax.ensure_partition(date) SECURITY DEFINER;
-- Retention, which the coordinator's merge thread runs, drops whole partitions of results
-- and trims the evidence the coordinator may only add to: it too runs as the owner.
-- A function that runs as the owner gets pg_temp last on its path whatever its author
-- wrote: first (the default when it is not named), a caller's temporary table would be
-- found before the function's own relations.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = 'parallax'::regnamespace AND p.proname = 'retention_run'
    LOOP
        EXECUTE pg_catalog.format('ALTER ROUTINE %s SECURITY DEFINER', f);
    END LOOP;
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = 'parallax'::regnamespace AND p.prosecdef
    LOOP
        EXECUTE pg_catalog.format('ALTER ROUTINE %s SET search_path = pg_catalog, pg_temp', f);
    END LOOP;
END $$;

-- The grants, from nothing: what PUBLIC gets by default on a new function goes, and every
-- table, view, sequence and function is granted by the rules below, which also cover what
-- later migrations add.
DO $$
DECLARE
    config_tables text[] := ARRAY['agents', 'targets', 'probes', 'merge_settings', 'maintenance', 'notify_receivers',
                                  -- BGP data: parallaxctl routes and group set write it, the merge reads it.
                                  'route_peers', 'route_updates', 'route_prefixes', 'prefix_origins',
                                  'group_prefixes', 'route_bins',
                                  'schema_migrations', 'schema_definitions'];
    -- What the merge deletes from: its work queues, and bins and outages it judges again.
    merge_tables text[] := ARRAY['merge_inbox', 'merge_dirty', 'merge_state', 'merge_groups',
                                 'bins', 'outage_events'];
    -- What the coordinator writes of an agent (store_agents.c, agent_clock_set).
    liveness_columns text := 'last_seen, online, agent_version, schedule_acked_at, '
                             'schedule_version_acked, refused, refused_at, clock_offset_ms, '
                             'rtt_ms, clock_offset_at';
    rel record;
    fn record;
    db text := pg_catalog.quote_ident(pg_catalog.current_database());
BEGIN
    IF (SELECT count(*) FROM pg_catalog.pg_roles
        WHERE rolname IN ('parallax_ingest', 'parallax_admin', 'parallax_read')) < 3 THEN
        RETURN;
    END IF;
    EXECUTE 'GRANT CONNECT, TEMPORARY ON DATABASE ' || db
            || ' TO parallax_ingest, parallax_admin, parallax_read';
    GRANT USAGE ON SCHEMA parallax TO parallax_ingest, parallax_admin, parallax_read;
    REVOKE ALL ON ALL TABLES IN SCHEMA parallax FROM PUBLIC, parallax_ingest, parallax_admin, parallax_read;
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA parallax FROM PUBLIC, parallax_ingest, parallax_admin, parallax_read;
    REVOKE ALL ON ALL ROUTINES IN SCHEMA parallax FROM PUBLIC, parallax_ingest, parallax_admin, parallax_read;

    -- Partitions are reached through their parent, whose grants are the ones checked.
    FOR rel IN
        SELECT c.relname, c.relkind FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'parallax'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
          AND NOT c.relispartition
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON parallax.%I TO parallax_ingest, parallax_admin, parallax_read',
                                  rel.relname);
        -- Rows are written in tables only: writing through a simple view would be checked
        -- against the view owner's rights on its table.
        CONTINUE WHEN rel.relkind NOT IN ('r', 'p');
        EXECUTE pg_catalog.format('GRANT INSERT, UPDATE, DELETE ON parallax.%I TO parallax_admin', rel.relname);
        IF rel.relname = 'agents' THEN
            EXECUTE pg_catalog.format('GRANT UPDATE (%s) ON parallax.agents TO parallax_ingest', liveness_columns);
        ELSIF rel.relname <> ALL (config_tables) THEN
            EXECUTE pg_catalog.format('GRANT INSERT, UPDATE ON parallax.%I TO parallax_ingest', rel.relname);
            IF rel.relname = ANY (merge_tables) THEN
                EXECUTE pg_catalog.format('GRANT DELETE ON parallax.%I TO parallax_ingest', rel.relname);
            END IF;
        END IF;
    END LOOP;
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA parallax TO parallax_ingest, parallax_admin;

    -- Analysts run what cannot write; the coordinator and parallaxctl run everything, each
    -- within its rights on the tables (the functions, but ensure_partition, run as their caller).
    FOR fn IN
        SELECT p.oid::regprocedure AS f, p.provolatile FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'parallax'::regnamespace
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON ROUTINE %s TO parallax_ingest, parallax_admin', fn.f);
        IF fn.provolatile IN ('s', 'i') THEN
            EXECUTE pg_catalog.format('GRANT EXECUTE ON ROUTINE %s TO parallax_read', fn.f);
        END IF;
    END LOOP;
END $$;

-- A receiver's secret (the webhook's HMAC key) is for the sender and parallaxctl alone.
DO $$
BEGIN
    IF (SELECT count(*) FROM pg_catalog.pg_roles
        WHERE rolname IN ('parallax_ingest', 'parallax_read')) < 2 THEN
        RETURN;
    END IF;
    REVOKE SELECT ON parallax.notify_receivers FROM parallax_ingest, parallax_read;
    GRANT SELECT (id, name, kind, url, mail_from, mail_to, scopes, group_name, min_stage,
                  with_group_targets, enabled, created_at)
        ON parallax.notify_receivers TO parallax_ingest, parallax_read;
END $$;

-- The sender: made after the first three (a cluster whose roles an earlier release made has
-- no parallax_notify until a superuser adds it; the others' grants do not wait for it).
DO $$
DECLARE
    rel record;
    fn record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'parallax_notify') THEN
        RETURN;
    END IF;
    EXECUTE 'GRANT CONNECT, TEMPORARY ON DATABASE ' || pg_catalog.quote_ident(pg_catalog.current_database())
            || ' TO parallax_notify';
    GRANT USAGE ON SCHEMA parallax TO parallax_notify;
    REVOKE ALL ON ALL TABLES IN SCHEMA parallax FROM parallax_notify;
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA parallax FROM parallax_notify;
    REVOKE ALL ON ALL ROUTINES IN SCHEMA parallax FROM parallax_notify;
    FOR rel IN
        SELECT c.relname FROM pg_catalog.pg_class c
        WHERE c.relnamespace = 'parallax'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
          AND NOT c.relispartition
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT ON parallax.%I TO parallax_notify', rel.relname);
    END LOOP;
    GRANT INSERT, UPDATE ON parallax.notify_deliveries TO parallax_notify;
    GRANT UPDATE (routed_at) ON parallax.notify_events TO parallax_notify;
    FOR fn IN
        SELECT p.oid::regprocedure AS f FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'parallax'::regnamespace
          AND (p.provolatile IN ('s', 'i') OR p.proname = 'notify_route')
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON ROUTINE %s TO parallax_notify', fn.f);
    END LOOP;
END $$;
