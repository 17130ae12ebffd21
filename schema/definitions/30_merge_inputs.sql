-- 30_merge_inputs: what the merge reads: bin arithmetic, and the triggers that mark the bins each
-- insert of results, gaps and heartbeats touches (merge_dirty), so merging is incremental.
-- Installed by every `parallaxctl db migrate` after the migrations (CREATE OR REPLACE), in
-- file order, in one transaction with check_function_bodies off. A change CREATE OR REPLACE
-- cannot make (a view's columns, a function's result type) needs a DROP in a new migration.

-- The helpers below are single SELECT expressions so that the planner inlines them: the
-- merge calls them for every result of a bin.

-- The start of the width_s-second bin holding ts, bins aligned to the UTC epoch like the
-- agents' schedules.
CREATE OR REPLACE FUNCTION parallax.bin_floor(ts timestamptz, width_s integer) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT date_bin(width_s * interval '1 second', ts, timestamptz '1970-01-01 00:00:00+00') $$;

-- An agent's correction, as an interval to subtract from its timestamps.
CREATE OR REPLACE FUNCTION parallax.clock_offset(offset_ms integer) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(offset_ms, 0) * interval '1 millisecond' $$;

-- A target's bin is its probe interval; with several probes the longest, so that every probe
-- has a run in every bin.
CREATE OR REPLACE FUNCTION parallax.target_bin_s(target_id integer) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT max(p.interval_s) FROM parallax.probes p WHERE p.target_id = target_bin_s.target_id $$;

-- Every probe with its target's bin width (target_bin_s of all targets at once) and whether
-- its target is a control. Join results to this rather than call target_bin_s per result:
-- each call runs a query, and for a day of results that was most of the statement.
CREATE OR REPLACE FUNCTION parallax.probe_widths()
RETURNS TABLE (probe_id bigint, target_id integer, control boolean, width integer)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT p.id, p.target_id, t.control, max(p.interval_s) OVER (PARTITION BY p.target_id)
FROM parallax.probes p
JOIN parallax.targets t ON t.id = p.target_id
$$;

-- Runs of a target's probes in one of its bins, from one vantage.
CREATE OR REPLACE FUNCTION parallax.target_runs(target_id integer) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT sum(m.widest / p.interval_s)::integer
FROM parallax.probes p
CROSS JOIN (SELECT max(q.interval_s) AS widest FROM parallax.probes q
            WHERE q.target_id = target_runs.target_id) m
WHERE p.target_id = target_runs.target_id
$$;

-- The widest target bin there is: how far back a bin overlapping a given time may start.
CREATE OR REPLACE FUNCTION parallax.widest_bin() RETURNS interval
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT coalesce(max(interval_s), 1) * interval '1 second' FROM parallax.probes $$;

-- How long after its end a bin of this width waits for late-but-on-time results.
CREATE OR REPLACE FUNCTION parallax.merge_grace(width_s integer, s parallax.merge_settings) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (s.grace_bins * width_s + s.grace_s) * interval '1 second' $$;

-- When a bin may be merged. A target bin also waits for the vantage bins its results fall
-- in, since its verdict counts only vantages healthy at the time.
CREATE OR REPLACE FUNCTION parallax.merge_closes_at(scope text, bin_end timestamptz, width_s integer,
                                         s parallax.merge_settings)
RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT CASE scope
    WHEN 'target' THEN greatest(
        bin_end + (s.grace_bins * width_s + s.grace_s) * interval '1 second',
        date_bin(s.vantage_bin_s * interval '1 second', bin_end - interval '1 microsecond',
                 timestamptz '1970-01-01 00:00:00+00')
            + (s.vantage_bin_s + s.grace_bins * s.vantage_bin_s + s.grace_s) * interval '1 second')
    ELSE bin_end + (s.grace_bins * width_s + s.grace_s) * interval '1 second' END
$$;

-- The triggers that queue bins read the settings in force (auto widths resolved). They only
-- append to merge_inbox, with plain INSERTs that lock no existing row, so an ingest never
-- waits for a merge nor takes locks in an order that could deadlock with one; merge_run
-- folds the inbox into merge_dirty (merge_collect). Its rows commit with the results they
-- name, so a merge that takes them sees those results.
-- Marks the target bins and vantage bins that new results fall in, and counts a target
-- bin's results: once every enabled vantage has reported every run, it closes at its last
-- run (in the past by the time the results are in) instead of waiting for its grace.
CREATE OR REPLACE FUNCTION parallax.mark_results_dirty() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    s parallax.merge_settings;
    vb integer;
    vantages integer := (SELECT count(*) FROM parallax.agents WHERE enabled);
