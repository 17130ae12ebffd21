-- 60_merge_verify: merge_verify: a span merged again from scratch and compared with what is stored.
-- Installed by every `parallaxctl db migrate` after the migrations (CREATE OR REPLACE), in
-- file order, in one transaction with check_function_bodies off. A change CREATE OR REPLACE
-- cannot make (a view's columns, a function's result type) needs a DROP in a new migration.

-- Re-merges everything from p_from on from nothing — bins and outage events deleted, every
-- bin queued again, merge_run until done — inside a subtransaction that is then rolled back,
-- and reports what differs from what the incremental merge stored: every bin of [p_from,
-- p_to) whose state or evidence differs (a bin one side lacks counts as unknown, or no_data
-- for a vantage), and every outage that started in the span and differs in its end or stage.
-- p_to is cut to what the stored merge has finished (before any bin still waiting, before
-- the offline sweep's progress, less the widest bin of any scope); the cut is the row of
-- kind 'span'. A stored database with nothing merged gives an error.
-- p_from is raised to merge_floor(): before it retention may have removed inputs, and the
-- scratch merge would read them as "no data"; the span row says where it started.
-- Holds the merge's lock while it runs: the coordinator's merges wait (return 0) meanwhile.
-- An outage still open at the end of the span, or ending too near it for the close_after
-- good bins that end it to lie inside the span, is compared by its start only: later bins
-- decide its end and worst stage.
CREATE OR REPLACE FUNCTION parallax.merge_verify(p_from timestamptz, p_to timestamptz DEFAULT NULL)
RETURNS TABLE (kind text, scope text, subject text, at timestamptz, stored text, scratch text)
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    s parallax.merge_settings := parallax.merge_settings_now();
    margin interval := greatest(parallax.widest_bin(), s.vantage_bin_s * interval '1 second',
                                s.group_bin_s * interval '1 second');
    upto timestamptz;
    p_scratch timestamptz;
    found_rows jsonb;
    rounds integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(88340183732807);
    p_from := greatest(p_from, parallax.merge_floor());
    PERFORM parallax.merge_collect();
    upto := least(coalesce(p_to, 'infinity'),
                  coalesce((SELECT min(d.bin_start) FROM parallax.merge_dirty d), 'infinity'),
                  coalesce((SELECT st.vantages_swept_to FROM parallax.merge_state st),
                           (SELECT max(b.bin_end) FROM parallax.bins b), 'infinity')) - margin;
    IF upto <= p_from THEN
        RAISE EXCEPTION 'nothing to verify: the merge has not finished any bin after %', p_from
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Bins still waiting to be merged start at ' ||
                         coalesce((SELECT min(d.bin_start)::text FROM parallax.merge_dirty d), 'none');
    END IF;
    -- Late enough that every bin of the span has closed by its grace (history need not be
    -- in the past: a replay may be dated anywhere).
    p_scratch := upto + 2 * (1 + s.grace_bins) * margin + s.grace_s * interval '1 second';

    CREATE TEMP TABLE IF NOT EXISTS verify_bins (
        scope text, subject_id integer, bin_start timestamptz, state text, evidence jsonb) ON COMMIT DROP;
    CREATE TEMP TABLE IF NOT EXISTS verify_outages (
        scope text, subject text, started_at timestamptz, ended_at timestamptz, stage text) ON COMMIT DROP;
    DELETE FROM pg_temp.verify_bins;
    DELETE FROM pg_temp.verify_outages;
    INSERT INTO pg_temp.verify_bins
    SELECT b.scope, b.subject_id, b.bin_start, b.state, b.evidence FROM parallax.bins b
    WHERE b.bin_start >= p_from AND b.bin_start < upto;
    INSERT INTO pg_temp.verify_outages
    SELECT e.scope, e.subject, e.started_at, e.ended_at, e.stage FROM parallax.outage_events e
    WHERE e.started_at >= p_from AND e.started_at < upto;

    BEGIN
        DELETE FROM parallax.bins b WHERE b.bin_start >= p_from;
        DELETE FROM parallax.outage_events e WHERE e.started_at >= p_from;
        DELETE FROM parallax.merge_dirty;
        PERFORM parallax.merge_mark(p_from, p_scratch);
        LOOP
            rounds := rounds + 1;
            EXIT WHEN parallax.merge_run(p_scratch) = 0 OR rounds > 10000;
        END LOOP;
        WITH scratch_bins AS (
            SELECT b.scope, b.subject_id, b.bin_start, b.state, b.evidence FROM parallax.bins b
            WHERE b.bin_start >= p_from AND b.bin_start < upto
        ),
        bin_diffs AS (
            SELECT coalesce(o.scope, n.scope) AS scope, coalesce(o.subject_id, n.subject_id) AS subject_id,
                   coalesce(o.bin_start, n.bin_start) AS at,
                   CASE WHEN coalesce(o.state, 'unknown') IN ('unknown', 'no_data')
                             AND coalesce(n.state, 'unknown') IN ('unknown', 'no_data')
                             AND (o.state IS NULL OR n.state IS NULL) THEN NULL
                        WHEN o.state IS DISTINCT FROM n.state THEN 'bin'
                        WHEN o.evidence IS DISTINCT FROM n.evidence THEN 'evidence' END AS kind,
                   CASE WHEN o.state IS DISTINCT FROM n.state THEN o.state ELSE o.evidence::text END AS stored,
                   CASE WHEN o.state IS DISTINCT FROM n.state THEN n.state ELSE n.evidence::text END AS scratch
            FROM pg_temp.verify_bins o
            FULL JOIN scratch_bins n USING (scope, subject_id, bin_start)
        ),
        scratch_outages AS (
            SELECT e.scope, e.subject, e.started_at, e.ended_at, e.stage FROM parallax.outage_events e
            WHERE e.started_at >= p_from AND e.started_at < upto
        ),
        outage_diffs AS (
            SELECT coalesce(o.scope, n.scope) AS scope, coalesce(o.subject, n.subject) AS subject,
                   coalesce(o.started_at, n.started_at) AS at,
                   CASE WHEN o.scope IS NULL OR n.scope IS NULL THEN 'outage'
                        -- An end is known only once close_after good bins follow it, all of
                        -- them before upto: the stored merge may not have merged them yet.
                        WHEN coalesce(o.ended_at, 'infinity') >= upto - s.close_after * margin
                             AND coalesce(n.ended_at, 'infinity') >= upto - s.close_after * margin
                            THEN NULL
                        WHEN (o.ended_at, o.stage) IS DISTINCT FROM (n.ended_at, n.stage) THEN 'outage' END AS kind,
                   CASE WHEN o.scope IS NULL THEN 'none' ELSE o.stage || ' until ' || coalesce(o.ended_at::text, 'open') END AS stored,
                   CASE WHEN n.scope IS NULL THEN 'none' ELSE n.stage || ' until ' || coalesce(n.ended_at::text, 'open') END AS scratch
            FROM pg_temp.verify_outages o
            FULL JOIN scratch_outages n USING (scope, subject, started_at)
        )
        SELECT coalesce(jsonb_agg(to_jsonb(d) ORDER BY d.at, d.scope, d.subject), '[]') INTO found_rows
        FROM (
            SELECT bd.kind, bd.scope,
                   coalesce(CASE bd.scope
                                WHEN 'vantage' THEN (SELECT a.name FROM parallax.agents a WHERE a.id = bd.subject_id)
                                WHEN 'target' THEN (SELECT t.name FROM parallax.targets t WHERE t.id = bd.subject_id)
                                ELSE (SELECT g.name FROM parallax.merge_groups g WHERE g.id = bd.subject_id) END,
                            '#' || bd.subject_id) AS subject,
                   bd.at, bd.stored, bd.scratch
            FROM bin_diffs bd WHERE bd.kind IS NOT NULL
            UNION ALL
            SELECT od.kind, od.scope, od.subject, od.at, od.stored, od.scratch
            FROM outage_diffs od WHERE od.kind IS NOT NULL
        ) d;
        -- Undo the scratch merge: everything since BEGIN rolls back, found_rows stays.
        RAISE EXCEPTION USING ERRCODE = 'PXVR0', MESSAGE = 'parallax verify: rolling back the scratch merge';
    EXCEPTION WHEN SQLSTATE 'PXVR0' THEN
        NULL;
    END;
    RETURN QUERY
    SELECT 'span', NULL::text, NULL::text, upto, 'from ' || p_from::text, rounds::text || ' merge calls';
    RETURN QUERY
    SELECT x.kind, x.scope, x.subject, x.at, x.stored, x.scratch
    FROM jsonb_to_recordset(found_rows) AS x (kind text, scope text, subject text, at timestamptz,
                                              stored text, scratch text);
END $$;
