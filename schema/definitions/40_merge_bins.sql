-- 40_merge_bins: verdicts per bin: vantage health, target state, group stage (docs/verdicts.md),
-- each merged from the bins merge_dirty names and nothing else.
-- Installed by every `parallaxctl db migrate` after the migrations (CREATE OR REPLACE), in
-- file order, in one transaction with check_function_bodies off. A change CREATE OR REPLACE
-- cannot make (a view's columns, a function's result type) needs a DROP in a new migration.

-- Severity of a state: its position in its scope's enum (the states of all scopes share
-- one numbering). Plain CASE expressions, so that they are inlined.
CREATE OR REPLACE FUNCTION parallax.merge_rank(state text) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT (CASE state
    WHEN 'no_data' THEN 0 WHEN 'unknown' THEN 0 WHEN 'maintenance' THEN 0
    WHEN 'healthy' THEN 1 WHEN 'up' THEN 1 WHEN 'normal' THEN 1
    WHEN 'impaired' THEN 2 WHEN 'degraded' THEN 2
    WHEN 'offline' THEN 3 WHEN 'partial' THEN 3 WHEN 'servers_offline' THEN 3
    WHEN 'down' THEN 4 WHEN 'dns_down' THEN 4
    WHEN 'blackout' THEN 5 END)::smallint
$$;