BEGIN
    s := parallax.merge_settings_now();
    vb := s.vantage_bin_s;
    WITH placed AS (
        SELECT n.agent_id, n.probe_id, n.ts - parallax.clock_offset(a.clock_offset_ms) AS at
        FROM new_results n
        LEFT JOIN parallax.agents a ON a.id = n.agent_id
    ),
    probe_bins AS MATERIALIZED (
        -- Once per probe: inlined into the join below, the planner would work out a
        -- target's width and runs again for every result.
        SELECT p.id AS probe_id, p.target_id, parallax.target_bin_s(p.target_id) AS width,
               vantages * parallax.target_runs(p.target_id) AS expected
        FROM parallax.probes p
        JOIN parallax.targets t ON t.id = p.target_id
        WHERE NOT t.control AND p.id IN (SELECT DISTINCT probe_id FROM new_results)
    ),
    target_bins AS (
        SELECT pb.target_id, parallax.bin_floor(placed.at, pb.width) AS bin_start, pb.width,
               count(*)::integer AS results, min(pb.expected) AS expected, max(placed.at) AS last_run
        FROM placed JOIN probe_bins pb USING (probe_id)
        GROUP BY 1, 2, 3
    ),
    vantage_bins AS (
        SELECT DISTINCT agent_id, parallax.bin_floor(at, vb) AS bin_start FROM placed
    )
    INSERT INTO parallax.merge_inbox (scope, subject_id, bin_start, bin_end, closes_at, results,
                                      expected, last_run)
    SELECT 'target', target_id, bin_start, bin_start + width * interval '1 second',
           parallax.merge_closes_at('target', bin_start + width * interval '1 second', width, s),
           results, expected, last_run
    FROM target_bins
    UNION ALL
    SELECT 'vantage', agent_id, bin_start, bin_start + vb * interval '1 second',
           parallax.merge_closes_at('vantage', bin_start + vb * interval '1 second', vb, s), 0, NULL, NULL
    FROM vantage_bins;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER results_mark_dirty AFTER INSERT ON parallax.results
    REFERENCING NEW TABLE AS new_results
    FOR EACH STATEMENT EXECUTE FUNCTION parallax.mark_results_dirty();

-- A gap turns the agent's bins it overlaps into "no data": its vantage bins, and the target
-- bins its remaining results in that span fall in.
CREATE OR REPLACE FUNCTION parallax.mark_gaps_dirty() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    s parallax.merge_settings;
    vb integer;
    widest interval := parallax.widest_bin();
