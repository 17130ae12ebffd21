-- 004_merge_bins: verdicts per bin. Vantage health (from an agent's control targets, local
-- errors and heartbeats), target state (from healthy vantages only) and group stage (from
-- its targets by role), each merged from the bins merge_dirty names and nothing else.

-- Each enum is ordered from "nothing to say" to worst, so max() over a period gives the
-- worst verdict reached.
CREATE TYPE parallax.vantage_health AS ENUM ('no_data', 'healthy', 'impaired', 'offline');
CREATE TYPE parallax.target_state AS ENUM ('unknown', 'up', 'degraded', 'partial', 'down');
CREATE TYPE parallax.group_stage AS ENUM (
    'unknown', 'normal', 'degraded', 'servers_offline', 'dns_down', 'blackout');

-- Groups are free text on targets; this gives each one a stable number for the bins.
CREATE TABLE parallax.merge_groups (
    id   serial PRIMARY KEY,
    name text NOT NULL UNIQUE
);

-- Every merged bin of every scope, so that outage tracking is one piece of code. Users read
-- the typed views below. The h_* columns hold the outage tracker's state after this bin
-- (see 005), so a re-merge restarts from the bin before instead of from the beginning; a
-- new bin starts as "no outage, no run of bad bins", which the tracker only has to change
-- for subjects with something going on. The base_* columns carry a target's latency
-- baseline from bin to bin, so judging a bin reads one earlier bin, not dozens.
-- fillfactor: the tracker updates most new bins once; room on the page keeps those
-- updates HOT (no new index entries).
CREATE TABLE parallax.bins (
    scope          text NOT NULL CHECK (scope IN ('vantage', 'target', 'group')),
    subject_id     integer NOT NULL,
    bin_start      timestamptz NOT NULL,
    bin_end        timestamptz NOT NULL,
    state          text NOT NULL,
    rank           smallint NOT NULL,
    bad            boolean,
    rtt_ms         double precision,
    evidence       jsonb NOT NULL,
    merged_at      timestamptz NOT NULL DEFAULT now(),
    h_open         boolean NOT NULL DEFAULT false,
    h_streak       integer NOT NULL DEFAULT 0,
    h_streak_start timestamptz,
    h_outage_start timestamptz,
    h_ended_at     timestamptz,
    base_ms        double precision,
    base_n         integer,
    base_at        timestamptz,
    PRIMARY KEY (scope, subject_id, bin_start)
) WITH (fillfactor = 80);
-- Bins by time: what the merge reads of the bins around the ones it merges, and what
-- people ask for ("last week's"), are dense ranges here, where the primary key spreads
-- them over one index page per subject.
CREATE INDEX bins_time ON parallax.bins (scope, bin_start, subject_id);
COMMENT ON COLUMN parallax.bins.bad IS 'true: counts towards opening an outage; false: towards closing it; NULL (unknown, no data): neither.';
COMMENT ON COLUMN parallax.bins.rank IS 'Severity within the scope, as the order of the scope''s enum.';
COMMENT ON COLUMN parallax.bins.base_ms IS 'Targets: latency baseline after this bin, a running mean of the RTT of its "up" bins (see merge_settings.baseline_bins).';
COMMENT ON COLUMN parallax.bins.base_n IS 'Targets: how many "up" bins the baseline holds (capped at baseline_bins).';
COMMENT ON COLUMN parallax.bins.base_at IS 'Targets: start of the last "up" bin folded into the baseline; older than baseline_window, the baseline is forgotten.';

-- Severity of a state: its position in its scope's enum (the states of all scopes share
-- one numbering). Plain CASE expressions, so that they are inlined.
CREATE FUNCTION parallax.merge_rank(state text) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT (CASE state
    WHEN 'no_data' THEN 0 WHEN 'unknown' THEN 0
    WHEN 'healthy' THEN 1 WHEN 'up' THEN 1 WHEN 'normal' THEN 1
    WHEN 'impaired' THEN 2 WHEN 'degraded' THEN 2
    WHEN 'offline' THEN 3 WHEN 'partial' THEN 3 WHEN 'servers_offline' THEN 3
    WHEN 'down' THEN 4 WHEN 'dns_down' THEN 4
    WHEN 'blackout' THEN 5 END)::smallint
$$;

