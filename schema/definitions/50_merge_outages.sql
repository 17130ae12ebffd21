-- 50_merge_outages: outages with hysteresis over the per-bin verdicts, and merge_run, the one
-- function the coordinator calls; merge_mark queues a span to be merged again.
-- Installed by every `parallaxctl db migrate` after the migrations (CREATE OR REPLACE), in
-- file order, in one transaction with check_function_bodies off. A change CREATE OR REPLACE
-- cannot make (a view's columns, a function's result type) needs a DROP in a new migration.

-- The contract: one row per outage; ended_at NULL while it lasts; stage the worst reached
-- (target: degraded/partial/down; group: degraded/servers_offline/dns_down/blackout;
-- vantage: impaired/offline); detail the evidence (first_reached: when each stage was first
-- seen; agreeing/disagreeing vantages; dominant_failure and failures per status; bin
-- counts; down_targets for groups; maintenance: true when a bad bin of it fell in a
-- maintenance window of its subject, or of a target's group).
CREATE OR REPLACE VIEW parallax.outages AS
SELECT id, scope, subject, started_at, ended_at, stage, detail
FROM parallax.outage_events;

COMMENT ON VIEW parallax.outages IS 'Outage events (scope target|group|vantage); ended_at NULL while open; stage = worst reached; detail = evidence (detail.maintenance: in a maintenance window).';

-- One step of the outage tracker, a pure function of the state after the previous bin and
-- this bin's verdict (bad true/false/NULL). An outage opens after open_after bad bins in a
-- row and starts at the first of them; it closes after close_after good bins in a row and
-- ends where they began. Unknown bins (bad NULL) neither count nor break a run, so a vantage
-- going blind does not end an outage.
CREATE OR REPLACE FUNCTION parallax.outage_step(
    was_open boolean, streak integer, streak_start timestamptz, outage_start timestamptz,
    bad boolean, bin_start timestamptz, open_after integer, close_after integer)
RETURNS TABLE (is_open boolean, next_streak integer, next_streak_start timestamptz,
               next_outage_start timestamptz, ended_at timestamptz)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- One SELECT, so that the planner inlines it into the tracker's statement. "moves": the bin
-- argues for the other state (bad while quiet, good while open); "flips": that argument has
-- now lasted long enough.
AS $$
SELECT was_open <> f.flips,
       CASE WHEN f.flips THEN 0 ELSE m.streak END,
       CASE WHEN f.flips THEN NULL ELSE m.streak_start END,
       CASE WHEN f.flips AND NOT was_open THEN m.streak_start
            WHEN was_open THEN outage_start END,
       CASE WHEN f.flips AND was_open THEN m.streak_start END
FROM (SELECT CASE WHEN bad IS NULL THEN streak WHEN bad <> was_open THEN streak + 1 ELSE 0 END AS streak,
             CASE WHEN bad IS NULL THEN streak_start
                  WHEN bad <> was_open THEN CASE WHEN streak = 0 THEN bin_start ELSE streak_start END
             END AS streak_start,
             coalesce(bad <> was_open, false) AS moves) m
CROSS JOIN LATERAL (
    SELECT m.moves AND m.streak >= CASE WHEN was_open THEN close_after ELSE open_after END AS flips) f
$$;

-- Sorted set union and difference of two JSON arrays of names, and the sum of two JSON
-- count maps: outage details are built from these so a new bin can be folded into an
-- existing outage without re-reading its past.
CREATE OR REPLACE FUNCTION parallax.jsonb_union(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT coalesce(jsonb_agg(DISTINCT x ORDER BY x), '[]')
FROM (SELECT jsonb_array_elements_text(coalesce(a, '[]'))
      UNION ALL SELECT jsonb_array_elements_text(coalesce(b, '[]'))) t(x)
$$;

CREATE OR REPLACE FUNCTION parallax.jsonb_minus(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT coalesce(jsonb_agg(DISTINCT x ORDER BY x), '[]')
FROM jsonb_array_elements_text(coalesce(a, '[]')) x
WHERE NOT coalesce(b, '[]') ? x
$$;

CREATE OR REPLACE FUNCTION parallax.jsonb_add_counts(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT coalesce(jsonb_object_agg(key, n), '{}')
FROM (SELECT key, sum(value::numeric) AS n
      FROM (SELECT * FROM jsonb_each(coalesce(a, '{}')) UNION ALL SELECT * FROM jsonb_each(coalesce(b, '{}'))) e
      GROUP BY key) t
$$;

-- The key with the largest count (ties: the first by name).
CREATE OR REPLACE FUNCTION parallax.jsonb_top(counts jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT key FROM jsonb_each(counts) ORDER BY value::numeric DESC, key LIMIT 1 $$;

-- Re-runs the tracker over every subject merge_run touched, from its earliest merged bin to
-- its latest stored bin, starting from the state saved in the bin before; then updates the
-- outage events those bins belong to (extending an open one when only new bins came,
-- rebuilding them otherwise), keeping the ids of events that still exist.
CREATE OR REPLACE FUNCTION parallax.merge_outages() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    s parallax.merge_settings;
    steps integer;
BEGIN
    SELECT * INTO s FROM parallax.merge_settings;
    IF to_regclass('pg_temp.merge_track') IS NULL THEN
        CREATE TEMP TABLE merge_track (
            scope        text NOT NULL,
            subject_id   integer NOT NULL,
            first        timestamptz NOT NULL,
            since        timestamptz NOT NULL,
            appending    boolean NOT NULL,
            open_before  timestamptz,
            is_open      boolean NOT NULL,
            streak       integer NOT NULL,
            streak_start timestamptz,
            outage_start timestamptz,
            ended_at     timestamptz,
            eventful     boolean NOT NULL,
            PRIMARY KEY (scope, subject_id)
        ) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE merge_track_bins (
            scope      text NOT NULL,
            subject_id integer NOT NULL,
            n          integer NOT NULL,
            bin_start  timestamptz NOT NULL,
            bad        boolean
        ) ON COMMIT DELETE ROWS;
        CREATE INDEX ON merge_track_bins (n);
    END IF;
    DELETE FROM pg_temp.merge_track;
    DELETE FROM pg_temp.merge_track_bins;

    -- since: where events may change. An outage open before the first merged bin, or a run
    -- of bad bins that may still become one, started earlier. appending: every merged bin
    -- is new and none follows them, so outages can be extended instead of rebuilt.
    -- Quiet subjects are left out: only new bins, none bad, after a bin with no outage and
    -- no run of bad bins. Their bins were inserted with exactly the state the tracker would
    -- give them, and on an ordinary bin that is nearly every subject.
    INSERT INTO pg_temp.merge_track
    SELECT m.scope, m.subject_id, m.first,
           least(m.first, CASE WHEN prev.h_open THEN prev.h_outage_start
                               WHEN prev.h_streak > 0 THEN prev.h_streak_start END),
           m.fresh AND NOT EXISTS (SELECT 1 FROM parallax.bins b
                                   WHERE b.scope = m.scope AND b.subject_id = m.subject_id
                                     AND b.bin_start > m.last),
           CASE WHEN prev.h_open THEN prev.h_outage_start END,
           coalesce(prev.h_open, false), coalesce(prev.h_streak, 0), prev.h_streak_start,
           CASE WHEN prev.h_open THEN prev.h_outage_start END, NULL,
           coalesce(prev.h_open OR prev.h_streak > 0, false)
    FROM (SELECT scope, subject_id, min(bin_start) AS first, max(bin_start) AS last,
                 bool_and(fresh) AS fresh, coalesce(bool_or(bad), false) AS any_bad
          FROM pg_temp.merge_merged GROUP BY scope, subject_id
          -- Known quiet already (merge_target_bins looked at the bin before): no lookups.
          HAVING NOT bool_and(coalesce(quiet, false))) m
    LEFT JOIN LATERAL (
        SELECT b.h_open, b.h_streak, b.h_streak_start, b.h_outage_start
        FROM parallax.bins b
        WHERE b.scope = m.scope AND b.subject_id = m.subject_id AND b.bin_start < m.first
        ORDER BY b.bin_start DESC LIMIT 1
    ) prev ON true
    CROSS JOIN LATERAL (
        SELECT m.fresh AND NOT m.any_bad AND NOT coalesce(prev.h_open OR prev.h_streak > 0, false)
               AND NOT EXISTS (SELECT 1 FROM parallax.bins b
                               WHERE b.scope = m.scope AND b.subject_id = m.subject_id
                                 AND b.bin_start > m.last) AS quiet
    ) q
    WHERE NOT q.quiet;

    INSERT INTO pg_temp.merge_track_bins
    SELECT b.scope, b.subject_id,
           row_number() OVER (PARTITION BY b.scope, b.subject_id ORDER BY b.bin_start),
           b.bin_start, b.bad
    FROM pg_temp.merge_track m
    -- Here and below, OFFSET 0 keeps each subject's bins a primary-key range scan: joined
    -- wholesale, the planner may read every bin ever stored.
    CROSS JOIN LATERAL (
        SELECT b.scope, b.subject_id, b.bin_start, b.bad FROM parallax.bins b
        WHERE b.scope = m.scope AND b.subject_id = m.subject_id AND b.bin_start >= m.first OFFSET 0) b;
    ANALYZE pg_temp.merge_track;
    ANALYZE pg_temp.merge_track_bins;

    -- Step k moves every subject over its k-th bin: usually one step in all. A subject is
    -- "eventful" if any of its bins belongs to an outage, before or after this run; only
    -- those have events to rebuild.
    steps := (SELECT max(n) FROM pg_temp.merge_track_bins);
    FOR k IN 1 .. coalesce(steps, 0) LOOP
        WITH stepped AS (
            SELECT tr.scope, tr.subject_id, q.bin_start, x.*,
                   x.next_outage_start IS NOT NULL OR b.h_outage_start IS NOT NULL AS eventful
            FROM pg_temp.merge_track tr
            JOIN pg_temp.merge_track_bins q ON q.scope = tr.scope AND q.subject_id = tr.subject_id AND q.n = k
            CROSS JOIN LATERAL (
                SELECT b.h_outage_start FROM parallax.bins b
                WHERE b.scope = q.scope AND b.subject_id = q.subject_id AND b.bin_start = q.bin_start OFFSET 0) b
            CROSS JOIN LATERAL parallax.outage_step(tr.is_open, tr.streak, tr.streak_start, tr.outage_start,
                                                    q.bad, q.bin_start, s.open_after, s.close_after) x
        ),
        tracked AS (
            UPDATE pg_temp.merge_track tr
            SET is_open = st.is_open, streak = st.next_streak, streak_start = st.next_streak_start,
                outage_start = st.next_outage_start, ended_at = st.ended_at,
                eventful = tr.eventful OR st.eventful
            FROM stepped st
            WHERE tr.scope = st.scope AND tr.subject_id = st.subject_id
        )
        UPDATE parallax.bins b
        SET h_open = st.is_open, h_streak = st.next_streak, h_streak_start = st.next_streak_start,
            h_outage_start = st.next_outage_start, h_ended_at = st.ended_at
        FROM stepped st
        WHERE b.scope = st.scope AND b.subject_id = st.subject_id AND b.bin_start = st.bin_start;
    END LOOP;
    DELETE FROM pg_temp.merge_track WHERE NOT eventful;
    IF NOT EXISTS (SELECT 1 FROM pg_temp.merge_track) THEN
        RETURN;
    END IF;

    -- Events that no longer follow from the bins (late results changed history) go.
    DELETE FROM parallax.outage_events e
    USING pg_temp.merge_track tr
    WHERE NOT tr.appending
      AND e.scope = tr.scope AND e.subject_id = tr.subject_id AND e.started_at >= tr.since
      AND NOT EXISTS (SELECT 1 FROM parallax.bins b
                      WHERE b.scope = e.scope AND b.subject_id = e.subject_id
                        AND b.bin_start >= tr.since AND b.h_outage_start = e.started_at);

    -- Each outage is summarised from its bins from "part_from" on: all of them, except for
    -- an outage already open before this run when only new bins were appended: then just
    -- those, folded into the stored event. So a long outage costs the same per bin as a
    -- short one.
    WITH found AS (
        SELECT b.scope, b.subject_id, b.h_outage_start AS started_at, max(b.h_ended_at) AS ended_at,
               tr.appending AND b.h_outage_start = tr.open_before AS extending,
               CASE WHEN tr.appending AND b.h_outage_start = tr.open_before THEN tr.first
                    ELSE b.h_outage_start END AS part_from
        FROM pg_temp.merge_track tr
        CROSS JOIN LATERAL (
            SELECT b.scope, b.subject_id, b.h_outage_start, b.h_ended_at FROM parallax.bins b
            WHERE b.scope = tr.scope AND b.subject_id = tr.subject_id
              AND b.bin_start >= CASE WHEN tr.appending THEN tr.first ELSE tr.since END
              AND b.h_outage_start IS NOT NULL OFFSET 0) b
        GROUP BY b.scope, b.subject_id, b.h_outage_start, tr.appending, tr.first, tr.open_before
    ),
    retracted AS (
        -- An extended outage that has just closed ends where its closing run of good bins
        -- began; those bins were counted while it was open and are taken back.
        SELECT f.scope, f.subject_id, f.started_at,
               jsonb_build_object('good', -count(*) FILTER (WHERE NOT b.bad),
                                  'unknown', -count(*) FILTER (WHERE b.bad IS NULL)) AS bins
        FROM found f
        CROSS JOIN LATERAL (
            SELECT b.bad FROM parallax.bins b
            WHERE b.scope = f.scope AND b.subject_id = f.subject_id
              AND b.bin_start >= f.ended_at AND b.bin_start < f.part_from OFFSET 0) b
        WHERE f.extending AND f.ended_at < f.part_from
        GROUP BY f.scope, f.subject_id, f.started_at
    ),
    spans AS (
        SELECT f.scope, f.subject_id, f.started_at, b.bin_start, b.state, b.rank, b.bad, b.evidence
        FROM found f
        CROSS JOIN LATERAL (
            SELECT b.bin_start, b.state, b.rank, b.bad, b.evidence FROM parallax.bins b
            WHERE b.scope = f.scope AND b.subject_id = f.subject_id
              AND b.bin_start >= f.part_from AND b.bin_start < coalesce(f.ended_at, 'infinity') OFFSET 0) b
    ),
    summary AS (
        SELECT scope, subject_id, started_at,
               (array_agg(state ORDER BY rank DESC, bin_start) FILTER (WHERE bad))[1] AS stage,
               count(*) FILTER (WHERE bad) AS bad_bins,
               count(*) FILTER (WHERE NOT bad) AS good_bins,
               count(*) FILTER (WHERE bad IS NULL) AS unknown_bins,
               -- Bad bins only: they are never taken back when an extended outage closes.
               coalesce(bool_or((evidence->>'maintenance')::boolean) FILTER (WHERE bad), false) AS maintenance,
               -- The routes evidence of the bin where the worst stage was first reached.
               (array_agg(evidence->'routes' || jsonb_build_object('stage', state) ORDER BY rank DESC, bin_start)
                    FILTER (WHERE bad AND evidence ? 'routes'))[1] AS routes,
               max(rank) FILTER (WHERE bad AND evidence ? 'routes') AS routes_rank
        FROM spans
        GROUP BY scope, subject_id, started_at
    ),
    failures AS (
        SELECT scope, subject_id, started_at, jsonb_object_agg(failure, n) AS failures
        FROM (SELECT scope, subject_id, started_at,
                     coalesce(evidence->>'failure', evidence->>'control_failure') AS failure, count(*) AS n
              FROM spans WHERE bad GROUP BY 1, 2, 3, 4) f
        WHERE failure IS NOT NULL
        GROUP BY scope, subject_id, started_at
    ),
    firsts AS (
        SELECT scope, subject_id, started_at, jsonb_object_agg(state, first) AS first_reached
        FROM (SELECT scope, subject_id, started_at, state, min(bin_start) AS first
              FROM spans WHERE bad GROUP BY scope, subject_id, started_at, state) f
        GROUP BY scope, subject_id, started_at
    ),
    witnesses AS (
        -- Target and group bins name the vantages that saw failures and those that did not.
        SELECT sp.scope, sp.subject_id, sp.started_at,
               jsonb_agg(DISTINCT v.name) FILTER (WHERE v.agrees) AS agreeing,
               jsonb_agg(DISTINCT v.name) FILTER (WHERE NOT v.agrees) AS seen_fine,
               jsonb_agg(DISTINCT v.name) FILTER (WHERE v.down_target) AS down_targets
        FROM spans sp
        CROSS JOIN LATERAL (
            SELECT true AS agrees, false AS down_target, x AS name
            FROM jsonb_array_elements_text(coalesce(sp.evidence->'failed', '[]')
                                           || coalesce(sp.evidence->'mixed', '[]')
                                           || coalesce(sp.evidence->'failing_vantages', '[]')) x
            UNION ALL
            SELECT false, false, x
            FROM jsonb_array_elements_text(coalesce(sp.evidence->'reached', '[]')
                                           || coalesce(sp.evidence->'other_vantages', '[]')) x
            UNION ALL
            SELECT NULL, true, x FROM jsonb_array_elements_text(coalesce(sp.evidence->'down_targets', '[]')) x
        ) v
        WHERE sp.bad AND sp.scope <> 'vantage'
        GROUP BY sp.scope, sp.subject_id, sp.started_at
        UNION ALL
        -- A vantage's peers: impaired or offline at the same time, or healthy.
        SELECT sp.scope, sp.subject_id, sp.started_at,
               jsonb_agg(DISTINCT a.name) FILTER (WHERE o.bad),
               jsonb_agg(DISTINCT a.name) FILTER (WHERE NOT o.bad),
               NULL
        FROM spans sp
        JOIN parallax.agents a ON a.id <> sp.subject_id
        CROSS JOIN LATERAL (
            SELECT o.bad FROM parallax.bins o
            WHERE o.scope = 'vantage' AND o.subject_id = a.id AND o.bin_start = sp.bin_start OFFSET 0) o
        WHERE sp.bad AND sp.scope = 'vantage'
        GROUP BY sp.scope, sp.subject_id, sp.started_at
    ),
    combined AS (
        -- This part's summary, plus the stored event's when extending it.
        SELECT f.scope, f.subject_id, f.started_at, f.ended_at,
               CASE WHEN e.stage IS NULL
                         OR parallax.merge_rank(su.stage) > parallax.merge_rank(e.stage) THEN su.stage
                    ELSE e.stage END AS stage,
               coalesce(fi.first_reached, '{}') || coalesce(e.detail->'first_reached', '{}') AS first_reached,
               parallax.jsonb_union(w.agreeing, e.detail->'agreeing') AS agreeing,
               parallax.jsonb_union(w.seen_fine, e.detail->'disagreeing') AS seen_fine,
               parallax.jsonb_add_counts(fa.failures, e.detail->'failures') AS failures,
               parallax.jsonb_union(w.down_targets, e.detail->'down_targets') AS down_targets,
               parallax.jsonb_add_counts(parallax.jsonb_add_counts(
                   jsonb_build_object('bad', coalesce(su.bad_bins, 0), 'good', coalesce(su.good_bins, 0),
                                      'unknown', coalesce(su.unknown_bins, 0)),
                   e.detail->'bins'), re.bins) AS bins,
               coalesce(su.maintenance, false) OR coalesce((e.detail->>'maintenance')::boolean, false) AS maintenance,
               -- Of the stored and this part's, the one of the worse stage (the earlier of equals).
               CASE WHEN e.detail->'routes' IS NULL
                         OR su.routes_rank > parallax.merge_rank(e.detail->'routes'->>'stage')
                    THEN coalesce(su.routes, e.detail->'routes')
                    ELSE e.detail->'routes' END AS routes
        FROM found f
        -- Empty when only the closing bins are new: they lie after the outage's end.
        LEFT JOIN summary su USING (scope, subject_id, started_at)
        LEFT JOIN failures fa USING (scope, subject_id, started_at)
        LEFT JOIN firsts fi USING (scope, subject_id, started_at)
        LEFT JOIN witnesses w USING (scope, subject_id, started_at)
        LEFT JOIN retracted re USING (scope, subject_id, started_at)
        LEFT JOIN parallax.outage_events e ON f.extending AND e.scope = f.scope
             AND e.subject_id = f.subject_id AND e.started_at = f.started_at
    ),
    built AS (
        SELECT c.scope, c.subject_id, c.started_at, c.ended_at, c.stage,
               coalesce(CASE c.scope
                            WHEN 'vantage' THEN (SELECT a.name FROM parallax.agents a WHERE a.id = c.subject_id)
                            WHEN 'target' THEN (SELECT t.name FROM parallax.targets t WHERE t.id = c.subject_id)
                            ELSE (SELECT g.name FROM parallax.merge_groups g WHERE g.id = c.subject_id) END,
                        '#' || c.subject_id) AS subject,
               jsonb_build_object(
                   'first_reached', c.first_reached,
                   'agreeing', c.agreeing,
                   'disagreeing', parallax.jsonb_minus(c.seen_fine, c.agreeing),
                   'dominant_failure', parallax.jsonb_top(c.failures),
                   'failures', c.failures,
                   'bins', c.bins,
                   'maintenance', CASE WHEN c.maintenance THEN true END)
               || CASE WHEN c.scope = 'group' THEN jsonb_build_object('down_targets', c.down_targets,
                                                                      'routes', c.routes)
                       ELSE '{}' END AS detail
        FROM combined c
        WHERE c.stage IS NOT NULL
    )
    INSERT INTO parallax.outage_events AS e (scope, subject_id, subject, started_at, ended_at, stage, detail)
    SELECT scope, subject_id, subject, started_at, ended_at, stage, jsonb_strip_nulls(detail) FROM built
    ON CONFLICT (scope, subject_id, started_at) DO UPDATE
        SET subject = EXCLUDED.subject, ended_at = EXCLUDED.ended_at, stage = EXCLUDED.stage,
            detail = EXCLUDED.detail, updated_at = now()
        WHERE (e.subject, e.ended_at, e.stage, e.detail)
              IS DISTINCT FROM (EXCLUDED.subject, EXCLUDED.ended_at, EXCLUDED.stage, EXCLUDED.detail);
END $$;

-- Whether merge_run has anything to do at p_now: a dirty bin that has closed, or a vantage
-- bin the offline sweep has not judged (once results have started to arrive). Both are index
-- lookups.
CREATE OR REPLACE FUNCTION parallax.merge_due(p_now timestamptz) RETURNS boolean
LANGUAGE sql STABLE
RETURN EXISTS (SELECT 1 FROM parallax.merge_dirty WHERE closes_at <= p_now)
    OR (SELECT CASE WHEN st.vantages_swept_to IS NULL
                    THEN EXISTS (SELECT 1 FROM parallax.merge_dirty WHERE scope = 'vantage')
                    ELSE st.vantages_swept_to + s.vantage_bin_s * interval '1 second'
                         + parallax.merge_grace(s.vantage_bin_s, s) <= p_now END
        FROM parallax.merge_state st, parallax.merge_settings_now() s);

-- The coordinator's entry point, called about once a second and after each ingest: merges
-- every dirty bin that has closed by p_now (vantages, then targets, then groups, so each
-- level sees the one below), updates outage events, and returns the number of bins merged
-- (all scopes). Idempotent. Concurrent calls do not wait: all but one return 0 at once, and
-- whatever they would have merged is still dirty for the next call.
-- JIT is off: the merge is many small statements whose row estimates are often too high,
-- and compiling them costs more than running them. Joins are planned in the order they are
-- written (collapse limits 1): each statement starts from its work list and reaches the
-- big tables through index lookups, which is the plan wanted whatever the estimates say,
-- and searching join orders was a sixth of a merge's time (every statement is planned
-- anew on every call: its work lists are new). No merge joins: the runs of a bin are
-- estimated far too few, and a merge join on the agent alone then compared each run of a
-- 30-bin backlog with every vantage bin of it (8M comparisons, half the re-merge's time).
CREATE OR REPLACE FUNCTION parallax.merge_run(p_now timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql SET jit = off SET join_collapse_limit = 1 SET from_collapse_limit = 1
    SET enable_mergejoin = off AS $$
DECLARE
    merged integer;
    horizon timestamptz;
BEGIN
    -- "PXMERG" read as a big-endian number.
    IF NOT pg_try_advisory_xact_lock(88340183732807) THEN
        RETURN 0;
    END IF;
    -- What the ingest appended since the last call becomes dirty bins (this function is the
    -- only writer of merge_dirty).
    PERFORM parallax.merge_collect();
    IF NOT parallax.merge_due(p_now) THEN
        RETURN 0;
    END IF;
    PERFORM parallax.merge_prepare();
    -- The time the outage events of this merge are about (notify_now: an event about a time
    -- further back is late).
    PERFORM set_config('parallax.merge_now', p_now::text, true);
    PERFORM parallax.merge_sweep(p_now);
    -- A backlog is merged oldest first, run_max of it per call: the bins up to the horizon,
    -- as if the merge ran then (vantages before the targets of the same time still hold).
    horizon := least(p_now, (SELECT min(closes_at) FROM parallax.merge_dirty)
                            + (SELECT run_max FROM parallax.merge_settings));
    merged := parallax.merge_vantage_bins(horizon);
    merged := merged + parallax.merge_target_bins(horizon);
    merged := merged + parallax.merge_group_bins(horizon);
    IF merged > 0 THEN
        PERFORM parallax.merge_outages();
    END IF;
    PERFORM set_config('parallax.merge_now', '', true);
    RETURN merged;
END $$;

-- merge_mark and merge_mark_agent gather the bins they queue in merge_marked (one row a bin)
-- and append them to merge_inbox at the end, as the ingest does: they may run beside a merge
-- (parallaxctl settings set, a clock estimate on the coordinator's ingest connection) and
-- must neither wait for it nor lock rows it takes.
CREATE OR REPLACE FUNCTION parallax.merge_mark_begin() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF to_regclass('pg_temp.merge_marked') IS NULL THEN
        CREATE TEMP TABLE merge_marked (
            scope      text NOT NULL,
            subject_id integer NOT NULL,
            bin_start  timestamptz NOT NULL,
            bin_end    timestamptz NOT NULL,
            closes_at  timestamptz NOT NULL,
            PRIMARY KEY (scope, subject_id, bin_start)
        ) ON COMMIT DELETE ROWS;
    END IF;
    DELETE FROM pg_temp.merge_marked;
END $$;

-- Appends what merge_marked holds to the inbox, less the bins already waiting in
-- merge_dirty (read, not locked), and returns how many it appended.
CREATE OR REPLACE FUNCTION parallax.merge_mark_flush() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    queued integer;
BEGIN
    INSERT INTO parallax.merge_inbox (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT m.scope, m.subject_id, m.bin_start, m.bin_end, m.closes_at
    FROM pg_temp.merge_marked m
    WHERE NOT EXISTS (SELECT 1 FROM parallax.merge_dirty d
                      WHERE d.scope = m.scope AND d.subject_id = m.subject_id
                        AND d.bin_start = m.bin_start);
    GET DIAGNOSTICS queued = ROW_COUNT;
    DELETE FROM pg_temp.merge_marked;
    RETURN queued;
END $$;

-- Queues every bin between p_from and p_to for merging again: after a change of settings.
-- Vantage bins only where the agent has them (created, not yet disabled, swept, or where its
-- results fall). Returns the
-- number of bins queued that were not waiting already; merge_run does the work.
CREATE OR REPLACE FUNCTION parallax.merge_mark(p_from timestamptz, p_to timestamptz) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    s parallax.merge_settings := parallax.merge_settings_now();
    vwidth interval := s.vantage_bin_s * interval '1 second';
    gwidth interval := s.group_bin_s * interval '1 second';
    swept_from timestamptz := (SELECT vantages_swept_from FROM parallax.merge_state);
BEGIN
    PERFORM parallax.merge_mark_begin();
    INSERT INTO pg_temp.merge_marked (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'vantage', a.id, b, b + vwidth, parallax.merge_closes_at('vantage', b + vwidth, s.vantage_bin_s, s)
    FROM parallax.agents a
    CROSS JOIN generate_series(parallax.bin_floor(greatest(p_from, coalesce(swept_from, p_from)), s.vantage_bin_s),
                               p_to - interval '1 microsecond', vwidth) b
    WHERE a.created_at < b + vwidth
      AND (a.enabled OR a.disabled_at > b
           OR EXISTS (SELECT 1 FROM parallax.bins x WHERE x.scope = 'vantage' AND x.subject_id = a.id AND x.bin_start = b))
    ON CONFLICT DO NOTHING;
    -- And wherever results fall, as their insert trigger queued them (before the first sweep,
    -- too).
    INSERT INTO pg_temp.merge_marked (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'vantage', x.agent_id, x.bin_start, x.bin_start + vwidth,
           parallax.merge_closes_at('vantage', x.bin_start + vwidth, s.vantage_bin_s, s)
    FROM (
        SELECT DISTINCT r.agent_id,
               parallax.bin_floor(r.ts - parallax.clock_offset(a.clock_offset_ms), s.vantage_bin_s) AS bin_start
        FROM parallax.results r
        JOIN parallax.agents a ON a.id = r.agent_id
        WHERE r.ts >= p_from - interval '1 day' AND r.ts < p_to + interval '1 day') x
    WHERE x.bin_start >= parallax.bin_floor(p_from, s.vantage_bin_s) AND x.bin_start < p_to
    ON CONFLICT DO NOTHING;
    INSERT INTO pg_temp.merge_marked (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'target', b.subject_id, b.bin_start, b.bin_end,
           parallax.merge_closes_at('target', b.bin_end,
                                    coalesce(w.width, extract(epoch FROM b.bin_end - b.bin_start)::integer), s)
    FROM parallax.bins b
    -- A target whose probes are gone keeps the width of its bins.
    LEFT JOIN (SELECT DISTINCT target_id, width FROM parallax.probe_widths()) w ON w.target_id = b.subject_id
    WHERE b.scope = 'target' AND b.bin_start >= p_from AND b.bin_start < p_to
    ON CONFLICT DO NOTHING;
    -- Results whose bins moved (a new clock offset) or were never merged.
    INSERT INTO pg_temp.merge_marked (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'target', x.target_id, x.bin_start, x.bin_start + x.width * interval '1 second',
           parallax.merge_closes_at('target', x.bin_start + x.width * interval '1 second', x.width, s)
    FROM (
        SELECT DISTINCT w.target_id, w.width,
               parallax.bin_floor(r.ts - parallax.clock_offset(a.clock_offset_ms), w.width) AS bin_start
        FROM parallax.results r
        JOIN parallax.agents a ON a.id = r.agent_id
        JOIN parallax.probe_widths() w ON w.probe_id = r.probe_id AND NOT w.control
        WHERE r.ts >= p_from - interval '1 day' AND r.ts < p_to + interval '1 day') x
    WHERE x.bin_start >= p_from AND x.bin_start < p_to
    ON CONFLICT DO NOTHING;
    INSERT INTO pg_temp.merge_marked (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'group', g.id, b, b + gwidth, parallax.merge_closes_at('group', b + gwidth, s.group_bin_s, s)
    FROM parallax.merge_groups g
    CROSS JOIN generate_series(parallax.bin_floor(p_from, s.group_bin_s), p_to - interval '1 microsecond', gwidth) b
    ON CONFLICT DO NOTHING;
    RETURN parallax.merge_mark_flush();
END $$;

-- Queues what a new clock offset of one agent may change between p_from and p_to: its own
-- vantage bins, and the target bins its results fall in by the old offset and by the new
-- one (the agent's row holds the new one). Group bins follow when those target bins change,
-- vantage-dependent target bins when its vantage bins do. Reads only this agent's results,
-- so a moved clock costs what that agent measured, not all history. Returns the number of
-- bins queued.
CREATE OR REPLACE FUNCTION parallax.merge_mark_agent(p_agent integer, p_from timestamptz, p_to timestamptz,
                                                     p_old_offset_ms integer)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    s parallax.merge_settings := parallax.merge_settings_now();
    vwidth interval := s.vantage_bin_s * interval '1 second';
    o_new interval;
    o_old interval := parallax.clock_offset(p_old_offset_ms);
    widest interval := parallax.widest_bin();
BEGIN
    PERFORM parallax.merge_mark_begin();
    SELECT parallax.clock_offset(clock_offset_ms) INTO o_new FROM parallax.agents WHERE id = p_agent;
    INSERT INTO pg_temp.merge_marked (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'vantage', p_agent, b, b + vwidth, parallax.merge_closes_at('vantage', b + vwidth, s.vantage_bin_s, s)
    FROM generate_series(parallax.bin_floor(p_from, s.vantage_bin_s), p_to - interval '1 microsecond', vwidth) b
    ON CONFLICT DO NOTHING;
    INSERT INTO pg_temp.merge_marked (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'target', x.target_id, x.bin_start, x.bin_start + x.width * interval '1 second',
           parallax.merge_closes_at('target', x.bin_start + x.width * interval '1 second', x.width, s)
    FROM (
        SELECT DISTINCT w.target_id, w.width, tb.bin_start
        FROM parallax.results r
        JOIN parallax.probe_widths() w ON w.probe_id = r.probe_id AND NOT w.control
        CROSS JOIN LATERAL (VALUES (parallax.bin_floor(r.ts - o_new, w.width)),
                                   (parallax.bin_floor(r.ts - o_old, w.width))) tb (bin_start)
        WHERE r.agent_id = p_agent
          AND r.ts >= p_from - widest + least(o_new, o_old) AND r.ts < p_to + greatest(o_new, o_old)) x
    WHERE x.bin_start + x.width * interval '1 second' > p_from AND x.bin_start < p_to
    ON CONFLICT DO NOTHING;
    RETURN parallax.merge_mark_flush();
END $$;