BEGIN
    s := parallax.merge_settings_now();
    vb := s.vantage_bin_s;
    WITH g AS (
        SELECT n.agent_id, n.probe_id, n.ts_from - o.off AS at_from, n.ts_to - o.off AS at_to, o.off
        FROM new_gaps n
        JOIN parallax.agents a ON a.id = n.agent_id
        CROSS JOIN LATERAL (SELECT parallax.clock_offset(a.clock_offset_ms) AS off) o
    ),
    target_bins AS (
        SELECT DISTINCT h.target_id, h.bin_start, h.width
        FROM g
        CROSS JOIN LATERAL (
            -- OFFSET 0: an index range scan per gap, never a whole partition.
            SELECT r.ts, r.probe_id FROM parallax.results r
            WHERE r.agent_id = g.agent_id
              AND r.ts >= g.at_from + g.off - widest AND r.ts <= g.at_to + g.off + widest
              AND (g.probe_id IS NULL OR r.probe_id = g.probe_id) OFFSET 0) r
        JOIN parallax.probe_widths() w ON w.probe_id = r.probe_id AND NOT w.control
        CROSS JOIN LATERAL (SELECT w.target_id, w.width,
                                   parallax.bin_floor(r.ts - g.off, w.width) AS bin_start) h
        WHERE h.bin_start <= g.at_to AND h.bin_start + h.width * interval '1 second' > g.at_from
    ),
    vantage_bins AS (
        SELECT DISTINCT g.agent_id, b AS bin_start
        FROM g CROSS JOIN LATERAL generate_series(parallax.bin_floor(g.at_from, vb), g.at_to,
                                                  vb * interval '1 second') b
        WHERE g.probe_id IS NULL
    )
    INSERT INTO parallax.merge_inbox (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'target', target_id, bin_start, bin_start + width * interval '1 second',
           parallax.merge_closes_at('target', bin_start + width * interval '1 second', width, s)
    FROM target_bins
    UNION ALL
    SELECT 'vantage', agent_id, bin_start, bin_start + vb * interval '1 second',
           parallax.merge_closes_at('vantage', bin_start + vb * interval '1 second', vb, s)
    FROM vantage_bins;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER gaps_mark_dirty AFTER INSERT ON parallax.gaps
    REFERENCING NEW TABLE AS new_gaps
    FOR EACH STATEMENT EXECUTE FUNCTION parallax.mark_gaps_dirty();

-- A heartbeat for a bin the sweep already judged (a late one) makes that bin dirty again;
-- live heartbeats are for bins the sweep has yet to reach and cost nothing here.
CREATE OR REPLACE FUNCTION parallax.mark_heartbeats_dirty() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    s parallax.merge_settings;
    vb integer;
    swept timestamptz := (SELECT vantages_swept_to FROM parallax.merge_state);
BEGIN
    s := parallax.merge_settings_now();
    vb := s.vantage_bin_s;
    IF swept IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO parallax.merge_inbox (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT DISTINCT 'vantage', n.agent_id, parallax.bin_floor(n.ts, vb),
           parallax.bin_floor(n.ts, vb) + vb * interval '1 second',
           parallax.merge_closes_at('vantage', parallax.bin_floor(n.ts, vb) + vb * interval '1 second', vb, s)
    FROM new_heartbeats n
    WHERE n.ts < swept;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER heartbeats_mark_dirty AFTER INSERT ON parallax.heartbeats
    REFERENCING NEW TABLE AS new_heartbeats
    FOR EACH STATEMENT EXECUTE FUNCTION parallax.mark_heartbeats_dirty();

-- Folds merge_inbox into merge_dirty: one dirty row per bin, its result count summed, closing
-- at the earliest time any insert asked for, or at its last run once the results of every
-- run are in. merge_run calls it first, under the merge's lock, and so is the only writer of
-- merge_dirty; rows appended by transactions still running are left for the next call.
-- Returns the number of bins queued or updated. Call it to see in merge_dirty everything
-- queued so far (merge_queue shows both tables without changing them).
CREATE OR REPLACE FUNCTION parallax.merge_collect() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    folded integer;
BEGIN
    -- "PXMERG" read as a big-endian number, as in merge_run (which holds it already).
    PERFORM pg_advisory_xact_lock(88340183732807);
    WITH taken AS (
        DELETE FROM parallax.merge_inbox RETURNING *
    ),
    bins AS (
        SELECT scope, subject_id, bin_start, max(bin_end) AS bin_end, min(closes_at) AS closes_at,
               sum(results)::integer AS results, min(expected) AS expected, max(last_run) AS last_run
        FROM taken
        GROUP BY scope, subject_id, bin_start
    )
    INSERT INTO parallax.merge_dirty AS d (scope, subject_id, bin_start, bin_end, closes_at, results,
                                           expected, last_run)
    SELECT scope, subject_id, bin_start, bin_end,
           least(closes_at, CASE WHEN results >= expected THEN last_run END),
           results, expected, last_run
    FROM bins
    ON CONFLICT (scope, subject_id, bin_start) DO UPDATE
        SET results = d.results + EXCLUDED.results,
            expected = coalesce(d.expected, EXCLUDED.expected),
            last_run = greatest(d.last_run, EXCLUDED.last_run),
            closes_at = least(d.closes_at, EXCLUDED.closes_at,
                              CASE WHEN d.results + EXCLUDED.results >= coalesce(d.expected, EXCLUDED.expected)
                                   THEN greatest(d.last_run, EXCLUDED.last_run) END);
    GET DIAGNOSTICS folded = ROW_COUNT;
    RETURN folded;
END $$;

-- Every bin waiting to be merged, whether merge_run has collected it yet or not (a bin may
-- appear more than once): for "has the merge caught up?" and for monitoring the backlog.
CREATE OR REPLACE VIEW parallax.merge_queue AS
SELECT 'dirty' AS queue, scope, subject_id, bin_start, bin_end, closes_at FROM parallax.merge_dirty
UNION ALL
SELECT 'inbox', scope, subject_id, bin_start, bin_end, closes_at FROM parallax.merge_inbox;
