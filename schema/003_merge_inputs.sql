-- 003_merge_inputs: what the merge reads besides results (heartbeats, spool gaps, clock
-- offsets, its settings) and the dirty-bin record that makes merging incremental: every
-- insert of results marks the bins it touches, so the merge never has to scan for work.

-- Agent clock minus coordinator clock, in milliseconds (positive: the agent is ahead), as
-- measured from heartbeat timestamps. The merge places a result at ts - clock_offset_ms.
-- The current value is applied to every result of the agent, old ones included, so a large
-- change of offset only affects bins merged from then on (parallax.merge_mark re-merges).
ALTER TABLE parallax.agents ADD COLUMN clock_offset_ms integer;
COMMENT ON COLUMN parallax.agents.clock_offset_ms IS
    'Agent clock minus coordinator clock in ms (NULL: unknown, taken as 0); results fall in bins by ts - clock_offset_ms.';

-- One row per heartbeat received, timed by the coordinator's clock (so never offset-corrected).
-- A vantage bin with neither results nor heartbeats is "offline".
CREATE TABLE parallax.heartbeats (
    agent_id integer NOT NULL REFERENCES parallax.agents (id) ON DELETE CASCADE,
    ts       timestamptz NOT NULL,
    PRIMARY KEY (agent_id, ts)
);
COMMENT ON TABLE parallax.heartbeats IS 'Heartbeats received from agents (coordinator clock); absence of these and of results makes a vantage offline.';

