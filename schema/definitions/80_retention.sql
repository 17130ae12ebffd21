-- 80_retention: what is kept and for how long: retention_run (the coordinator's merge thread
-- calls it every few minutes), merge_floor (the oldest bin the merge may still judge) and
-- retention_report (`parallaxctl retention`). The settings are the keep_* merge settings
-- (migration 006); retention_state records what has been removed.
-- Installed by every `parallaxctl db migrate` after the migrations (CREATE OR REPLACE), in
-- file order, in one transaction with check_function_bodies off. A change CREATE OR REPLACE
-- cannot make (a view's columns, a function's result type) needs a DROP in a new migration.

-- The first bin start the merge may judge again: every bin from here on has all of its inputs
-- (results, heartbeats, gaps) still stored. NULL while retention has removed none of them.
-- The margin covers the widest bin of any scope reaching back over the edge, and results
-- placed by a clock offset (ts - clock_offset_ms) on the other side of it. merge_take leaves
-- older dirty bins unmerged, so a late result, a clock change or `settings set
-- --remerge-since` reaching past the horizon keeps the verdicts stored then, instead of
-- reading removed inputs as "no data"; merge_verify starts there too.
CREATE OR REPLACE FUNCTION parallax.merge_floor() RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
SELECT max(r.removed_before) + parallax.widest_bin()
       + (s.vantage_bin_s + s.group_bin_s) * interval '1 second'
       + coalesce((SELECT max(abs(a.clock_offset_ms)) FROM parallax.agents a), 0) * interval '1 millisecond'
FROM parallax.retention_state r
CROSS JOIN parallax.merge_settings_now() s
WHERE r.kind IN ('results', 'heartbeats', 'gaps')
GROUP BY s.vantage_bin_s, s.group_bin_s
$$;

-- How the keep_* settings must relate, checked when a transaction that changed them commits
-- (CHECK constraints would judge each setting alone, and `settings set keep_bins=10d
-- keep_results=5d` would depend on the order). Empty (NULL) is forever, longer than any.
-- A batch sent again is recognised only while its id is kept: results could not be stored
-- twice (their primary key), but its gap records would be. Verdicts outlive the inputs they
-- were judged from, and outages the bins that explain them: a re-merge never needs a bin
-- that is gone.
CREATE OR REPLACE FUNCTION parallax.retention_settings_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    s parallax.merge_settings;
    forever constant interval := interval '1000000 years';
BEGIN
    SELECT * INTO s FROM parallax.merge_settings;
    IF coalesce(s.keep_batches, forever) < coalesce(s.keep_results, forever) THEN
        RAISE EXCEPTION 'keep_batches (%) must be at least keep_results (%): a batch sent again is recognised only while its id is kept',
            coalesce(s.keep_batches::text, 'forever'), coalesce(s.keep_results::text, 'forever')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(s.keep_bins, forever) < greatest(coalesce(s.keep_results, forever), coalesce(s.keep_heartbeats, forever),
                                                 coalesce(s.keep_gaps, forever)) THEN
        RAISE EXCEPTION 'keep_bins (%) must be at least keep_results, keep_heartbeats and keep_gaps (%, %, %): verdicts outlive the inputs they are judged from',
            coalesce(s.keep_bins::text, 'forever'), coalesce(s.keep_results::text, 'forever'),
            coalesce(s.keep_heartbeats::text, 'forever'), coalesce(s.keep_gaps::text, 'forever')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(s.keep_outages, forever) < coalesce(s.keep_bins, forever) THEN
        RAISE EXCEPTION 'keep_outages (%) must be at least keep_bins (%): an outage is explained by its bins',
            coalesce(s.keep_outages::text, 'forever'), coalesce(s.keep_bins::text, 'forever')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN NULL;
END $$;

-- CREATE OR REPLACE is not allowed for a constraint trigger.
DROP TRIGGER IF EXISTS merge_settings_retention_check ON parallax.merge_settings;
CREATE CONSTRAINT TRIGGER merge_settings_retention_check
    AFTER INSERT OR UPDATE ON parallax.merge_settings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION parallax.retention_settings_check();

-- Notes a removal of `got` rows of a kind older than `before`.
CREATE OR REPLACE FUNCTION parallax.retention_note(p_kind text, p_before timestamptz, p_got bigint)
RETURNS void
LANGUAGE sql SET search_path = pg_catalog AS $$
UPDATE parallax.retention_state
SET removed_before = greatest(removed_before, p_before), removed = removed + p_got,
    last_removed_at = now()
WHERE kind = p_kind AND p_got > 0
$$;