-- Whether a state opens outages (true), closes them (false) or says nothing (NULL). A
-- vantage in maintenance says nothing: an outage neither opens nor ends in its window.
CREATE OR REPLACE FUNCTION parallax.merge_bad(state text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT CASE WHEN state IN ('no_data', 'unknown', 'maintenance') THEN NULL
            ELSE state NOT IN ('healthy', 'up', 'normal') END
$$;

-- The readable per-bin verdicts.
CREATE OR REPLACE VIEW parallax.vantage_bins AS
SELECT a.name AS agent, a.country, a.asn, b.bin_start, b.bin_end,
       b.state::parallax.vantage_health AS health, b.evidence
FROM parallax.bins b
JOIN parallax.agents a ON a.id = b.subject_id
WHERE b.scope = 'vantage';

COMMENT ON VIEW parallax.vantage_bins IS 'Vantage health per bin: healthy, impaired (control targets mostly fail, or local errors), offline (no results, no heartbeat), no_data (heartbeats only, or a spool gap), maintenance (in a maintenance window of its agent: left out of target verdicts, no outage; evidence.health says what it would have been).';

CREATE OR REPLACE VIEW parallax.target_bins AS
SELECT t.name AS target, t.group_name, t.role, b.bin_start, b.bin_end,
       b.state::parallax.target_state AS state, b.rtt_ms, b.evidence
FROM parallax.bins b
JOIN parallax.targets t ON t.id = b.subject_id
WHERE b.scope = 'target';

COMMENT ON VIEW parallax.target_bins IS 'Target state per bin from healthy vantages only (not impaired, offline or in maintenance): up, degraded, partial, down, unknown (too few healthy vantages). evidence.maintenance: the target or its group was in a maintenance window.';

CREATE OR REPLACE VIEW parallax.group_bins AS
SELECT g.name AS group_name, b.bin_start, b.bin_end,
       b.state::parallax.group_stage AS stage, b.evidence
FROM parallax.bins b
JOIN parallax.merge_groups g ON g.id = b.subject_id
WHERE b.scope = 'group';

COMMENT ON VIEW parallax.group_bins IS 'Group stage per bin: normal < degraded < servers_offline < dns_down < blackout (unknown: no target known). evidence.maintenance: the group was in a maintenance window.';

-- The work lists of one merge_run (see merge_run), plus the steps of judging one window of target
-- bins: merge_step (the target bins of the window) and merge_runs (their runs).
CREATE OR REPLACE FUNCTION parallax.merge_prepare() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
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
    IF to_regclass('pg_temp.merge_step') IS NULL THEN
        CREATE TEMP TABLE merge_step (
            subject_id integer PRIMARY KEY,
            bin_start  timestamptz NOT NULL,
            bin_end    timestamptz NOT NULL
        ) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE merge_runs (
            target_id   integer NOT NULL,
            agent_id    integer NOT NULL,
            probe_id    bigint NOT NULL,
            kind        text NOT NULL,
            status      parallax.status NOT NULL,
            rtt_ms      double precision,
            health      text NOT NULL,
            provisional boolean NOT NULL
        ) ON COMMIT DELETE ROWS;
    END IF;
    -- Two runs in one transaction must not see each other's lists.
    DELETE FROM pg_temp.merge_work;
    DELETE FROM pg_temp.merge_merged;
END $$;

-- Moves the closed dirty bins of one scope into merge_work; returns how many. A bin before
-- merge_floor() is dropped from the queue unmerged: retention may have removed some of its
-- inputs, and judging it again would read them as "no data" (its stored verdict stays).
-- merge_floor() reads the schedule; it is asked only when a bin this old is waiting (no
-- margin of merge_floor exceeds three widths of at most a day each and a clock offset).
CREATE OR REPLACE FUNCTION parallax.merge_take(p_scope text, p_now timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    taken integer;
    removed timestamptz := (SELECT max(r.removed_before) FROM parallax.retention_state r
                            WHERE r.kind IN ('results', 'heartbeats', 'gaps'));
    kept_from timestamptz := '-infinity';
BEGIN
    IF removed IS NOT NULL AND EXISTS (
        SELECT 1 FROM parallax.merge_dirty d
        WHERE d.scope = p_scope AND d.closes_at <= p_now
          AND d.bin_start < removed + interval '3 days'
              + (SELECT coalesce(max(abs(a.clock_offset_ms)), 0) FROM parallax.agents a) * interval '1 ms') THEN
        kept_from := coalesce(parallax.merge_floor(), '-infinity');
    END IF;
    DELETE FROM pg_temp.merge_work;
    WITH d AS (
        DELETE FROM parallax.merge_dirty
        WHERE scope = p_scope AND closes_at <= p_now
        RETURNING subject_id, bin_start, bin_end
    )
    INSERT INTO pg_temp.merge_work SELECT * FROM d WHERE d.bin_start >= kept_from;
    GET DIAGNOSTICS taken = ROW_COUNT;
    IF taken > 0 THEN
        -- Plans below join on this list; without statistics they guess badly.
        ANALYZE pg_temp.merge_work;
    END IF;
    RETURN taken;
END $$;

-- Judges offline vantages: queues the vantage bins of every agent enabled at the time that
-- closed since the last sweep, whether or not anything arrived for them.
CREATE OR REPLACE FUNCTION parallax.merge_sweep(p_now timestamptz) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    s parallax.merge_settings := parallax.merge_settings_now();
    width interval := s.vantage_bin_s * interval '1 second';
    last_closed timestamptz;
    first timestamptz;
BEGIN
    last_closed := parallax.bin_floor(p_now - parallax.merge_grace(s.vantage_bin_s, s) - width, s.vantage_bin_s);
    -- The first sweep starts at the oldest vantage bin a result arrived for; before any did,
    -- there is nothing to judge (a deployment starting up is not a row of offline vantages).
    first := coalesce((SELECT vantages_swept_to FROM parallax.merge_state),
                      (SELECT min(bin_start) FROM parallax.merge_dirty WHERE scope = 'vantage'));
    IF first IS NULL THEN
        RETURN;
    END IF;
    -- On the grid of the width in force (an auto width changes with the schedule).
    first := parallax.bin_floor(greatest(first, p_now - s.sweep_max), s.vantage_bin_s);
    IF first > last_closed THEN
        RETURN;
    END IF;
    INSERT INTO parallax.merge_dirty (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'vantage', a.id, b, b + width, parallax.merge_closes_at('vantage', b + width, s.vantage_bin_s, s)
    FROM parallax.agents a
    CROSS JOIN generate_series(first, last_closed, width) b
    WHERE (a.enabled OR a.disabled_at > b) AND a.created_at < b + width
    ON CONFLICT DO NOTHING;
    UPDATE parallax.merge_state
    SET vantages_swept_to = last_closed + width,
        vantages_swept_from = coalesce(vantages_swept_from, first);
END $$;

-- Merges the closed dirty vantage bins; returns how many. A vantage is healthy unless its
-- control targets mostly fail or it reports local errors (impaired), or nothing at all came
-- from it (offline). Target bins are judged again when a vantage bin they used changes
-- between healthy and not, or when they assumed its health before it was merged.
CREATE OR REPLACE FUNCTION parallax.merge_vantage_bins(p_now timestamptz) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    s parallax.merge_settings := parallax.merge_settings_now();
    taken integer;
    lo interval;
    hi interval;
    widest interval := parallax.widest_bin();
    windows boolean;
BEGIN
    taken := parallax.merge_take('vantage', p_now);
    IF taken = 0 THEN
        RETURN 0;
    END IF;
    windows := parallax.maintenance_any((SELECT min(bin_start) FROM pg_temp.merge_work),
                                        (SELECT max(bin_end) FROM pg_temp.merge_work));
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
          -- One-off requests (46_probe_requests.sql) never change a verdict, a vantage's
          -- health included: a trace asked of it during an outage is not one of its runs.
          AND NOT EXISTS (SELECT 1 FROM parallax.request_probes q WHERE q.id = r.probe_id)
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
               -- parallax.in_maintenance('vantage', ...), written out: a call of that SQL
               -- function per bin costs a hundred times the index probe.
               windows AND EXISTS (SELECT 1 FROM parallax.maintenance m
                                   WHERE m.agent_id = c.subject_id AND m.ends_at > c.bin_start
                                     AND m.starts_at < c.bin_end) AS maintenance,
               CASE WHEN hb.gap THEN 'no_data'
                    WHEN c.results = 0 AND NOT hb.heartbeat THEN 'offline'
                    WHEN c.results = 0 THEN 'no_data'
                    WHEN c.controls > 0 AND c.controls_ok < s.control_ok_min::numeric * c.controls THEN 'impaired'
                    WHEN c.local_errors > 0 AND c.local_errors >= s.local_error_share::numeric * c.results THEN 'impaired'
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
        SELECT w.subject_id, w.bin_start,
               (SELECT b.state FROM parallax.bins b
                WHERE b.scope = 'vantage' AND b.subject_id = w.subject_id AND b.bin_start = w.bin_start) AS state
        FROM pg_temp.merge_work w
    ),
    up AS (
        -- In a maintenance window the bin's state is 'maintenance'; the health its inputs
        -- say is kept in the evidence.
        INSERT INTO parallax.bins AS b (scope, subject_id, bin_start, bin_end, state, rank, bad, evidence)
        SELECT 'vantage', j.subject_id, j.bin_start, j.bin_end, m.state,
               parallax.merge_rank(m.state), parallax.merge_bad(m.state),
               jsonb_strip_nulls(jsonb_build_object(
                   'results', j.results, 'controls', j.controls, 'controls_ok', j.controls_ok,
                   'local_errors', j.local_errors, 'control_failure', j.control_failure,
                   'heartbeat', j.heartbeat, 'gap', j.gap,
                   'maintenance', CASE WHEN j.maintenance THEN true END,
                   'health', CASE WHEN j.maintenance THEN j.state END))
        FROM judged j
        CROSS JOIN LATERAL (SELECT CASE WHEN j.maintenance THEN 'maintenance' ELSE j.state END AS state) m
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
        -- A bin merged before whose health changed: the target bins its results fall in
        -- counted or ignored it.
        SELECT up.subject_id, up.bin_start, up.bin_end
        FROM up JOIN old USING (subject_id, bin_start)
        WHERE old.state IS NOT NULL AND (old.state = 'healthy') <> (up.state = 'healthy')
    ),
    requeue AS (
        SELECT w.target_id, parallax.bin_floor(r.ts - parallax.clock_offset(a.clock_offset_ms), w.width) AS bin_start,
               w.width * interval '1 second' AS width
        FROM flipped f
        JOIN parallax.agents a ON a.id = f.subject_id
        CROSS JOIN LATERAL (
            SELECT r.ts, r.probe_id FROM parallax.results r
            WHERE r.agent_id = f.subject_id
              AND r.ts >= f.bin_start + parallax.clock_offset(a.clock_offset_ms)
              AND r.ts < f.bin_end + parallax.clock_offset(a.clock_offset_ms) OFFSET 0) r
        JOIN parallax.probe_widths() w ON w.probe_id = r.probe_id AND NOT w.control
        UNION
        -- Target bins that assumed this vantage's health before this bin was merged.
        SELECT b.subject_id, b.bin_start, b.bin_end - b.bin_start
        FROM up
        CROSS JOIN LATERAL (
            SELECT b.subject_id, b.bin_start, b.bin_end FROM parallax.bins b
            WHERE b.scope = 'target' AND b.bin_start > up.bin_start - widest
              AND b.bin_start < up.bin_end AND b.bin_end > up.bin_start
              AND b.provisional @> ARRAY[up.subject_id] OFFSET 0) b
    )
    -- Already closed: judged again by this very merge_run.
    INSERT INTO parallax.merge_dirty (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT DISTINCT 'target', q.target_id, q.bin_start, q.bin_start + q.width, p_now
    FROM requeue q
    ON CONFLICT DO NOTHING;
    RETURN taken;
END $$;

-- Which probe kinds are a role's service (docs/verdicts.md): a web server's web, a mail
-- server's mail, a DNS server's DNS; routers and hosts have none (the host is the service).
CREATE OR REPLACE FUNCTION parallax.merge_service_kind(role parallax.target_role, kind text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT CASE role
    WHEN 'web' THEN kind IN ('http', 'https', 'tcp')
    WHEN 'dns' THEN kind = 'dns'
    WHEN 'mail' THEN kind IN ('smtp', 'tcp')
    ELSE false END
$$;

-- Merges the closed dirty target bins; returns how many. Window by window in time order, so
-- that each bin reads what the bin before it passes on (baseline, live probes) as merged in
-- this very call. A bin whose re-judging changed what it passes on queues the target's next
-- bin, which a later round of this loop takes; so does a re-judged bin whose successors
-- already exist. At most 5,000 windows per call: the rest waits for the next.
CREATE OR REPLACE FUNCTION parallax.merge_target_bins(p_now timestamptz) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    s parallax.merge_settings := parallax.merge_settings_now();
    taken integer := 0;
    n integer;
    windows integer := 0;
    win record;
BEGIN
    LOOP
        n := parallax.merge_take('target', p_now);
        EXIT WHEN n = 0;
        taken := taken + n;
        -- A group must have a number before its bins can be queued.
        INSERT INTO parallax.merge_groups (name)
        SELECT DISTINCT t.group_name
        FROM pg_temp.merge_work w JOIN parallax.targets t ON t.id = w.subject_id
        WHERE t.group_name IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM parallax.merge_groups g WHERE g.name = t.group_name)
        ON CONFLICT DO NOTHING;
        FOR win IN SELECT DISTINCT bin_start, bin_end FROM pg_temp.merge_work ORDER BY 1, 2 LOOP
            DELETE FROM pg_temp.merge_step;
            INSERT INTO pg_temp.merge_step
            SELECT subject_id, bin_start, bin_end FROM pg_temp.merge_work
            WHERE bin_start = win.bin_start AND bin_end = win.bin_end;
            PERFORM parallax.merge_target_runs(win.bin_start, win.bin_end, s);
            PERFORM parallax.merge_target_judge(win.bin_start, win.bin_end, s, p_now);
            windows := windows + 1;
        END LOOP;
        EXIT WHEN windows >= 5000;
    END LOOP;
    IF taken > 0 THEN
        PERFORM parallax.merge_group_close_early(p_now);
    END IF;
    RETURN taken;
END $$;

-- Collects into merge_runs the runs of the window's target bins (merge_step), each with its
-- vantage's health at the time: the merged vantage bin's, or, when it is not merged yet, the
-- latest merged health of that vantage (healthy when there is none), marked provisional.
-- A vantage in a maintenance window is 'maintenance' whether merged or not: the window, not
-- its results, decides that, so nothing about it is assumed.
CREATE OR REPLACE FUNCTION parallax.merge_target_runs(p_start timestamptz, p_end timestamptz,
                                           s parallax.merge_settings) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    lo interval;
    hi interval;
    any_gaps boolean;
    vwidth interval := s.vantage_bin_s * interval '1 second';
    windows boolean := parallax.maintenance_any(parallax.bin_floor(p_start, s.vantage_bin_s), p_end);
BEGIN
    SELECT least(coalesce(min(parallax.clock_offset(clock_offset_ms)), '0'), '0'),
           greatest(coalesce(max(parallax.clock_offset(clock_offset_ms)), '0'), '0')
    INTO lo, hi FROM parallax.agents;
    -- Gaps are rare; when none touches this window the per-run check below is skipped.
    SELECT EXISTS (SELECT 1 FROM parallax.gaps g WHERE g.ts_from < p_end + hi AND g.ts_to >= p_start + lo)
    INTO any_gaps;
    DELETE FROM pg_temp.merge_runs;
    INSERT INTO pg_temp.merge_runs
    WITH health AS (
        SELECT a.id AS agent_id, vb.bin_start, coalesce(w.state, m.state) AS merged,
               coalesce(w.state, m.state,
                        (SELECT b.state FROM parallax.bins b
                         WHERE b.scope = 'vantage' AND b.subject_id = a.id AND b.bin_start < vb.bin_start
                         ORDER BY b.bin_start DESC LIMIT 1),
                        'healthy') AS state
        FROM parallax.agents a
        CROSS JOIN generate_series(parallax.bin_floor(p_start, s.vantage_bin_s),
                                   p_end - interval '1 microsecond', vwidth) vb (bin_start)
        LEFT JOIN LATERAL (
            SELECT b.state FROM parallax.bins b
            WHERE b.scope = 'vantage' AND b.subject_id = a.id AND b.bin_start = vb.bin_start) m ON true
        CROSS JOIN LATERAL (
            SELECT CASE WHEN windows AND EXISTS (
                            SELECT 1 FROM parallax.maintenance m
                            WHERE m.agent_id = a.id AND m.ends_at > vb.bin_start
                              AND m.starts_at < vb.bin_start + vwidth)
                        THEN 'maintenance' END AS state) w
    )
    SELECT w.subject_id, r.agent_id, r.probe_id, p.kind, r.status, r.rtt_ms, h.state, h.merged IS NULL
    FROM (
        -- OFFSET 0: an index range scan of the window, never the whole partition.
        SELECT r.agent_id, r.probe_id, r.ts, r.status, r.rtt_ms FROM parallax.results r
        WHERE r.ts >= p_start + lo AND r.ts < p_end + hi OFFSET 0) r
    JOIN parallax.probes p ON p.id = r.probe_id
    JOIN pg_temp.merge_step w ON w.subject_id = p.target_id
    JOIN parallax.agents a ON a.id = r.agent_id
    CROSS JOIN LATERAL (SELECT r.ts - parallax.clock_offset(a.clock_offset_ms) AS at) x
    JOIN health h ON h.agent_id = r.agent_id AND h.bin_start = parallax.bin_floor(x.at, s.vantage_bin_s)
    WHERE x.at >= p_start AND x.at < p_end
      AND NOT (any_gaps AND EXISTS (
            SELECT 1 FROM parallax.gaps g
            WHERE g.agent_id = r.agent_id AND (g.probe_id IS NULL OR g.probe_id = r.probe_id)
              AND g.ts_from - parallax.clock_offset(a.clock_offset_ms) < p_end
              AND g.ts_to - parallax.clock_offset(a.clock_offset_ms) >= p_start));
END $$;

-- Judges the window's target bins from merge_runs (docs/verdicts.md, "Target state"), stores
-- them, and queues what depends on them: the group bins they overlap when a verdict or its
-- evidence changed, the target's next bin when what this one passes on changed.
CREATE OR REPLACE FUNCTION parallax.merge_target_judge(p_start timestamptz, p_end timestamptz,
                                            s parallax.merge_settings, p_now timestamptz) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    gwidth interval := s.group_bin_s * interval '1 second';
    since timestamptz := p_start - s.baseline_window;
    windows boolean := parallax.maintenance_any(p_start, p_end);
BEGIN
    WITH vantage AS (
        -- Each vantage with runs in each bin: healthy if healthy in every vantage bin its runs
        -- fall in; the health it was judged with, and whether that was assumed.
        SELECT r.target_id, r.agent_id, a.name COLLATE "C" AS name, a.country, a.asn,
               bool_and(r.health = 'healthy') AS healthy,
               bool_or(r.provisional) AS provisional,
               coalesce(min(r.health) FILTER (WHERE r.health <> 'healthy'), 'healthy') AS health
        FROM pg_temp.merge_runs r JOIN parallax.agents a ON a.id = r.agent_id
        GROUP BY r.target_id, r.agent_id, a.name, a.country, a.asn
    ),
    target AS (
        -- Each target of the window with what it needs of its own history, by primary-key
        -- probes: the bin before (within baseline_window: what it passes on), this bin as
        -- merged before, and the next bin.
        SELECT w.subject_id AS target_id, t.role, prev.bin_start AS prev_start, prev.h_open AS prev_open,
               prev.h_streak AS prev_streak, prev.last_ok AS prev_last_ok,
               CASE WHEN prev.base_at >= since THEN prev.base_ms END AS base_ms,
               CASE WHEN prev.base_at >= since THEN prev.base_n END AS base_n,
               CASE WHEN prev.base_at >= since THEN prev.base_at END AS base_at,
               old.state AS old_state, old.evidence AS old_evidence, old.base_ms AS old_base_ms,
               old.base_n AS old_base_n, old.base_at AS old_base_at, old.last_ok AS old_last_ok,
               old.state IS NOT NULL AS merged_before,
               nxt.bin_start AS next_start, nxt.bin_end AS next_end
        FROM pg_temp.merge_step w
        JOIN parallax.targets t ON t.id = w.subject_id
        LEFT JOIN LATERAL (
            SELECT b.bin_start, b.h_open, b.h_streak, b.base_ms, b.base_n, b.base_at, b.last_ok
            FROM parallax.bins b
            WHERE b.scope = 'target' AND b.subject_id = w.subject_id
              AND b.bin_start < p_start AND b.bin_start >= since
            ORDER BY b.bin_start DESC LIMIT 1) prev ON true
        LEFT JOIN LATERAL (
            SELECT b.state, b.evidence, b.base_ms, b.base_n, b.base_at, b.last_ok FROM parallax.bins b
            WHERE b.scope = 'target' AND b.subject_id = w.subject_id AND b.bin_start = p_start) old ON true
        LEFT JOIN LATERAL (
            SELECT b.bin_start, b.bin_end FROM parallax.bins b
            WHERE b.scope = 'target' AND b.subject_id = w.subject_id AND b.bin_start > p_start
            ORDER BY b.bin_start LIMIT 1) nxt ON true
    ),
    probe AS (
        -- Each probe with runs: live if a healthy vantage reached it now or within
        -- baseline_window; a service probe if its kind is the target role's service.
        SELECT r.target_id, r.probe_id, min(p.spec) AS spec,
               bool_or(r.status = 'ok' AND v.healthy) AS ok_now,
               bool_or(r.status = 'ok' AND v.healthy)
                   OR coalesce(min((t.prev_last_ok ->> r.probe_id::text)::double precision)
                               >= extract(epoch FROM since), false) AS live,
               parallax.merge_service_kind(min(t.role), min(r.kind)) AS service
        FROM pg_temp.merge_runs r
        JOIN vantage v USING (target_id, agent_id)
        JOIN target t USING (target_id)
        JOIN parallax.probes p ON p.id = r.probe_id
        GROUP BY r.target_id, r.probe_id
    ),
    counted_probe AS (
        -- No live probe at all: every probe counts. No live service probe: every live one is
        -- the service.
        SELECT c.*, c.effective AND (c.service OR NOT bool_or(c.effective AND c.service) OVER t) AS svc
        FROM (SELECT p.*, p.live OR NOT bool_or(p.live) OVER t AS effective
              FROM probe p WINDOW t AS (PARTITION BY p.target_id)) c
        WINDOW t AS (PARTITION BY c.target_id)
    ),
    per_vantage AS (
        -- The healthy vantages' runs of the counting probes.
        SELECT r.target_id, r.agent_id,
               count(*) FILTER (WHERE p.effective) AS runs,
               count(*) FILTER (WHERE p.effective AND r.status = 'ok') AS ok,
               count(*) FILTER (WHERE p.svc) AS svc_runs,
               count(*) FILTER (WHERE p.svc AND r.status = 'ok') AS svc_ok,
               count(*) FILTER (WHERE p.effective AND NOT p.svc AND r.status = 'ok') AS host_ok
        FROM pg_temp.merge_runs r
        JOIN counted_probe p USING (target_id, probe_id)
        JOIN vantage v USING (target_id, agent_id)
        WHERE v.healthy
        GROUP BY r.target_id, r.agent_id
    ),
    per_target AS (
        -- Each bin's vantages in one pass: the counted ones (with a service run) and how
        -- they fared, the ones left out, the health assumed. (Networks are counted below,
        -- only where every counted vantage failed.)
        SELECT v.target_id,
               count(*) FILTER (WHERE pv.svc_runs > 0) AS vantages,
               count(*) FILTER (WHERE pv.svc_runs > 0 AND pv.svc_ok = 0) AS failed,
               coalesce(bool_or(pv.svc_runs > 0 AND pv.svc_ok = 0 AND pv.host_ok > 0), false) AS host_answers,
               jsonb_agg(v.name ORDER BY v.name) FILTER (WHERE pv.svc_runs > 0 AND pv.svc_ok = 0) AS failed_names,
               jsonb_agg(v.name ORDER BY v.name)
                   FILTER (WHERE pv.svc_runs > 0 AND pv.svc_ok > 0 AND pv.ok < pv.runs) AS mixed_names,
               jsonb_agg(v.name ORDER BY v.name)
                   FILTER (WHERE pv.svc_runs > 0 AND pv.svc_ok > 0 AND pv.ok = pv.runs) AS reached_names,
               jsonb_agg(v.name ORDER BY v.name) FILTER (WHERE NOT v.healthy) AS excluded,
               jsonb_object_agg(v.name, v.health) FILTER (WHERE v.provisional) AS provisional,
               array_agg(v.agent_id ORDER BY v.agent_id) FILTER (WHERE v.provisional) AS provisional_ids
        FROM vantage v
        LEFT JOIN per_vantage pv USING (target_id, agent_id)
        GROUP BY v.target_id
    ),
    per_run AS (
        SELECT r.target_id,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY r.rtt_ms)
                   FILTER (WHERE r.status = 'ok' AND r.rtt_ms IS NOT NULL) AS rtt_ms,
               avg((r.status <> 'ok')::integer) AS failure_share,
               mode() WITHIN GROUP (ORDER BY r.status) FILTER (WHERE r.status <> 'ok') AS failure
        FROM pg_temp.merge_runs r
        JOIN counted_probe p USING (target_id, probe_id)
        JOIN per_vantage pv USING (target_id, agent_id)
        WHERE p.effective AND pv.svc_runs > 0
        GROUP BY r.target_id
    ),
    probe_notes AS (
        -- The probes left out as chronic, and those ok now (what the bin passes on).
        SELECT p.target_id,
               jsonb_agg(p.spec ORDER BY p.spec) FILTER (WHERE NOT p.effective) AS chronic,
               coalesce(jsonb_object_agg(p.probe_id::text, extract(epoch FROM p_start))
                            FILTER (WHERE p.ok_now), '{}') AS ok_now
        FROM counted_probe p
        GROUP BY p.target_id
    ),
    notes AS (
        -- What the bin passes on of its probes: their latest ok within baseline_window (the
        -- bin before's, still recent enough, overridden by this bin's).
        SELECT t.target_id, pn.chronic,
               (SELECT coalesce(jsonb_object_agg(k.key, k.value), '{}')
                FROM jsonb_each(coalesce(t.prev_last_ok, '{}')) k
                WHERE k.value::text::double precision >= extract(epoch FROM since))
               || coalesce(pn.ok_now, '{}') AS last_ok
        FROM target t
        LEFT JOIN probe_notes pn USING (target_id)
    ),
    judged AS (
        SELECT t.*, pt.vantages, pt.failed_names, pt.mixed_names, pt.reached_names, pt.host_answers,
               pr.rtt_ms, pr.failure_share, pr.failure, pt.excluded, pt.provisional, pt.provisional_ids,
               n.chronic, n.last_ok,
               CASE WHEN t.base_n >= s.baseline_min_bins THEN t.base_ms END AS baseline_ms,
               CASE WHEN coalesce(pt.vantages, 0) < s.min_vantages THEN 'unknown'
                    WHEN pt.failed = pt.vantages THEN
                        CASE WHEN (SELECT greatest(count(DISTINCT a.country), count(DISTINCT a.asn))
                                   FROM parallax.agents a WHERE pt.failed_names ? a.name) >= s.min_networks
                             THEN 'down' ELSE 'unknown' END
                    WHEN pt.failed > 0 THEN 'partial'
                    WHEN pr.failure_share >= s.degraded_failure_share::numeric THEN 'degraded'
                    WHEN t.base_n >= s.baseline_min_bins AND pr.rtt_ms > s.latency_factor * t.base_ms
                         AND pr.rtt_ms - t.base_ms >= s.latency_min_ms THEN 'degraded'
                    ELSE 'up' END AS state
        FROM target t
        LEFT JOIN per_target pt USING (target_id)
        LEFT JOIN per_run pr USING (target_id)
        JOIN notes n USING (target_id)
    ),
    based AS (
        -- An "up" bin with an RTT moves the baseline: a plain mean over the first
        -- baseline_bins, then each new bin weighs 1/baseline_bins. Other bins carry it.
        SELECT j.*,
               CASE WHEN f.folds THEN coalesce(j.base_ms + (j.rtt_ms - j.base_ms) / f.next_n, j.rtt_ms)
                    ELSE j.base_ms END AS next_base_ms,
               CASE WHEN f.folds THEN f.next_n ELSE j.base_n END AS next_base_n,
               CASE WHEN f.folds THEN p_start ELSE j.base_at END AS next_base_at
        FROM judged j
        CROSS JOIN LATERAL (
            SELECT j.state = 'up' AND j.rtt_ms IS NOT NULL AS folds,
                   least(coalesce(j.base_n, 0) + 1, s.baseline_bins) AS next_n) f
    ),
    up AS (
        INSERT INTO parallax.bins AS b (scope, subject_id, bin_start, bin_end, state, rank, bad, rtt_ms,
                                        base_ms, base_n, base_at, last_ok, provisional, evidence)
        SELECT 'target', j.target_id, p_start, p_end, j.state,
               parallax.merge_rank(j.state), parallax.merge_bad(j.state), j.rtt_ms,
               j.next_base_ms, j.next_base_n, j.next_base_at, j.last_ok, j.provisional_ids,
               jsonb_strip_nulls(jsonb_build_object(
                   'vantages', coalesce(j.vantages, 0), 'failed', j.failed_names,
                   'mixed', j.mixed_names, 'reached', j.reached_names, 'excluded', j.excluded,
                   'provisional', j.provisional, 'chronic', j.chronic,
                   'service_down', CASE WHEN j.state = 'down' AND j.host_answers THEN true END,
                   'failure', j.failure, 'failure_share', round(j.failure_share, 3)::float8,
                   'baseline_ms', round(j.baseline_ms::numeric, 3)::float8,
                   -- The targets in a window of their own or of their group's, one
                   -- hashed set per window of bins.
                   'maintenance', CASE WHEN j.target_id IN (
                                           SELECT t.id FROM parallax.maintenance m
                                           JOIN parallax.targets t
                                             ON t.id = m.target_id OR t.group_name = m.group_name
                                           WHERE windows AND m.ends_at > p_start AND m.starts_at < p_end)
                                       THEN true END))
        FROM based j
        ON CONFLICT (scope, subject_id, bin_start) DO UPDATE
            SET bin_end = EXCLUDED.bin_end, state = EXCLUDED.state, rank = EXCLUDED.rank,
                bad = EXCLUDED.bad, rtt_ms = EXCLUDED.rtt_ms, base_ms = EXCLUDED.base_ms,
                base_n = EXCLUDED.base_n, base_at = EXCLUDED.base_at, last_ok = EXCLUDED.last_ok,
                provisional = EXCLUDED.provisional, evidence = EXCLUDED.evidence, merged_at = now()
        RETURNING b.subject_id AS target_id, b.state, b.evidence, b.bad, b.xmax = 0 AS fresh
    ),
    noted AS (
        -- New after a bin with no outage and no run of bad bins, with nothing after it: the
        -- outage tracker has nothing to do for it if it is not bad either (see merge_outages).
        INSERT INTO pg_temp.merge_merged
        SELECT 'target', up.target_id, p_start, up.fresh, up.bad,
               up.fresh AND NOT coalesce(up.bad, false) AND j.next_start IS NULL
               AND j.prev_start IS NOT NULL AND NOT j.prev_open AND j.prev_streak = 0
        FROM up JOIN based j USING (target_id)
    ),
    next_bins AS (
        -- What this bin passes on changed (or it is new in the middle of history): the next
        -- bin must be judged again with it.
        INSERT INTO parallax.merge_dirty (scope, subject_id, bin_start, bin_end, closes_at)
        SELECT 'target', j.target_id, j.next_start, j.next_end, p_now
        FROM based j
        WHERE j.next_start IS NOT NULL
          AND (NOT j.merged_before
               OR (j.old_base_ms, j.old_base_n, j.old_base_at, j.old_last_ok)
                  IS DISTINCT FROM (j.next_base_ms, j.next_base_n, j.next_base_at, j.last_ok))
        ON CONFLICT DO NOTHING
    )
    INSERT INTO parallax.merge_dirty (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'group', gb.id, gb.bin_start, gb.bin_start + gwidth,
           parallax.merge_closes_at('group', gb.bin_start + gwidth, s.group_bin_s, s)
    FROM (
        SELECT DISTINCT g.id, gb AS bin_start
        FROM up
        JOIN based old USING (target_id)
        JOIN parallax.targets t ON t.id = up.target_id
        JOIN parallax.merge_groups g ON g.name = t.group_name
        CROSS JOIN LATERAL generate_series(parallax.bin_floor(p_start, s.group_bin_s),
                                           p_end - interval '1 microsecond', gwidth) gb
        -- Group bins show which vantages failed, so evidence counts as a change too.
        WHERE (old.old_state, old.old_evidence) IS DISTINCT FROM (up.state, up.evidence)) gb
    ON CONFLICT DO NOTHING;
END $$;

-- A group bin waiting for its grace while every one of its targets has a merged bin spanning
-- it, and none waits to be merged again, has nothing more to wait for: its targets closed
-- early, complete. (Targets with narrower bins never qualify.)
CREATE OR REPLACE FUNCTION parallax.merge_group_close_early(p_now timestamptz) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    widest interval := parallax.widest_bin();
BEGIN
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
END $$;

-- Merges the closed dirty group bins; returns how many. (Shares are compared as the decimals
-- set: a real 0.8 is 0.800000012, and 4 of 5 targets down must be a blackout.) A target counts with its worst
-- state among its bins overlapping the group bin; unknown targets are left out.
--   blackout        every known router-role target down, and blackout_share of known targets down
--   dns_down        every known dns-role target down
--   servers_offline some target down
--   degraded        some target degraded or partial
--   normal          otherwise; unknown when no target is known
CREATE OR REPLACE FUNCTION parallax.merge_group_bins(p_now timestamptz) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    s parallax.merge_settings;
    taken integer;
    widest interval;
    windows boolean;
    routes_on boolean;
BEGIN
    SELECT * INTO s FROM parallax.merge_settings;
    taken := parallax.merge_take('group', p_now);
    IF taken = 0 THEN
        RETURN 0;
    END IF;
    widest := parallax.widest_bin();
    windows := parallax.maintenance_any((SELECT min(bin_start) FROM pg_temp.merge_work),
                                        (SELECT max(bin_end) FROM pg_temp.merge_work));
    -- BGP data (45_routes.sql) is asked only where a collector peer was ever heard.
    routes_on := EXISTS (SELECT 1 FROM parallax.route_peers);

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
                         AND c.down >= s.blackout_share::numeric * c.known THEN 'blackout'
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
                   'other_vantages', j.not_failing,
                   'maintenance', CASE WHEN windows AND EXISTS (
                                           SELECT 1 FROM parallax.maintenance m
                                           JOIN parallax.merge_groups g ON g.name = m.group_name
                                           WHERE g.id = j.subject_id AND m.ends_at > j.bin_start
                                             AND m.starts_at < j.bin_end)
                                       THEN true END,
                   -- Said for a blackout (unroutable, or routes present), and whenever
                   -- routes were withdrawn: a single server down says nothing of BGP.
                   'routes', CASE WHEN j.state = 'blackout' OR rt.r->>'state' <> 'routed' THEN rt.r END))
        FROM judged j
        LEFT JOIN LATERAL (
            SELECT parallax.group_routes(g.name, j.bin_end) AS r FROM parallax.merge_groups g
            WHERE routes_on AND g.id = j.subject_id) rt ON true
        ON CONFLICT (scope, subject_id, bin_start) DO UPDATE
            SET bin_end = EXCLUDED.bin_end, state = EXCLUDED.state, rank = EXCLUDED.rank,
                bad = EXCLUDED.bad, evidence = EXCLUDED.evidence, merged_at = now()
        RETURNING b.subject_id, b.bin_start, b.bad, b.xmax = 0 AS fresh
    )
    INSERT INTO pg_temp.merge_merged SELECT 'group', subject_id, bin_start, fresh, bad FROM up;
    RETURN taken;
END $$;