-- Results an agent's spool had to drop. A bin a gap overlaps is "no data" for that vantage
-- (never a failure): for that probe, or for every probe when probe_id is NULL. Times are the
-- agent's clock, like results.ts.
CREATE TABLE parallax.gaps (
    id            bigserial PRIMARY KEY,
    agent_id      integer NOT NULL REFERENCES parallax.agents (id) ON DELETE CASCADE,
    probe_id      bigint,
    ts_from       timestamptz NOT NULL,
    ts_to         timestamptz NOT NULL CHECK (ts_to >= ts_from),
    dropped_count bigint NOT NULL DEFAULT 0 CHECK (dropped_count >= 0),
    reported_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gaps_agent_ts ON parallax.gaps (agent_id, ts_from);
COMMENT ON COLUMN parallax.gaps.probe_id IS 'NULL: the gap covers every probe of the agent.';

-- The merge finds the results of one bin by time; the primary key leads with agent_id and
-- cannot. Results arrive roughly in ts order, so this index grows at its right edge.
CREATE INDEX results_ts ON parallax.results (ts);

-- Every knob of the merge, in one row changed with plain SQL:
--   UPDATE parallax.merge_settings SET open_after = 3;
-- Grid widths (vantage_bin_s, group_bin_s) should be chosen before the first merge; after a
-- change, re-merge history with parallax.merge_mark(from, to).
CREATE TABLE parallax.merge_settings (
    id                     boolean PRIMARY KEY DEFAULT true CHECK (id),
    min_vantages           integer NOT NULL DEFAULT 2 CHECK (min_vantages >= 1),
    min_networks           integer NOT NULL DEFAULT 2 CHECK (min_networks >= 1),
    open_after             integer NOT NULL DEFAULT 2 CHECK (open_after >= 1),
    close_after            integer NOT NULL DEFAULT 3 CHECK (close_after >= 1),
    grace_bins             real NOT NULL DEFAULT 1 CHECK (grace_bins >= 0),
    grace_s                integer NOT NULL DEFAULT 10 CHECK (grace_s >= 0),
    vantage_bin_s          integer NOT NULL DEFAULT 60 CHECK (vantage_bin_s BETWEEN 1 AND 86400),
    group_bin_s            integer NOT NULL DEFAULT 60 CHECK (group_bin_s BETWEEN 1 AND 86400),
    control_ok_min         real NOT NULL DEFAULT 0.5 CHECK (control_ok_min BETWEEN 0 AND 1),
    local_error_share      real NOT NULL DEFAULT 0.25 CHECK (local_error_share > 0 AND local_error_share <= 1),
    degraded_failure_share real NOT NULL DEFAULT 0.2 CHECK (degraded_failure_share > 0 AND degraded_failure_share <= 1),
    latency_factor         real NOT NULL DEFAULT 3 CHECK (latency_factor > 1),
    latency_min_ms         real NOT NULL DEFAULT 20 CHECK (latency_min_ms >= 0),
    baseline_bins          integer NOT NULL DEFAULT 30 CHECK (baseline_bins >= 1),
    baseline_min_bins      integer NOT NULL DEFAULT 5 CHECK (baseline_min_bins >= 1),
    baseline_window        interval NOT NULL DEFAULT '1 day',
    blackout_share         real NOT NULL DEFAULT 0.8 CHECK (blackout_share > 0 AND blackout_share <= 1),
    sweep_max              interval NOT NULL DEFAULT '1 day',
    run_max                interval NOT NULL DEFAULT '1 hour' CHECK (run_max > '0')
);
INSERT INTO parallax.merge_settings DEFAULT VALUES;
COMMENT ON TABLE parallax.merge_settings IS 'The merge''s knobs (one row); see the column comments for what each does.';
COMMENT ON COLUMN parallax.merge_settings.min_vantages IS 'Fewer healthy vantages reporting on a target than this: the target is unknown.';
COMMENT ON COLUMN parallax.merge_settings.min_networks IS 'A target is down only if the healthy vantages that all failed span this many countries or this many ASNs.';
COMMENT ON COLUMN parallax.merge_settings.open_after IS 'An outage opens after this many bad bins in a row (unknown/no-data bins neither count nor break the run).';
COMMENT ON COLUMN parallax.merge_settings.close_after IS 'An outage closes after this many good bins in a row; it ends where that run began.';
COMMENT ON COLUMN parallax.merge_settings.grace_bins IS 'A bin is merged grace_bins bin widths plus grace_s seconds after it ends, so on-time results from every vantage are in.';
COMMENT ON COLUMN parallax.merge_settings.grace_s IS 'See grace_bins.';
COMMENT ON COLUMN parallax.merge_settings.vantage_bin_s IS 'Width of vantage-health bins; keep it at least the longest control-probe interval.';
COMMENT ON COLUMN parallax.merge_settings.group_bin_s IS 'Width of group-stage bins; a target counts in a group bin with its worst state among its bins overlapping it.';
COMMENT ON COLUMN parallax.merge_settings.control_ok_min IS 'A vantage whose control results are ok less often than this share is impaired.';
COMMENT ON COLUMN parallax.merge_settings.local_error_share IS 'A vantage with at least this share of local_error results is impaired.';
COMMENT ON COLUMN parallax.merge_settings.degraded_failure_share IS 'A target every healthy vantage reaches is degraded when at least this share of their runs failed.';
COMMENT ON COLUMN parallax.merge_settings.latency_factor IS 'A reachable target is degraded when its median RTT exceeds latency_factor x its baseline (and by latency_min_ms).';
COMMENT ON COLUMN parallax.merge_settings.latency_min_ms IS 'See latency_factor: small absolute rises are never degradation.';
COMMENT ON COLUMN parallax.merge_settings.baseline_bins IS 'The baseline is the mean RTT of the target''s "up" bins: a plain mean over the first baseline_bins, then each new bin weighs 1/baseline_bins.';
COMMENT ON COLUMN parallax.merge_settings.baseline_min_bins IS 'With fewer "up" bins than this folded into the baseline there is no latency verdict.';
COMMENT ON COLUMN parallax.merge_settings.baseline_window IS 'A baseline whose last "up" bin is older than this is forgotten: a latency shift lasting longer becomes the new normal.';
COMMENT ON COLUMN parallax.merge_settings.blackout_share IS 'Blackout: every known router-role target down and at least this share of the group''s known targets down.';
COMMENT ON COLUMN parallax.merge_settings.sweep_max IS 'After a long pause the merge judges offline vantages for at most this much past time.';
COMMENT ON COLUMN parallax.merge_settings.run_max IS 'One merge_run takes the bins that closed within this span after the oldest waiting one; a backlog (after a pause, or merge_mark of a month) is worked off by the next calls, one short transaction each.';

-- The helpers below are single SELECT expressions so that the planner inlines them: the
-- merge calls them for every result of a bin.

-- The start of the width_s-second bin holding ts, bins aligned to the UTC epoch like the
-- agents' schedules.
CREATE FUNCTION parallax.bin_floor(ts timestamptz, width_s integer) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT date_bin(width_s * interval '1 second', ts, timestamptz '1970-01-01 00:00:00+00') $$;

-- An agent's correction, as an interval to subtract from its timestamps.
CREATE FUNCTION parallax.clock_offset(offset_ms integer) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(offset_ms, 0) * interval '1 millisecond' $$;

-- A target's bin is its probe interval; with several probes the longest, so that every probe
-- has a run in every bin.
CREATE FUNCTION parallax.target_bin_s(target_id integer) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT max(p.interval_s) FROM parallax.probes p WHERE p.target_id = target_bin_s.target_id $$;

-- Every probe with its target's bin width (target_bin_s of all targets at once) and whether
-- its target is a control. Join results to this rather than call target_bin_s per result:
-- each call runs a query, and for a day of results that was most of the statement.
CREATE FUNCTION parallax.probe_widths()
RETURNS TABLE (probe_id bigint, target_id integer, control boolean, width integer)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT p.id, p.target_id, t.control, max(p.interval_s) OVER (PARTITION BY p.target_id)
FROM parallax.probes p
JOIN parallax.targets t ON t.id = p.target_id
$$;

-- Runs of a target's probes in one of its bins, from one vantage.
CREATE FUNCTION parallax.target_runs(target_id integer) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT sum(m.widest / p.interval_s)::integer
FROM parallax.probes p
CROSS JOIN (SELECT max(q.interval_s) AS widest FROM parallax.probes q
            WHERE q.target_id = target_runs.target_id) m
WHERE p.target_id = target_runs.target_id
$$;

-- The widest target bin there is: how far back a bin overlapping a given time may start.
CREATE FUNCTION parallax.widest_bin() RETURNS interval
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT coalesce(max(interval_s), 1) * interval '1 second' FROM parallax.probes $$;

-- How long after its end a bin of this width waits for late-but-on-time results.
CREATE FUNCTION parallax.merge_grace(width_s integer, s parallax.merge_settings) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (s.grace_bins * width_s + s.grace_s) * interval '1 second' $$;

-- When a bin may be merged. A target bin also waits for the vantage bins its results fall
-- in, since its verdict counts only vantages healthy at the time.
CREATE FUNCTION parallax.merge_closes_at(scope text, bin_end timestamptz, width_s integer,
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

-- Bins waiting to be merged (vantage: subject_id = agent id; target: target id; group:
-- parallax.merge_groups id). merge_run takes the rows whose closes_at has passed.
-- results/expected/last_run: a target bin every enabled vantage has reported every run of
-- is complete, and closes at its last run rather than after its grace.
CREATE TABLE parallax.merge_dirty (
    scope      text NOT NULL CHECK (scope IN ('vantage', 'target', 'group')),
    subject_id integer NOT NULL,
    bin_start  timestamptz NOT NULL,
    bin_end    timestamptz NOT NULL,
    closes_at  timestamptz NOT NULL,
    results    integer NOT NULL DEFAULT 0,
    expected   integer,
    last_run   timestamptz,
    PRIMARY KEY (scope, subject_id, bin_start)
);
CREATE INDEX merge_dirty_closes_at ON parallax.merge_dirty (closes_at);
COMMENT ON TABLE parallax.merge_dirty IS 'Bins whose inputs changed since they were last merged; filled by triggers, emptied by merge_run.';

-- Marks the target bins and vantage bins that new results fall in, and counts a target
-- bin's results: once every enabled vantage has reported every run, it closes at its last
-- run (in the past by the time the results are in) instead of waiting for its grace.
-- The ON CONFLICT arm locks an existing dirty row: a merge that is taking that row must
-- then wait for this insert to commit, and so sees its results; without the lock a
-- concurrent merge could consume the row and miss them.
CREATE FUNCTION parallax.mark_results_dirty() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    s parallax.merge_settings;
    vb integer;
    vantages integer := (SELECT count(*) FROM parallax.agents WHERE enabled);
BEGIN
    SELECT * INTO s FROM parallax.merge_settings;
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
    INSERT INTO parallax.merge_dirty AS d (scope, subject_id, bin_start, bin_end, closes_at, results,
                                           expected, last_run)
    SELECT 'target', target_id, bin_start, bin_start + width * interval '1 second',
           CASE WHEN results >= expected THEN last_run
                ELSE parallax.merge_closes_at('target', bin_start + width * interval '1 second', width, s) END,
           results, expected, last_run
    FROM target_bins
    UNION ALL
    SELECT 'vantage', agent_id, bin_start, bin_start + vb * interval '1 second',
           parallax.merge_closes_at('vantage', bin_start + vb * interval '1 second', vb, s), 0, NULL, NULL
    FROM vantage_bins
    ON CONFLICT (scope, subject_id, bin_start) DO UPDATE
        SET results = d.results + EXCLUDED.results,
            last_run = greatest(d.last_run, EXCLUDED.last_run),
            closes_at = least(d.closes_at, EXCLUDED.closes_at,
                              CASE WHEN d.results + EXCLUDED.results >= d.expected
                                   THEN greatest(d.last_run, EXCLUDED.last_run) END);
    RETURN NULL;
END $$;

CREATE TRIGGER results_mark_dirty AFTER INSERT ON parallax.results
    REFERENCING NEW TABLE AS new_results
    FOR EACH STATEMENT EXECUTE FUNCTION parallax.mark_results_dirty();

-- A gap turns the agent's bins it overlaps into "no data": its vantage bins, and the target
-- bins its remaining results in that span fall in.
CREATE FUNCTION parallax.mark_gaps_dirty() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    s parallax.merge_settings;
    vb integer;
    widest interval := parallax.widest_bin();
BEGIN
    SELECT * INTO s FROM parallax.merge_settings;
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
    INSERT INTO parallax.merge_dirty AS d (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'target', target_id, bin_start, bin_start + width * interval '1 second',
           parallax.merge_closes_at('target', bin_start + width * interval '1 second', width, s)
    FROM target_bins
    UNION ALL
    SELECT 'vantage', agent_id, bin_start, bin_start + vb * interval '1 second',
           parallax.merge_closes_at('vantage', bin_start + vb * interval '1 second', vb, s)
    FROM vantage_bins
    ON CONFLICT (scope, subject_id, bin_start) DO UPDATE SET closes_at = EXCLUDED.closes_at
        WHERE EXCLUDED.closes_at < d.closes_at;
    RETURN NULL;
END $$;

CREATE TRIGGER gaps_mark_dirty AFTER INSERT ON parallax.gaps
    REFERENCING NEW TABLE AS new_gaps
    FOR EACH STATEMENT EXECUTE FUNCTION parallax.mark_gaps_dirty();

-- Where the time-driven judging of vantages has got to: offline is the absence of anything,
-- so no insert can mark it; merge_run judges every enabled agent for every bin before this.
CREATE TABLE parallax.merge_state (
    id              boolean PRIMARY KEY DEFAULT true CHECK (id),
    vantages_swept_to timestamptz
);
INSERT INTO parallax.merge_state DEFAULT VALUES;

-- A heartbeat for a bin the sweep already judged (a late one) makes that bin dirty again;
-- live heartbeats are for bins the sweep has yet to reach and cost nothing here.
CREATE FUNCTION parallax.mark_heartbeats_dirty() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    s parallax.merge_settings;
    vb integer;
    swept timestamptz := (SELECT vantages_swept_to FROM parallax.merge_state);
BEGIN
    SELECT * INTO s FROM parallax.merge_settings;
    vb := s.vantage_bin_s;
    IF swept IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO parallax.merge_dirty AS d (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT DISTINCT 'vantage', n.agent_id, parallax.bin_floor(n.ts, vb),
           parallax.bin_floor(n.ts, vb) + vb * interval '1 second',
           parallax.merge_closes_at('vantage', parallax.bin_floor(n.ts, vb) + vb * interval '1 second', vb, s)
    FROM new_heartbeats n
    WHERE n.ts < swept
    ON CONFLICT (scope, subject_id, bin_start) DO UPDATE SET closes_at = EXCLUDED.closes_at
        WHERE EXCLUDED.closes_at < d.closes_at;
    RETURN NULL;
END $$;

CREATE TRIGGER heartbeats_mark_dirty AFTER INSERT ON parallax.heartbeats
    REFERENCING NEW TABLE AS new_heartbeats
    FOR EACH STATEMENT EXECUTE FUNCTION parallax.mark_heartbeats_dirty();