-- Whether a state opens outages (true), closes them (false) or says nothing (NULL).
CREATE FUNCTION parallax.merge_bad(state text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT CASE WHEN state IN ('no_data', 'unknown') THEN NULL
            ELSE state NOT IN ('healthy', 'up', 'normal') END
$$;

-- The readable per-bin verdicts.
CREATE VIEW parallax.vantage_bins AS
SELECT a.name AS agent, a.country, a.asn, b.bin_start, b.bin_end,
       b.state::parallax.vantage_health AS health, b.evidence
FROM parallax.bins b
JOIN parallax.agents a ON a.id = b.subject_id
WHERE b.scope = 'vantage';
COMMENT ON VIEW parallax.vantage_bins IS 'Vantage health per bin: healthy, impaired (control targets mostly fail, or local errors), offline (no results, no heartbeat), no_data (heartbeats only, or a spool gap).';

CREATE VIEW parallax.target_bins AS
SELECT t.name AS target, t.group_name, t.role, b.bin_start, b.bin_end,
       b.state::parallax.target_state AS state, b.rtt_ms, b.evidence
FROM parallax.bins b
JOIN parallax.targets t ON t.id = b.subject_id
WHERE b.scope = 'target';
COMMENT ON VIEW parallax.target_bins IS 'Target state per bin from healthy vantages only: up, degraded, partial, down, unknown (too few healthy vantages).';

CREATE VIEW parallax.group_bins AS
SELECT g.name AS group_name, b.bin_start, b.bin_end,
       b.state::parallax.group_stage AS stage, b.evidence
FROM parallax.bins b
JOIN parallax.merge_groups g ON g.id = b.subject_id
WHERE b.scope = 'group';
COMMENT ON VIEW parallax.group_bins IS 'Group stage per bin: normal < degraded < servers_offline < dns_down < blackout (unknown: no target known).';

-- The work lists one merge_run passes between its steps: the bins a step took
-- (merge_work) and every bin merged so far (merge_merged, read by the outage tracker;
-- fresh: the bin was new, not a re-merge).
-- Session-local and emptied at commit; made once per session.
CREATE FUNCTION parallax.merge_prepare() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.merge_work') IS NULL THEN
        CREATE TEMP TABLE merge_work (
            subject_id integer NOT NULL,
            bin_start  timestamptz NOT NULL,
            bin_end    timestamptz NOT NULL,
            PRIMARY KEY (subject_id, bin_start)
        ) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE merge_merged (
            scope      text NOT NULL,
            subject_id integer NOT NULL,
            bin_start  timestamptz NOT NULL,
            fresh      boolean NOT NULL,
            bad        boolean,
            quiet      boolean   -- true: nothing for the outage tracker to do (NULL: not known)
        ) ON COMMIT DELETE ROWS;
    END IF;
    -- Two runs in one transaction must not see each other's lists.
    DELETE FROM pg_temp.merge_work;
    DELETE FROM pg_temp.merge_merged;
END $$;

-- Moves the closed dirty bins of one scope into merge_work; returns how many.
CREATE FUNCTION parallax.merge_take(p_scope text, p_now timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    taken integer;
BEGIN
    DELETE FROM pg_temp.merge_work;
    WITH d AS (
        DELETE FROM parallax.merge_dirty
        WHERE scope = p_scope AND closes_at <= p_now
        RETURNING subject_id, bin_start, bin_end
    )
    INSERT INTO pg_temp.merge_work SELECT * FROM d;
    GET DIAGNOSTICS taken = ROW_COUNT;
    IF taken > 0 THEN
        -- Plans below join on this list; without statistics they guess badly.
        ANALYZE pg_temp.merge_work;
    END IF;
    RETURN taken;
END $$;

-- Judges offline vantages: queues every enabled agent's vantage bins that closed since the
-- last sweep, whether or not anything arrived for them.
CREATE FUNCTION parallax.merge_sweep(p_now timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    s parallax.merge_settings;
    width interval;
    last_closed timestamptz;
    first timestamptz;
BEGIN
    SELECT * INTO s FROM parallax.merge_settings;
    width := s.vantage_bin_s * interval '1 second';
    last_closed := parallax.bin_floor(p_now - parallax.merge_grace(s.vantage_bin_s, s) - width, s.vantage_bin_s);
    -- The first sweep starts at the oldest vantage bin anything arrived for, or now.
    first := coalesce((SELECT vantages_swept_to FROM parallax.merge_state),
                      (SELECT min(bin_start) FROM parallax.merge_dirty WHERE scope = 'vantage'),
                      last_closed);
    first := greatest(first, parallax.bin_floor(p_now - s.sweep_max, s.vantage_bin_s));
    IF first > last_closed THEN
        RETURN;
    END IF;
    INSERT INTO parallax.merge_dirty (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'vantage', a.id, b, b + width, parallax.merge_closes_at('vantage', b + width, s.vantage_bin_s, s)
    FROM parallax.agents a
    CROSS JOIN generate_series(first, last_closed, width) b
    WHERE a.enabled AND a.created_at < b + width
    ON CONFLICT DO NOTHING;
    UPDATE parallax.merge_state SET vantages_swept_to = last_closed + width;
END $$;

-- Merges the closed dirty vantage bins; returns how many. A vantage is healthy unless its
-- control targets mostly fail or it reports local errors (impaired), or nothing at all came
-- from it (offline). A change between healthy and not re-queues the target bins its results
-- fall in, since those counted or ignored it.
CREATE FUNCTION parallax.merge_vantage_bins(p_now timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    s parallax.merge_settings;
    taken integer;
    lo interval;
    hi interval;
BEGIN
    SELECT * INTO s FROM parallax.merge_settings;
    taken := parallax.merge_take('vantage', p_now);
    IF taken = 0 THEN
        RETURN 0;
    END IF;
    -- Results are stored by agent clock: widen each window by the extreme offsets.
    SELECT coalesce(min(parallax.clock_offset(clock_offset_ms)), '0'), coalesce(max(parallax.clock_offset(clock_offset_ms)), '0')
    INTO lo, hi FROM parallax.agents;
    lo := least(lo, '0'); hi := greatest(hi, '0');

    WITH win AS (
        SELECT DISTINCT bin_start, bin_end FROM pg_temp.merge_work
    ),
    runs AS (
        -- Counted by status at once: a few rows per vantage bin are left to judge from.
        SELECT w.subject_id, w.bin_start, r.status, coalesce(t.control, r.control) AS control,
               count(*) AS n
        FROM win
        CROSS JOIN LATERAL (
            -- OFFSET 0 keeps this an index range scan per window: flattened into a join,
            -- the planner may read the whole partition instead.
            SELECT r.agent_id, r.probe_id, r.ts, r.status, r.control FROM parallax.results r
            WHERE r.ts >= win.bin_start + lo AND r.ts < win.bin_end + hi OFFSET 0) r
        JOIN pg_temp.merge_work w ON w.subject_id = r.agent_id AND w.bin_start = win.bin_start
        JOIN parallax.agents a ON a.id = r.agent_id
        LEFT JOIN parallax.probes p ON p.id = r.probe_id
        LEFT JOIN parallax.targets t ON t.id = p.target_id
        WHERE r.ts - parallax.clock_offset(a.clock_offset_ms) >= w.bin_start
          AND r.ts - parallax.clock_offset(a.clock_offset_ms) < w.bin_end
        GROUP BY 1, 2, 3, 4
    ),
    counted AS (
        -- control_failure: the commonest failure of the control targets (ties: the first
        -- status in enum order, as mode() would pick).
        SELECT w.subject_id, w.bin_start, w.bin_end,
               coalesce(sum(runs.n), 0)::bigint AS results,
               coalesce(sum(runs.n) FILTER (WHERE runs.control), 0)::bigint AS controls,
               coalesce(sum(runs.n) FILTER (WHERE runs.control AND runs.status = 'ok'), 0)::bigint AS controls_ok,
               coalesce(sum(runs.n) FILTER (WHERE runs.status = 'local_error'), 0)::bigint AS local_errors,
               (array_agg(runs.status ORDER BY runs.n DESC, runs.status)
                   FILTER (WHERE runs.control AND runs.status <> 'ok'))[1] AS control_failure
        FROM pg_temp.merge_work w
        LEFT JOIN runs ON runs.subject_id = w.subject_id AND runs.bin_start = w.bin_start
        GROUP BY w.subject_id, w.bin_start, w.bin_end
    ),
    judged AS (
        SELECT c.*, hb.heartbeat, hb.gap,
               CASE WHEN hb.gap THEN 'no_data'
                    WHEN c.results = 0 AND NOT hb.heartbeat THEN 'offline'
                    WHEN c.results = 0 THEN 'no_data'
                    WHEN c.controls > 0 AND c.controls_ok < s.control_ok_min * c.controls THEN 'impaired'
                    WHEN c.local_errors > 0 AND c.local_errors >= s.local_error_share * c.results THEN 'impaired'
                    ELSE 'healthy' END AS state
        FROM counted c
        JOIN parallax.agents a ON a.id = c.subject_id
        CROSS JOIN LATERAL (
            SELECT EXISTS (SELECT 1 FROM parallax.heartbeats h
                           WHERE h.agent_id = c.subject_id
                             AND h.ts >= c.bin_start AND h.ts < c.bin_end) AS heartbeat,
                   EXISTS (SELECT 1 FROM parallax.gaps g
                           WHERE g.agent_id = c.subject_id AND g.probe_id IS NULL
                             AND g.ts_from - parallax.clock_offset(a.clock_offset_ms) < c.bin_end
                             AND g.ts_to - parallax.clock_offset(a.clock_offset_ms) >= c.bin_start) AS gap
        ) hb
    ),
    old AS (
        -- One primary-key probe per bin: a join here could scan the whole history.
        -- assumed: what target bins merged before this one took its health to be (see
        -- merge_target_bins): its old state, or for a new bin the state of the bin before.
        SELECT w.subject_id, w.bin_start, o.state,
               coalesce(o.state, (SELECT b.state FROM parallax.bins b
                                  WHERE b.scope = 'vantage' AND b.subject_id = w.subject_id
                                    AND b.bin_start = w.bin_start - (w.bin_end - w.bin_start))) AS assumed
        FROM pg_temp.merge_work w
        CROSS JOIN LATERAL (
            SELECT (SELECT b.state FROM parallax.bins b
                    WHERE b.scope = 'vantage' AND b.subject_id = w.subject_id AND b.bin_start = w.bin_start) AS state) o
    ),
    up AS (
        INSERT INTO parallax.bins AS b (scope, subject_id, bin_start, bin_end, state, rank, bad, evidence)
        SELECT 'vantage', j.subject_id, j.bin_start, j.bin_end, j.state,
               parallax.merge_rank(j.state), parallax.merge_bad(j.state),
               jsonb_strip_nulls(jsonb_build_object(
                   'results', j.results, 'controls', j.controls, 'controls_ok', j.controls_ok,
                   'local_errors', j.local_errors, 'control_failure', j.control_failure,
                   'heartbeat', j.heartbeat, 'gap', j.gap))
        FROM judged j
        ON CONFLICT (scope, subject_id, bin_start) DO UPDATE
            SET bin_end = EXCLUDED.bin_end, state = EXCLUDED.state, rank = EXCLUDED.rank,
                bad = EXCLUDED.bad, evidence = EXCLUDED.evidence, merged_at = now()
        RETURNING b.subject_id, b.bin_start, b.bin_end, b.state, b.bad, b.xmax = 0 AS fresh
    ),
    noted AS (
        INSERT INTO pg_temp.merge_merged SELECT 'vantage', subject_id, bin_start, fresh, bad FROM up
    ),
    peers AS (
        -- Vantage outages name the peers that were fine at the time; when a past bin stops
        -- or starts counting as bad, the outages of the others at that time are re-tracked.
        INSERT INTO pg_temp.merge_merged
        SELECT DISTINCT 'vantage', b.subject_id, b.bin_start, false, NULL::boolean
        FROM up
        JOIN old USING (subject_id, bin_start)
        JOIN parallax.agents a ON a.id <> up.subject_id
        CROSS JOIN LATERAL (
            SELECT b.subject_id, b.bin_start, b.h_outage_start FROM parallax.bins b
            WHERE b.scope = 'vantage' AND b.subject_id = a.id AND b.bin_start = up.bin_start OFFSET 0) b
        WHERE old.state IS NOT NULL
          AND parallax.merge_bad(old.state) IS DISTINCT FROM parallax.merge_bad(up.state)
          AND b.h_outage_start IS NOT NULL
    ),
    flipped AS (
        SELECT up.subject_id, up.bin_start, up.bin_end
        FROM up JOIN old USING (subject_id, bin_start)
        WHERE (old.assumed IS NOT DISTINCT FROM 'healthy') <> (up.state = 'healthy')
    )
    INSERT INTO parallax.merge_dirty (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'target', x.target_id, x.bin_start, x.bin_start + x.width * interval '1 second',
           parallax.merge_closes_at('target', x.bin_start + x.width * interval '1 second', x.width, s)
    FROM (
        SELECT DISTINCT w.target_id, w.width,
               parallax.bin_floor(r.ts - parallax.clock_offset(a.clock_offset_ms), w.width) AS bin_start
        FROM flipped f
        JOIN parallax.agents a ON a.id = f.subject_id
        CROSS JOIN LATERAL (
            SELECT r.ts, r.probe_id FROM parallax.results r
            WHERE r.agent_id = f.subject_id
              AND r.ts >= f.bin_start + parallax.clock_offset(a.clock_offset_ms)
              AND r.ts < f.bin_end + parallax.clock_offset(a.clock_offset_ms) OFFSET 0) r
        JOIN parallax.probe_widths() w ON w.probe_id = r.probe_id AND NOT w.control) x
    ON CONFLICT DO NOTHING;
    RETURN taken;
END $$;

-- Merges the closed dirty target bins; returns how many. Only vantages healthy when they
-- ran the probe count; a vantage reaches the target if any of its runs in the bin was ok.
--   unknown  fewer than min_vantages healthy vantages reported
--   down     every healthy vantage failed, across min_networks countries or ASNs
--   partial  some healthy vantages reach it, others cannot
--   degraded all reach it, but degraded_failure_share of runs failed or the median RTT is
--            latency_factor above the target's own baseline
--   up       otherwise
-- A change re-queues the group bins it overlaps.
CREATE FUNCTION parallax.merge_target_bins(p_now timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    s parallax.merge_settings;
    taken integer;
    lo interval;
    hi interval;
    any_gaps boolean;
    gwidth interval;
    widest interval := parallax.widest_bin();
BEGIN
    SELECT * INTO s FROM parallax.merge_settings;
    taken := parallax.merge_take('target', p_now);
    IF taken = 0 THEN
        RETURN 0;
    END IF;
    gwidth := s.group_bin_s * interval '1 second';
    SELECT coalesce(min(parallax.clock_offset(clock_offset_ms)), '0'), coalesce(max(parallax.clock_offset(clock_offset_ms)), '0')
    INTO lo, hi FROM parallax.agents;
    lo := least(lo, '0'); hi := greatest(hi, '0');
    -- Gaps are rare; when none touches these bins the per-run check below is skipped.
    SELECT EXISTS (SELECT 1 FROM parallax.gaps g
                   WHERE g.ts_from < (SELECT max(bin_end) FROM pg_temp.merge_work) + hi
                     AND g.ts_to >= (SELECT min(bin_start) FROM pg_temp.merge_work) + lo)
    INTO any_gaps;

    -- A group must have a number before its bins can be queued.
    INSERT INTO parallax.merge_groups (name)
    SELECT DISTINCT t.group_name
    FROM pg_temp.merge_work w JOIN parallax.targets t ON t.id = w.subject_id
    WHERE t.group_name IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM parallax.merge_groups g WHERE g.name = t.group_name)
    ON CONFLICT DO NOTHING;

    WITH win AS (
        -- later: some target bin starts after this window's (a re-merge, or wider bins
        -- merged after narrower ones); then each target's latest bin is looked up alone.
        -- (The latest target bin, one probe at the end of bins_time.)
        SELECT x.bin_start, x.bin_end,
               coalesce((SELECT b.bin_start FROM parallax.bins b WHERE b.scope = 'target'
                         ORDER BY b.bin_start DESC LIMIT 1) > x.bin_start, false) AS later
        FROM (SELECT DISTINCT bin_start, bin_end FROM pg_temp.merge_work) x
    ),
    near AS (
        -- Each target's latest bin from one widest bin before each window to its start (its
        -- own, if merged before, or nearly always the one before it), all from one range
        -- scan of bins_time. With nothing later, that is the target's latest bin.
        SELECT DISTINCT ON (win.bin_start, win.bin_end, b.subject_id)
               win.bin_start AS win_start, win.bin_end AS win_end, b.*
        FROM win
        CROSS JOIN LATERAL (
            SELECT b.subject_id, b.bin_start, b.state, b.evidence, b.base_ms, b.base_n, b.base_at,
                   b.h_open, b.h_streak
            FROM parallax.bins b
            WHERE b.scope = 'target' AND b.bin_start >= win.bin_start - widest
              AND b.bin_start <= win.bin_start OFFSET 0) b
        WHERE NOT win.later
        ORDER BY win.bin_start, win.bin_end, b.subject_id, b.bin_start DESC
    ),
    health AS (
        -- Every agent's health in every vantage bin these windows touch, by primary-key
        -- probes: a join could read every vantage bin ever stored. A target bin closed
        -- early (complete) may come before its vantage bins: it takes the health of the
        -- bin before, and merge_vantage_bins re-queues it if that guess turns out wrong.
        SELECT a.id AS agent_id, vb.bin_start,
               coalesce((SELECT b.state FROM parallax.bins b
                         WHERE b.scope = 'vantage' AND b.subject_id = a.id AND b.bin_start = vb.bin_start),
                        (SELECT b.state FROM parallax.bins b
                         WHERE b.scope = 'vantage' AND b.subject_id = a.id
                           AND b.bin_start = vb.bin_start - s.vantage_bin_s * interval '1 second')) AS state
        FROM parallax.agents a
        CROSS JOIN (SELECT DISTINCT g AS bin_start
                    FROM win CROSS JOIN LATERAL generate_series(
                        parallax.bin_floor(win.bin_start, s.vantage_bin_s),
                        win.bin_end - interval '1 microsecond', s.vantage_bin_s * interval '1 second') g) vb
    ),
    runs AS (
        -- Each run in its target's bin by corrected time, with the vantage's health then.
        SELECT w.subject_id AS target_id, w.bin_start, r.agent_id, r.status, r.rtt_ms,
               vb.state = 'healthy' AS healthy
        FROM win
        CROSS JOIN LATERAL (
            -- OFFSET 0: an index range scan per window, never the whole partition.
            SELECT r.agent_id, r.probe_id, r.ts, r.status, r.rtt_ms FROM parallax.results r
            WHERE r.ts >= win.bin_start + lo AND r.ts < win.bin_end + hi OFFSET 0) r
        JOIN parallax.probes p ON p.id = r.probe_id
        JOIN pg_temp.merge_work w ON w.subject_id = p.target_id
             AND w.bin_start = win.bin_start AND w.bin_end = win.bin_end
        JOIN parallax.agents a ON a.id = r.agent_id
        CROSS JOIN LATERAL (SELECT r.ts - parallax.clock_offset(a.clock_offset_ms) AS at) x
        LEFT JOIN health vb ON vb.agent_id = r.agent_id
             AND vb.bin_start = parallax.bin_floor(x.at, s.vantage_bin_s)
        WHERE x.at >= w.bin_start AND x.at < w.bin_end
          AND NOT (any_gaps AND EXISTS (
                SELECT 1 FROM parallax.gaps g
                WHERE g.agent_id = r.agent_id AND (g.probe_id IS NULL OR g.probe_id = r.probe_id)
                  AND g.ts_from - parallax.clock_offset(a.clock_offset_ms) < w.bin_end
                  AND g.ts_to - parallax.clock_offset(a.clock_offset_ms) >= w.bin_start))
    ),
    per_vantage AS (
        -- Runs sorted once, by target bin and vantage name: this aggregate and the next
        -- then group rows as they come (no hash table of every target-vantage pair, no
        -- second sort), and the name lists come out in order. "C": byte order, the same
        -- in every database, and no locale calls.
        SELECT r.target_id, r.bin_start, r.name, coalesce(bool_and(r.healthy), false) AS healthy,
               count(*) AS runs, count(*) FILTER (WHERE r.status = 'ok') AS ok
        FROM (SELECT runs.target_id, runs.bin_start, a.name COLLATE "C" AS name, runs.healthy, runs.status
              FROM runs JOIN parallax.agents a ON a.id = runs.agent_id
              ORDER BY 1, 2, 3 OFFSET 0) r
        GROUP BY r.target_id, r.bin_start, r.name
    ),
    per_target AS (
        -- Networks are counted below, only where every vantage failed.
        SELECT v.target_id, v.bin_start,
               count(*) FILTER (WHERE v.healthy) AS vantages,
               count(*) FILTER (WHERE v.healthy AND v.ok = 0) AS failed,
               jsonb_agg(v.name) FILTER (WHERE v.healthy AND v.ok = 0) AS failed_names,
               jsonb_agg(v.name) FILTER (WHERE v.healthy AND v.ok > 0 AND v.ok < v.runs) AS mixed_names,
               jsonb_agg(v.name) FILTER (WHERE v.healthy AND v.ok = v.runs) AS reached_names,
               jsonb_agg(v.name) FILTER (WHERE NOT v.healthy) AS excluded_names
        FROM per_vantage v
        GROUP BY v.target_id, v.bin_start
    ),
    per_run AS (
        -- Hashed by target bin: the ordered-set aggregates sort only their own few runs
        -- (mode only where one failed), cheaper than sorting all runs by RTT.
        SELECT r.target_id, r.bin_start,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY r.rtt_ms) FILTER (WHERE r.status = 'ok') AS rtt_ms,
               avg((r.status <> 'ok')::integer)::real AS failure_share,
               mode() WITHIN GROUP (ORDER BY r.status) FILTER (WHERE r.status <> 'ok') AS failure
        FROM runs r
        WHERE r.healthy
        GROUP BY r.target_id, r.bin_start
    ),
    judged AS (
        SELECT w.subject_id, w.bin_start, w.bin_end, pt.vantages, pt.failed_names, pt.mixed_names,
               pt.reached_names, pt.excluded_names, pr.rtt_ms, pr.failure_share, pr.failure,
               bl.baseline_ms, prev.base_ms, prev.base_n, prev.base_at,
               old.state AS old_state, old.evidence AS old_evidence,
               -- New after a bin with no outage and no run of bad bins: the outage tracker
               -- has nothing to do for it if it is not bad either (see merge_outages).
               coalesce(lb.bin_start < w.bin_start AND NOT lb.h_open AND lb.h_streak = 0, false) AS quiet_before,
               CASE WHEN coalesce(pt.vantages, 0) < s.min_vantages THEN 'unknown'
                    WHEN pt.failed = pt.vantages THEN
                        CASE WHEN (SELECT greatest(count(DISTINCT a.country), count(DISTINCT a.asn))
                                   FROM parallax.agents a WHERE pt.failed_names ? a.name) >= s.min_networks
                             THEN 'down' ELSE 'unknown' END
                    WHEN pt.failed > 0 THEN 'partial'
                    WHEN pr.failure_share >= s.degraded_failure_share THEN 'degraded'
                    WHEN pr.rtt_ms > s.latency_factor * bl.baseline_ms
                         AND pr.rtt_ms - bl.baseline_ms >= s.latency_min_ms THEN 'degraded'
                    ELSE 'up' END AS state
        FROM pg_temp.merge_work w
        LEFT JOIN per_target pt ON pt.target_id = w.subject_id AND pt.bin_start = w.bin_start
        LEFT JOIN per_run pr ON pr.target_id = w.subject_id AND pr.bin_start = w.bin_start
        LEFT JOIN near n ON n.win_start = w.bin_start AND n.win_end = w.bin_end
             AND n.subject_id = w.subject_id
        LEFT JOIN LATERAL (
            -- The target's latest bin from baseline_window before this one on: nearly always
            -- the bin before it, so it says what the bin before left (the baseline, the
            -- outage tracker's state) and that this bin is new and nothing follows it. The
            -- two lookups below run only when it is not. From "near" if there; otherwise
            -- (a later bin exists, or none that near) one index probe.
            SELECT n.bin_start, n.state, n.evidence, n.base_ms, n.base_n, n.base_at, n.h_open, n.h_streak
            WHERE n.bin_start IS NOT NULL
            UNION ALL
            (SELECT b.bin_start, b.state, b.evidence, b.base_ms, b.base_n, b.base_at,
                    b.h_open, b.h_streak
             FROM parallax.bins b
             WHERE n.bin_start IS NULL
               AND b.scope = 'target' AND b.subject_id = w.subject_id
               AND b.bin_start >= w.bin_start - s.baseline_window
             ORDER BY b.bin_start DESC LIMIT 1)
        ) lb ON true
        LEFT JOIN LATERAL (
            -- The target's own recent normal, as the bin before left it.
            SELECT lb.base_ms, lb.base_n, lb.base_at WHERE lb.bin_start < w.bin_start
            UNION ALL
            (SELECT b.base_ms, b.base_n, b.base_at FROM parallax.bins b
             WHERE lb.bin_start >= w.bin_start
               AND b.scope = 'target' AND b.subject_id = w.subject_id
               AND b.bin_start < w.bin_start AND b.bin_start >= w.bin_start - s.baseline_window
             ORDER BY b.bin_start DESC LIMIT 1)
        ) prev ON prev.base_at >= w.bin_start - s.baseline_window
        LEFT JOIN LATERAL (
            -- This bin as merged before, if it was.
            SELECT lb.state, lb.evidence WHERE lb.bin_start = w.bin_start
            UNION ALL
            (SELECT b.state, b.evidence FROM parallax.bins b
             WHERE lb.bin_start > w.bin_start
               AND b.scope = 'target' AND b.subject_id = w.subject_id AND b.bin_start = w.bin_start)
        ) old ON true
        CROSS JOIN LATERAL (
            SELECT CASE WHEN prev.base_n >= s.baseline_min_bins THEN prev.base_ms END AS baseline_ms
        ) bl
    ),
    based AS (
        -- An "up" bin with an RTT moves the baseline: a plain mean over the first
        -- baseline_bins, then each new bin weighs 1/baseline_bins. Other bins carry it.
        SELECT j.*, f.folds,
               CASE WHEN f.folds THEN least(coalesce(j.base_n, 0) + 1, s.baseline_bins) ELSE j.base_n END AS next_n
        FROM judged j
        CROSS JOIN LATERAL (SELECT j.state = 'up' AND j.rtt_ms IS NOT NULL AS folds) f
    ),
    up AS (
        INSERT INTO parallax.bins AS b (scope, subject_id, bin_start, bin_end, state, rank, bad, rtt_ms,
                                        base_ms, base_n, base_at, evidence)
        SELECT 'target', j.subject_id, j.bin_start, j.bin_end, j.state,
               parallax.merge_rank(j.state), parallax.merge_bad(j.state), j.rtt_ms,
               CASE WHEN j.folds THEN coalesce(j.base_ms + (j.rtt_ms - j.base_ms) / j.next_n, j.rtt_ms)
                    ELSE j.base_ms END,
               j.next_n,
               CASE WHEN j.folds THEN j.bin_start ELSE j.base_at END,
               jsonb_strip_nulls(jsonb_build_object(
                   'vantages', coalesce(j.vantages, 0), 'failed', j.failed_names,
                   'mixed', j.mixed_names, 'reached', j.reached_names, 'excluded', j.excluded_names,
                   'failure', j.failure, 'failure_share', round(j.failure_share::numeric, 3)::float8,
                   'baseline_ms', round(j.baseline_ms::numeric, 3)::float8))
        FROM based j
        ON CONFLICT (scope, subject_id, bin_start) DO UPDATE
            SET bin_end = EXCLUDED.bin_end, state = EXCLUDED.state, rank = EXCLUDED.rank,
                bad = EXCLUDED.bad, rtt_ms = EXCLUDED.rtt_ms, base_ms = EXCLUDED.base_ms,
                base_n = EXCLUDED.base_n, base_at = EXCLUDED.base_at, evidence = EXCLUDED.evidence,
                merged_at = now()
        RETURNING b.subject_id, b.bin_start, b.bin_end, b.state, b.evidence, b.bad, b.xmax = 0 AS fresh
    ),
    noted AS (
        INSERT INTO pg_temp.merge_merged
        SELECT 'target', up.subject_id, up.bin_start, up.fresh, up.bad,
               j.quiet_before AND up.fresh AND NOT coalesce(up.bad, false)
        FROM up JOIN based j USING (subject_id, bin_start)
    )
    INSERT INTO parallax.merge_dirty (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'group', gb.id, gb.bin_start, gb.bin_start + gwidth,
           parallax.merge_closes_at('group', gb.bin_start + gwidth, s.group_bin_s, s)
    FROM (
        SELECT DISTINCT g.id, gb AS bin_start
        FROM up
        JOIN based old USING (subject_id, bin_start)
        JOIN parallax.targets t ON t.id = up.subject_id
        JOIN parallax.merge_groups g ON g.name = t.group_name
        CROSS JOIN LATERAL generate_series(parallax.bin_floor(up.bin_start, s.group_bin_s),
                                           up.bin_end - interval '1 microsecond', gwidth) gb
        -- Group bins show which vantages failed, so evidence counts as a change too.
        WHERE (old.old_state, old.old_evidence) IS DISTINCT FROM (up.state, up.evidence)) gb
    ON CONFLICT DO NOTHING;

    -- A group bin waiting for its grace while every one of its targets has a merged bin
    -- spanning it, and none waits to be merged again, has nothing more to wait for: its
    -- targets closed early, complete. (Targets with narrower bins never qualify.)
    UPDATE parallax.merge_dirty d SET closes_at = p_now
    FROM parallax.merge_groups g
    WHERE d.scope = 'group' AND d.closes_at > p_now AND g.id = d.subject_id
      AND NOT EXISTS (
          SELECT 1 FROM parallax.targets t
          WHERE t.group_name = g.name AND NOT t.control
            AND (NOT EXISTS (SELECT 1 FROM parallax.bins b
                             WHERE b.scope = 'target' AND b.subject_id = t.id
                               AND b.bin_start <= d.bin_start AND b.bin_start > d.bin_start - widest
                               AND b.bin_end >= d.bin_end)
                 OR EXISTS (SELECT 1 FROM parallax.merge_dirty x
                            WHERE x.scope = 'target' AND x.subject_id = t.id
                              AND x.bin_start < d.bin_end AND x.bin_end > d.bin_start)));
    RETURN taken;
END $$;

-- Merges the closed dirty group bins; returns how many. A target counts with its worst
-- state among its bins overlapping the group bin; unknown targets are left out.
--   blackout        every known router-role target down, and blackout_share of known targets down
--   dns_down        every known dns-role target down
--   servers_offline some target down
--   degraded        some target degraded or partial
--   normal          otherwise; unknown when no target is known
CREATE FUNCTION parallax.merge_group_bins(p_now timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    s parallax.merge_settings;
    taken integer;
    widest interval;
BEGIN
    SELECT * INTO s FROM parallax.merge_settings;
    taken := parallax.merge_take('group', p_now);
    IF taken = 0 THEN
        RETURN 0;
    END IF;
    widest := parallax.widest_bin();

    WITH win AS (
        SELECT DISTINCT bin_start, bin_end FROM pg_temp.merge_work
    ),
    worst AS (
        -- Each target's worst bin overlapping each window (the earliest of equals): every
        -- overlapping target bin comes from one range scan of bins_time per window.
        SELECT DISTINCT ON (win.bin_start, win.bin_end, b.subject_id)
               win.bin_start, win.bin_end, b.subject_id, b.state, b.evidence
        FROM win
        CROSS JOIN LATERAL (
            SELECT b.subject_id, b.bin_start, b.rank, b.state, b.evidence FROM parallax.bins b
            WHERE b.scope = 'target' AND b.bin_start >= win.bin_start - widest
              AND b.bin_start < win.bin_end AND b.bin_end > win.bin_start OFFSET 0) b
        ORDER BY win.bin_start, win.bin_end, b.subject_id, b.rank DESC, b.bin_start
    ),
    members AS (
        SELECT w.subject_id, w.bin_start, w.bin_end, t.id AS target_id, t.name, t.role,
               coalesce(tb.state, 'unknown') AS state, tb.evidence
        FROM pg_temp.merge_work w
        JOIN parallax.merge_groups g ON g.id = w.subject_id
        JOIN parallax.targets t ON t.group_name = g.name AND NOT t.control
        LEFT JOIN worst tb ON tb.bin_start = w.bin_start AND tb.bin_end = w.bin_end
             AND tb.subject_id = t.id
    ),
    counted AS (
        SELECT subject_id, bin_start, bin_end,
               count(*) FILTER (WHERE state <> 'unknown') AS known,
               count(*) FILTER (WHERE state = 'down') AS down,
               count(*) FILTER (WHERE role = 'router' AND state <> 'unknown') AS routers,
               count(*) FILTER (WHERE role = 'router' AND state = 'down') AS routers_down,
               count(*) FILTER (WHERE role = 'dns' AND state <> 'unknown') AS dns,
               count(*) FILTER (WHERE role = 'dns' AND state = 'down') AS dns_down,
               count(*) FILTER (WHERE state IN ('degraded', 'partial')) AS impaired,
               jsonb_agg(name ORDER BY name) FILTER (WHERE state = 'down') AS down_names,
               jsonb_agg(name ORDER BY name) FILTER (WHERE state IN ('degraded', 'partial')) AS impaired_names,
               mode() WITHIN GROUP (ORDER BY evidence->>'failure')
                   FILTER (WHERE state IN ('down', 'partial')) AS failure
        FROM members
        GROUP BY subject_id, bin_start, bin_end
    ),
    lists AS (
        -- Most targets of a group list the same vantages: each distinct list is read once.
        SELECT DISTINCT m.subject_id, m.bin_start,
               coalesce(m.evidence->'failed', '[]') || coalesce(m.evidence->'mixed', '[]') AS failed,
               coalesce(m.evidence->'reached', '[]') AS reached
        FROM members m
    ),
    seen AS (
        -- Healthy vantages that failed some target of the group, and those that failed none.
        SELECT l.subject_id, l.bin_start,
               jsonb_agg(DISTINCT v.name) FILTER (WHERE v.kind = 'failed') AS failing,
               jsonb_agg(DISTINCT v.name) AS all_names
        FROM lists l
        CROSS JOIN LATERAL (
            SELECT 'failed' AS kind, x AS name FROM jsonb_array_elements_text(l.failed) x
            UNION ALL
            SELECT 'reached', x FROM jsonb_array_elements_text(l.reached) x
        ) v
        GROUP BY l.subject_id, l.bin_start
    ),
    judged AS (
        SELECT c.*, seen.failing,
               (SELECT jsonb_agg(x ORDER BY x) FROM jsonb_array_elements_text(seen.all_names) x
                WHERE NOT coalesce(seen.failing, '[]') ? x) AS not_failing,
               CASE WHEN c.known = 0 THEN 'unknown'
                    WHEN c.routers > 0 AND c.routers_down = c.routers
                         AND c.down >= s.blackout_share * c.known THEN 'blackout'
                    WHEN c.dns > 0 AND c.dns_down = c.dns THEN 'dns_down'
                    WHEN c.down > 0 THEN 'servers_offline'
                    WHEN c.impaired > 0 THEN 'degraded'
                    ELSE 'normal' END AS state
        FROM counted c
        LEFT JOIN seen ON seen.subject_id = c.subject_id AND seen.bin_start = c.bin_start
    ),
    up AS (
        INSERT INTO parallax.bins AS b (scope, subject_id, bin_start, bin_end, state, rank, bad, evidence)
        SELECT 'group', j.subject_id, j.bin_start, j.bin_end, j.state,
               parallax.merge_rank(j.state), parallax.merge_bad(j.state),
               jsonb_strip_nulls(jsonb_build_object(
                   'known', j.known, 'down', j.down, 'routers', j.routers,
                   'routers_down', j.routers_down, 'dns', j.dns, 'dns_down', j.dns_down,
                   'down_targets', j.down_names, 'impaired_targets', j.impaired_names,
                   'failure', j.failure, 'failing_vantages', j.failing,
                   'other_vantages', j.not_failing))
        FROM judged j
        ON CONFLICT (scope, subject_id, bin_start) DO UPDATE
            SET bin_end = EXCLUDED.bin_end, state = EXCLUDED.state, rank = EXCLUDED.rank,
                bad = EXCLUDED.bad, evidence = EXCLUDED.evidence, merged_at = now()
        RETURNING b.subject_id, b.bin_start, b.bad, b.xmax = 0 AS fresh
    )
    INSERT INTO pg_temp.merge_merged SELECT 'group', subject_id, bin_start, fresh, bad FROM up;
    RETURN taken;
END $$;