-- One bounded step of retention; call it until no row says more. Removes at most p_chunk
-- rows of each kind (heartbeats, gaps, batches, bins, outages, superseded route updates,
-- route bins) older than its keep_* setting,
-- then drops at most one daily result partition wholly older than keep_results. The drop
-- needs the results table's exclusive lock for a moment: it waits for it at most 100 ms
-- (every insert into results would queue behind a longer wait) and, not granted, is put off
-- to the next call (note says so, retention_state.last_error keeps it). The drop comes last
-- so that the lock is held only until the commit that follows at once.
-- p_accept_past: how far back the coordinator still accepts results (accept_past_s; it makes
-- those days' partitions ahead of time): no partition of a day it accepts is dropped, whatever
-- keep_results says, or the two would drop and make the same partitions over and over.
-- Returns one row per kind: rows (results: partitions) removed, whether more is due, a note.
CREATE OR REPLACE FUNCTION parallax.retention_run(p_chunk integer DEFAULT 10000,
                                                  p_accept_past interval DEFAULT '0')
RETURNS TABLE (kind text, removed bigint, more boolean, note text)
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    s parallax.merge_settings := parallax.merge_settings_now();
    h timestamptz;
    budget bigint;
    got bigint;
    n bigint;
    a record;
    sc text;
    part record;
BEGIN
    IF p_chunk IS NULL OR p_chunk < 1 THEN
        RAISE EXCEPTION 'retention_run: p_chunk must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Heartbeats and gaps are trimmed agent by agent: their indexes lead with the agent.
    h := now() - s.keep_heartbeats;
    budget := p_chunk;
    IF h IS NOT NULL THEN
        FOR a IN SELECT x.id FROM parallax.agents x ORDER BY x.id LOOP
            EXIT WHEN budget <= 0;
            DELETE FROM parallax.heartbeats y
            WHERE y.agent_id = a.id AND y.ts IN (SELECT z.ts FROM parallax.heartbeats z
                                                 WHERE z.agent_id = a.id AND z.ts < h
                                                 ORDER BY z.ts LIMIT budget);
            GET DIAGNOSTICS got = ROW_COUNT;
            budget := budget - got;
        END LOOP;
        PERFORM parallax.retention_note('heartbeats', h, p_chunk - budget);
    END IF;
    RETURN QUERY SELECT 'heartbeats', p_chunk - budget, budget <= 0, NULL::text;

    h := now() - s.keep_gaps;
    budget := p_chunk;
    IF h IS NOT NULL THEN
        FOR a IN SELECT x.id FROM parallax.agents x ORDER BY x.id LOOP
            EXIT WHEN budget <= 0;
            DELETE FROM parallax.gaps y
            WHERE y.id IN (SELECT z.id FROM parallax.gaps z
                           WHERE z.agent_id = a.id AND z.ts_from < h AND z.ts_to < h
                           LIMIT budget);
            GET DIAGNOSTICS got = ROW_COUNT;
            budget := budget - got;
        END LOOP;
        PERFORM parallax.retention_note('gaps', h, p_chunk - budget);
    END IF;
    RETURN QUERY SELECT 'gaps', p_chunk - budget, budget <= 0, NULL::text;

    h := now() - s.keep_batches;
    got := 0;
    IF h IS NOT NULL THEN
        DELETE FROM parallax.batches y
        WHERE (y.agent_id, y.stream, y.seq) IN (SELECT z.agent_id, z.stream, z.seq FROM parallax.batches z
                                                WHERE z.ingested_at < h
                                                ORDER BY z.ingested_at LIMIT p_chunk);
        GET DIAGNOSTICS got = ROW_COUNT;
        PERFORM parallax.retention_note('batches', h, got);
    END IF;
    RETURN QUERY SELECT 'batches', got, got >= p_chunk, NULL::text;

    -- Bins by their end, through bins_time (scope, bin_start).
    h := now() - s.keep_bins;
    budget := p_chunk;
    IF h IS NOT NULL THEN
        FOREACH sc IN ARRAY ARRAY['vantage', 'target', 'group'] LOOP
            EXIT WHEN budget <= 0;
            DELETE FROM parallax.bins y
            WHERE (y.scope, y.subject_id, y.bin_start) IN (
                SELECT z.scope, z.subject_id, z.bin_start FROM parallax.bins z
                WHERE z.scope = sc AND z.bin_start < h AND z.bin_end <= h
                LIMIT budget);
            GET DIAGNOSTICS got = ROW_COUNT;
            budget := budget - got;
        END LOOP;
        PERFORM parallax.retention_note('bins', h, p_chunk - budget);
    END IF;
    RETURN QUERY SELECT 'bins', p_chunk - budget, budget <= 0, NULL::text;

    -- Outages that ended (an open one is never removed), through outage_events_started.
    h := now() - s.keep_outages;
    got := 0;
    IF h IS NOT NULL THEN
        -- Removing what is old is not news: the notification trigger stands aside.
        PERFORM set_config('parallax.notify_off', 'on', true);
        DELETE FROM parallax.outage_events y
        WHERE y.id IN (SELECT z.id FROM parallax.outage_events z
                       WHERE z.started_at < h AND z.ended_at < h LIMIT p_chunk);
        GET DIAGNOSTICS got = ROW_COUNT;
        PERFORM set_config('parallax.notify_off', '', true);
        -- The one-off probe requests made for outages (46_probe_requests.sql) go with them;
        -- their results go with the results.
        DELETE FROM parallax.probe_requests y
        WHERE y.id IN (SELECT z.id FROM parallax.probe_requests z
                       WHERE z.created_at < h LIMIT greatest(p_chunk - got, 0));
        GET DIAGNOSTICS n = ROW_COUNT;
        got := got + n;
        PERFORM parallax.retention_note('outages', h, got);
    END IF;
    RETURN QUERY SELECT 'outages', got, got >= p_chunk, NULL::text;

    -- Route updates past keep_results that a later word of the same peer on the same prefix
    -- (for a session change: a later session change) supersedes: visibility rests on each
    -- peer's latest word, which is kept however old.
    h := now() - s.keep_results;
    got := 0;
    IF h IS NOT NULL THEN
        DELETE FROM parallax.route_updates y
        WHERE y.ctid IN (
            SELECT z.ctid FROM parallax.route_updates z
            WHERE z.ts < h
              AND CASE WHEN z.prefix IS NULL
                       THEN EXISTS (SELECT 1 FROM parallax.route_updates n
                                    WHERE n.peer_id = z.peer_id AND n.prefix IS NULL AND n.ts > z.ts)
                       ELSE EXISTS (SELECT 1 FROM parallax.route_updates n
                                    WHERE n.peer_id = z.peer_id AND n.prefix = z.prefix AND n.ts > z.ts) END
            LIMIT p_chunk);
        GET DIAGNOSTICS got = ROW_COUNT;
        PERFORM parallax.retention_note('routes', h, got);
    END IF;
    RETURN QUERY SELECT 'routes', got, got >= p_chunk, NULL::text;

    h := now() - s.keep_bins;
    got := 0;
    IF h IS NOT NULL THEN
        DELETE FROM parallax.route_bins y
        WHERE (y.prefix, y.bin_start) IN (SELECT z.prefix, z.bin_start FROM parallax.route_bins z
                                          WHERE z.bin_start < h AND z.bin_end <= h LIMIT p_chunk);
        GET DIAGNOSTICS got = ROW_COUNT;
        PERFORM parallax.retention_note('route_bins', h, got);
    END IF;
    RETURN QUERY SELECT 'route_bins', got, got >= p_chunk, NULL::text;

    -- Results: the oldest daily partition, if the whole day is older than keep_results.
    h := CASE WHEN s.keep_results IS NOT NULL
              THEN least(now() - s.keep_results,
                         (now() AT TIME ZONE 'UTC')::date::timestamp AT TIME ZONE 'UTC'
                         - coalesce(p_accept_past, '0')) END;
    IF h IS NOT NULL THEN
        SELECT c.relname, to_date(substr(c.relname, 9), 'YYYYMMDD') AS day INTO part
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'parallax.results'::regclass AND c.relname ~ '^results_[0-9]{8}$'
        ORDER BY 2 LIMIT 1;
        IF part.relname IS NOT NULL AND (part.day + 1)::timestamp AT TIME ZONE 'UTC' <= h THEN
            BEGIN
                PERFORM set_config('lock_timeout', '100ms', true);
                EXECUTE format('DROP TABLE parallax.%I', part.relname);
                PERFORM parallax.retention_note('results', (part.day + 1)::timestamp AT TIME ZONE 'UTC', 1);
                UPDATE parallax.retention_state SET last_error = NULL, last_error_at = NULL
                WHERE retention_state.kind = 'results';
                RETURN QUERY SELECT 'results', 1::bigint, true, NULL::text;
            EXCEPTION WHEN undefined_table THEN
                -- Dropped by another retention_run (parallaxctl retention run beside the
                -- coordinator's) since it was picked: the next call picks the next one.
                RETURN QUERY SELECT 'results', 0::bigint, true, NULL::text;
            WHEN lock_not_available THEN
                UPDATE parallax.retention_state
                SET last_error = format('%s not dropped: the results table was busy for 100 ms; tried again at the next run', part.relname),
                    last_error_at = now()
                WHERE retention_state.kind = 'results';
                RETURN QUERY SELECT 'results', 0::bigint, false,
                    format('%s not dropped: the results table was busy for 100 ms; tried again at the next run', part.relname);
            END;
            RETURN;
        END IF;
    END IF;
    RETURN QUERY SELECT 'results', 0::bigint, false, NULL::text;
END $$;

-- What each kind keeps and holds now: its keep_* setting and the horizon it gives, the
-- oldest row, its rows (an estimate from the statistics, exact with p_exact: a count of
-- every row, slow on a large table), its bytes on disk (indexes and TOAST included), result
-- partitions, and what retention has removed. Every lookup of the oldest row is an index
-- scan.
CREATE OR REPLACE FUNCTION parallax.retention_report(p_exact boolean DEFAULT false)
RETURNS TABLE (kind text, keep interval, horizon timestamptz, oldest timestamptz, rows bigint,
               bytes bigint, partitions integer, removed bigint, removed_before timestamptz,
               last_error text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
DECLARE
    s parallax.merge_settings := parallax.merge_settings_now();
BEGIN
    RETURN QUERY
    WITH parts AS (
        SELECT t.relid FROM pg_partition_tree('parallax.results'::regclass) t WHERE t.isleaf
    ),
    tables (kind, keep, oldest, relids, exact) AS (
        SELECT 'results', s.keep_results,
               (SELECT min(r.ts) FROM parallax.results r),
               ARRAY(SELECT p.relid FROM parts p) || 'parallax.results'::regclass,
               CASE WHEN p_exact THEN (SELECT count(*) FROM parallax.results) END
        UNION ALL
        SELECT 'heartbeats', s.keep_heartbeats,
               (SELECT min((SELECT min(x.ts) FROM parallax.heartbeats x WHERE x.agent_id = a.id))
                FROM parallax.agents a),
               ARRAY['parallax.heartbeats'::regclass],
               CASE WHEN p_exact THEN (SELECT count(*) FROM parallax.heartbeats) END
        UNION ALL
        SELECT 'gaps', s.keep_gaps,
               (SELECT min((SELECT min(x.ts_from) FROM parallax.gaps x WHERE x.agent_id = a.id))
                FROM parallax.agents a),
               ARRAY['parallax.gaps'::regclass],
               CASE WHEN p_exact THEN (SELECT count(*) FROM parallax.gaps) END
        UNION ALL
        SELECT 'batches', s.keep_batches,
               (SELECT min(x.ingested_at) FROM parallax.batches x),
               ARRAY['parallax.batches'::regclass],
               CASE WHEN p_exact THEN (SELECT count(*) FROM parallax.batches) END
        UNION ALL
        SELECT 'bins', s.keep_bins,
               (SELECT min((SELECT min(x.bin_start) FROM parallax.bins x WHERE x.scope = sc))
                FROM unnest(ARRAY['vantage', 'target', 'group']) sc),
               ARRAY['parallax.bins'::regclass],
               CASE WHEN p_exact THEN (SELECT count(*) FROM parallax.bins) END
        UNION ALL
        SELECT 'outages', s.keep_outages,
               (SELECT min(x.started_at) FROM parallax.outage_events x),
               ARRAY['parallax.outage_events'::regclass],
               CASE WHEN p_exact THEN (SELECT count(*) FROM parallax.outage_events) END
        UNION ALL
        SELECT 'routes', s.keep_results,
               (SELECT min(x.ts) FROM parallax.route_updates x),
               ARRAY['parallax.route_updates'::regclass, 'parallax.route_prefixes'::regclass],
               CASE WHEN p_exact THEN (SELECT count(*) FROM parallax.route_updates) END
        UNION ALL
        SELECT 'route_bins', s.keep_bins,
               (SELECT min(x.bin_start) FROM parallax.route_bins x),
               ARRAY['parallax.route_bins'::regclass],
               CASE WHEN p_exact THEN (SELECT count(*) FROM parallax.route_bins) END
    )
    SELECT t.kind, t.keep, now() - t.keep,
           t.oldest,
           coalesce(t.exact,
                    (SELECT sum(greatest(c.reltuples, 0))::bigint FROM pg_class c WHERE c.oid = ANY (t.relids))),
           (SELECT sum(pg_total_relation_size(r))::bigint FROM unnest(t.relids) r),
           CASE WHEN t.kind = 'results' THEN (SELECT count(*)::integer FROM parts) END,
           st.removed, st.removed_before, st.last_error
    FROM tables t
    JOIN parallax.retention_state st ON st.kind = t.kind
    ORDER BY array_position(ARRAY['results', 'heartbeats', 'gaps', 'batches', 'bins', 'outages',
                                  'routes', 'route_bins'], t.kind);
END $$;

COMMENT ON FUNCTION parallax.retention_report(boolean) IS
    'Per kind of data: keep_* setting, horizon, oldest row, rows (estimated unless p_exact), bytes, result partitions, what retention removed.';
