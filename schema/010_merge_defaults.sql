-- 010_merge_defaults: verdicts that hold on the shipped defaults (docs/verdicts.md).
-- * Bin widths follow the schedule: vantage_bin_s and group_bin_s are "auto" (NULL) by default,
--   derived from the probe intervals in use when a bin is merged; grace_s is 2 s.
-- * A target bin merged before the vantage bins its results fall in records the health it
--   assumed for them (bins.provisional) and is judged again when those bins are merged.
-- * A target weighs only its live probes (ones that worked within baseline_window), and its
--   state follows its role's service (web, dns, mail), not just whether the host answers.
-- * A target bin passes its baseline and probe liveness on (bins.last_ok): when a re-judged
--   bin passes on something new, the next bin is judged again.
-- * Agents record when they were disabled, so the offline sweep and merge_mark agree on which
--   vantage bins an agent has; merge_state records where the sweep began.
-- * parallax.merge_verify(from, to) re-merges a span from nothing in a rolled-back
--   subtransaction and reports every bin and outage that differs from what is stored.

-- Settings. An upgraded database keeps the values it had, except the old defaults (60 s
-- widths, a 10 s grace), which become the new ones: they were never chosen for the schedule.
ALTER TABLE parallax.merge_settings
    ALTER COLUMN vantage_bin_s DROP NOT NULL,
    ALTER COLUMN vantage_bin_s SET DEFAULT NULL,
    ALTER COLUMN group_bin_s DROP NOT NULL,
    ALTER COLUMN group_bin_s SET DEFAULT NULL,
    ALTER COLUMN grace_s SET DEFAULT 2;
UPDATE parallax.merge_settings
SET vantage_bin_s = nullif(vantage_bin_s, 60),
    group_bin_s = nullif(group_bin_s, 60),
    grace_s = CASE WHEN grace_s = 10 THEN 2 ELSE grace_s END;
COMMENT ON COLUMN parallax.merge_settings.vantage_bin_s IS
    'Width of vantage-health bins in seconds; auto (empty): the longest interval of any control target''s probe, or 60 without control targets.';
COMMENT ON COLUMN parallax.merge_settings.group_bin_s IS
    'Width of group-stage bins in seconds; auto (empty): the longest interval of any probe of a grouped target, or 60. A target counts in a group bin with its worst state among its bins overlapping it.';
COMMENT ON COLUMN parallax.merge_settings.grace_s IS
    'See grace_bins: a run''s results are due within its timeout (shorter than the interval) plus the agent''s batch interval (1 s).';

ALTER TABLE parallax.agents ADD COLUMN disabled_at timestamptz;
COMMENT ON COLUMN parallax.agents.disabled_at IS
    'When the agent was last disabled (NULL while enabled): it has vantage bins only before this.';

-- Keeps disabled_at with enabled: set when an agent is disabled (unless the statement sets it
-- itself, as a replay of history does), cleared when it is enabled again.
CREATE FUNCTION parallax.agents_track_disabled() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF NEW.enabled THEN
        NEW.disabled_at := NULL;
    ELSIF TG_OP = 'INSERT' OR OLD.enabled THEN
        NEW.disabled_at := coalesce(NEW.disabled_at, now());
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER agents_track_disabled BEFORE INSERT OR UPDATE OF enabled ON parallax.agents
    FOR EACH ROW EXECUTE FUNCTION parallax.agents_track_disabled();
UPDATE parallax.agents SET disabled_at = coalesce(last_seen, now()) WHERE NOT enabled;

ALTER TABLE parallax.merge_state ADD COLUMN vantages_swept_from timestamptz;
COMMENT ON COLUMN parallax.merge_state.vantages_swept_from IS
    'The first vantage bin the offline sweep judged: merge_mark queues none before it.';
UPDATE parallax.merge_state
SET vantages_swept_from = (SELECT min(bin_start) FROM parallax.bins WHERE scope = 'vantage');

ALTER TABLE parallax.bins ADD COLUMN provisional integer[], ADD COLUMN last_ok jsonb;
COMMENT ON COLUMN parallax.bins.provisional IS
    'Targets: the agents whose health this bin assumed because their vantage bin was not merged yet; it is judged again when they are.';
COMMENT ON COLUMN parallax.bins.last_ok IS
    'Targets: probe id -> epoch seconds of the latest bin (within baseline_window) in which a healthy vantage had an ok run of it; says which probes are live.';

-- The widths "auto" stands for, from the schedule as it is now.
CREATE FUNCTION parallax.merge_auto_vantage_bin_s() RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT coalesce(max(p.interval_s), 60)
FROM parallax.probes p JOIN parallax.targets t ON t.id = p.target_id
WHERE t.control
$$;

CREATE FUNCTION parallax.merge_auto_group_bin_s() RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT coalesce(max(p.interval_s), 60)
FROM parallax.probes p JOIN parallax.targets t ON t.id = p.target_id
WHERE NOT t.control AND t.group_name IS NOT NULL
$$;

-- The settings in force: the stored row with "auto" widths resolved. Every merge step reads
-- its settings through this.
CREATE FUNCTION parallax.merge_settings_now() RETURNS parallax.merge_settings
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
DECLARE
    s parallax.merge_settings;
BEGIN
    SELECT * INTO s FROM parallax.merge_settings;
    s.vantage_bin_s := coalesce(s.vantage_bin_s, parallax.merge_auto_vantage_bin_s());
    s.group_bin_s := coalesce(s.group_bin_s, parallax.merge_auto_group_bin_s());
    RETURN s;
END $$;

-- The list gains the value in force and where it came from (set, default, or auto with its
-- reason); an auto width reads "auto" as its value and default.
CREATE OR REPLACE VIEW parallax.merge_setting_list AS
SELECT l.name, l.type, l.value, l.default_value, l.description, l.position,
       to_jsonb(parallax.merge_settings_now()) ->> l.name AS in_force,
       CASE WHEN l.value = 'auto' AND l.name = 'vantage_bin_s'
                THEN 'auto: the longest control-probe interval (60 without control targets)'
            WHEN l.value = 'auto'
                THEN 'auto: the longest probe interval of grouped targets (60 without any)'
            WHEN l.value = l.default_value THEN 'default'
            ELSE 'set' END AS source
FROM (
    SELECT a.attname::text AS name,
           format_type(a.atttypid, a.atttypmod) AS type,
           coalesce(to_jsonb(s) ->> a.attname::text,
                    CASE WHEN a.attname IN ('vantage_bin_s', 'group_bin_s') THEN 'auto' END) AS value,
           CASE WHEN a.attname IN ('vantage_bin_s', 'group_bin_s') AND coalesce(pg_get_expr(d.adbin, d.adrelid), 'NULL') ~ '^NULL' THEN 'auto'
                -- '1 day'::interval reads better as 1 day.
                ELSE regexp_replace(pg_get_expr(d.adbin, d.adrelid), '^''(.*)''::[a-z ]+$', '\1') END AS default_value,
           col_description(a.attrelid, a.attnum) AS description,
           a.attnum::integer AS position
    FROM pg_attribute a
    CROSS JOIN parallax.merge_settings s
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = 'parallax.merge_settings'::regclass
      AND a.attnum > 0 AND NOT a.attisdropped AND a.attname <> 'id') l;
COMMENT ON VIEW parallax.merge_setting_list IS 'The merge''s settings by name: type, value (auto: derived from the schedule), default, what each does, the value in force and where it came from.';

-- Sets one setting from text, converted to its type ("auto" for a width: derived from the
-- schedule); returns the value as stored. Errors name
-- the setting: an unknown name lists the known ones, a value of the wrong type or outside the
-- setting's range says what is allowed. The change applies from the next merge; bins merged
-- before keep their verdicts until parallax.merge_mark() queues them again.
CREATE OR REPLACE FUNCTION parallax.merge_setting_set(p_name text, p_value text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    t text;
    stored text;
    constraint_name text;
    rule text;
BEGIN
    SELECT l.type INTO t FROM parallax.merge_setting_list l WHERE l.name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no merge setting named "%" (the settings: %)', p_name,
            (SELECT string_agg(l.name, ', ' ORDER BY l.position) FROM parallax.merge_setting_list l)
            USING ERRCODE = 'undefined_object';
    END IF;
    BEGIN
        EXECUTE format('UPDATE parallax.merge_settings SET %I = $1::%s', p_name, t)
            USING CASE WHEN p_value = 'auto' AND p_name IN ('vantage_bin_s', 'group_bin_s') THEN NULL
                       ELSE p_value END;
    EXCEPTION
        WHEN data_exception THEN
            RAISE EXCEPTION '% must be of type %: %', p_name, t, SQLERRM
                USING ERRCODE = 'invalid_parameter_value';
        WHEN not_null_violation THEN
            RAISE EXCEPTION '% cannot be empty', p_name USING ERRCODE = 'invalid_parameter_value';
        WHEN check_violation THEN
            GET STACKED DIAGNOSTICS constraint_name = CONSTRAINT_NAME;
            SELECT pg_get_constraintdef(c.oid) INTO rule FROM pg_constraint c
            WHERE c.conrelid = 'parallax.merge_settings'::regclass AND c.conname = constraint_name;
            -- CHECK ((x > (1)::double precision)) reads better as x > 1.
            rule := regexp_replace(coalesce(rule, constraint_name), '^CHECK \(\((.*)\)\)$', '\1');
            rule := regexp_replace(rule, '\(?''?([^()'' ]*)''?\)?::[a-z ]+', '\1', 'g');
            RAISE EXCEPTION '% = % is out of range; it must satisfy %', p_name, p_value, rule
                USING ERRCODE = 'invalid_parameter_value';
    END;
    SELECT l.value INTO stored FROM parallax.merge_setting_list l WHERE l.name = p_name;
    RETURN stored;
END $$;

-- The triggers that queue bins read the settings in force (auto widths resolved).
-- Marks the target bins and vantage bins that new results fall in, and counts a target
-- bin's results: once every enabled vantage has reported every run, it closes at its last
-- run (in the past by the time the results are in) instead of waiting for its grace.
-- The ON CONFLICT arm locks an existing dirty row: a merge that is taking that row must
-- then wait for this insert to commit, and so sees its results; without the lock a
-- concurrent merge could consume the row and miss them.
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

-- The work lists of one merge_run (see 004), plus the steps of judging one window of target
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
BEGIN
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
CREATE FUNCTION parallax.merge_service_kind(role parallax.target_role, kind text) RETURNS boolean
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
CREATE FUNCTION parallax.merge_target_runs(p_start timestamptz, p_end timestamptz,
                                           s parallax.merge_settings) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    lo interval;
    hi interval;
    any_gaps boolean;
    vwidth interval := s.vantage_bin_s * interval '1 second';
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
        SELECT a.id AS agent_id, vb.bin_start, m.state AS merged,
               coalesce(m.state,
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
CREATE FUNCTION parallax.merge_target_judge(p_start timestamptz, p_end timestamptz,
                                            s parallax.merge_settings, p_now timestamptz) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    gwidth interval := s.group_bin_s * interval '1 second';
    since timestamptz := p_start - s.baseline_window;
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
                   'baseline_ms', round(j.baseline_ms::numeric, 3)::float8))
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
CREATE FUNCTION parallax.merge_group_close_early(p_now timestamptz) RETURNS void
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

-- Queues every bin between p_from and p_to for merging again: after a change of settings.
-- Vantage bins only where the agent has them (created, not yet disabled, swept, or where its
-- results fall). Returns the
-- number of bins queued; merge_run does the work.
CREATE OR REPLACE FUNCTION parallax.merge_mark(p_from timestamptz, p_to timestamptz) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    s parallax.merge_settings := parallax.merge_settings_now();
    vwidth interval := s.vantage_bin_s * interval '1 second';
    gwidth interval := s.group_bin_s * interval '1 second';
    swept_from timestamptz := (SELECT vantages_swept_from FROM parallax.merge_state);
    queued integer;
    more integer;
BEGIN
    INSERT INTO parallax.merge_dirty (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'vantage', a.id, b, b + vwidth, parallax.merge_closes_at('vantage', b + vwidth, s.vantage_bin_s, s)
    FROM parallax.agents a
    CROSS JOIN generate_series(parallax.bin_floor(greatest(p_from, coalesce(swept_from, p_from)), s.vantage_bin_s),
                               p_to - interval '1 microsecond', vwidth) b
    WHERE a.created_at < b + vwidth
      AND (a.enabled OR a.disabled_at > b
           OR EXISTS (SELECT 1 FROM parallax.bins x WHERE x.scope = 'vantage' AND x.subject_id = a.id AND x.bin_start = b))
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS queued = ROW_COUNT;
    -- And wherever results fall, as their insert trigger queued them (before the first sweep,
    -- too).
    INSERT INTO parallax.merge_dirty (scope, subject_id, bin_start, bin_end, closes_at)
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
    GET DIAGNOSTICS more = ROW_COUNT;
    queued := queued + more;
    INSERT INTO parallax.merge_dirty (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'target', b.subject_id, b.bin_start, b.bin_end,
           parallax.merge_closes_at('target', b.bin_end,
                                    coalesce(w.width, extract(epoch FROM b.bin_end - b.bin_start)::integer), s)
    FROM parallax.bins b
    -- A target whose probes are gone keeps the width of its bins.
    LEFT JOIN (SELECT DISTINCT target_id, width FROM parallax.probe_widths()) w ON w.target_id = b.subject_id
    WHERE b.scope = 'target' AND b.bin_start >= p_from AND b.bin_start < p_to
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS more = ROW_COUNT;
    queued := queued + more;
    -- Results whose bins moved (a new clock offset) or were never merged.
    INSERT INTO parallax.merge_dirty (scope, subject_id, bin_start, bin_end, closes_at)
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
    GET DIAGNOSTICS more = ROW_COUNT;
    queued := queued + more;
    INSERT INTO parallax.merge_dirty (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'group', g.id, b, b + gwidth, parallax.merge_closes_at('group', b + gwidth, s.group_bin_s, s)
    FROM parallax.merge_groups g
    CROSS JOIN generate_series(parallax.bin_floor(p_from, s.group_bin_s), p_to - interval '1 microsecond', gwidth) b
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS more = ROW_COUNT;
    RETURN queued + more;
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
    queued integer;
    more integer;
BEGIN
    SELECT parallax.clock_offset(clock_offset_ms) INTO o_new FROM parallax.agents WHERE id = p_agent;
    INSERT INTO parallax.merge_dirty (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'vantage', p_agent, b, b + vwidth, parallax.merge_closes_at('vantage', b + vwidth, s.vantage_bin_s, s)
    FROM generate_series(parallax.bin_floor(p_from, s.vantage_bin_s), p_to - interval '1 microsecond', vwidth) b
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS queued = ROW_COUNT;
    INSERT INTO parallax.merge_dirty (scope, subject_id, bin_start, bin_end, closes_at)
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
    GET DIAGNOSTICS more = ROW_COUNT;
    RETURN queued + more;
END $$;

-- Re-merges everything from p_from on from nothing — bins and outage events deleted, every
-- bin queued again, merge_run until done — inside a subtransaction that is then rolled back,
-- and reports what differs from what the incremental merge stored: every bin of [p_from,
-- p_to) whose state or evidence differs (a bin one side lacks counts as unknown, or no_data
-- for a vantage), and every outage that started in the span and differs in its end or stage.
-- p_to is cut to what the stored merge has finished (before any bin still waiting, before
-- the offline sweep's progress, less the widest bin of any scope); the cut is the row of
-- kind 'span'. A stored database with nothing merged gives an error.
-- Holds the merge's lock while it runs: the coordinator's merges wait (return 0) meanwhile.
-- An outage still open at the end of the span, or ending after it, is compared by its start
-- only: later bins decide its end and worst stage.
CREATE FUNCTION parallax.merge_verify(p_from timestamptz, p_to timestamptz DEFAULT NULL)
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
                        WHEN coalesce(o.ended_at, 'infinity') >= upto AND coalesce(n.ended_at, 'infinity') >= upto
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

-- What each vantage saw of each target, bin by bin, for target bins starting in
-- [p_from, p_to): the runs it made (all probes of the target), how many were ok, its most
-- common failure, and its own health in the vantage bin the target bin starts in (a target
-- verdict ignores vantages that were not healthy).
--   seen: ok (every run ok) | failed (none ok) | mixed
-- Results fall in bins by their time corrected by the agent's clock offset, as in the merge,
-- and vantage bins are as wide as the merge's in force (auto resolved).
CREATE OR REPLACE FUNCTION parallax.vantage_target_bins(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (target text, agent text, bin_start timestamptz, bin_end timestamptz,
               runs bigint, ok bigint, failure parallax.status, seen text, health text)
LANGUAGE sql STABLE
AS $$
WITH s AS (
    SELECT m.vantage_bin_s,
           -- Results are stored by agent clock: widen the scan by the extreme offsets.
           least(coalesce(min(parallax.clock_offset(a.clock_offset_ms)), '0'), '0') AS lo,
           greatest(coalesce(max(parallax.clock_offset(a.clock_offset_ms)), '0'), '0') AS hi,
           parallax.widest_bin() AS widest
    FROM parallax.merge_settings_now() m LEFT JOIN parallax.agents a ON true
    GROUP BY m.vantage_bin_s
),
runs AS (
    SELECT t.name AS target, a.id AS agent_id, a.name AS agent, r.status, x.bin_start, w.width
    FROM s
    CROSS JOIN LATERAL (
        SELECT r.* FROM parallax.results r
        WHERE r.ts >= p_from + s.lo AND r.ts < p_to + s.hi + s.widest OFFSET 0) r
    JOIN parallax.agents a ON a.id = r.agent_id
    JOIN parallax.probe_widths() w ON w.probe_id = r.probe_id
    JOIN parallax.targets t ON t.id = w.target_id
    CROSS JOIN LATERAL (
        SELECT parallax.bin_floor(r.ts - parallax.clock_offset(a.clock_offset_ms), w.width) AS bin_start) x
    WHERE x.bin_start >= p_from AND x.bin_start < p_to
)
SELECT runs.target, runs.agent, runs.bin_start, runs.bin_start + runs.width * interval '1 second',
       count(*), count(*) FILTER (WHERE runs.status = 'ok'),
       mode() WITHIN GROUP (ORDER BY runs.status) FILTER (WHERE runs.status <> 'ok'),
       CASE WHEN count(*) FILTER (WHERE runs.status = 'ok') = count(*) THEN 'ok'
            WHEN count(*) FILTER (WHERE runs.status = 'ok') = 0 THEN 'failed'
            ELSE 'mixed' END,
       (SELECT b.state FROM parallax.bins b
        WHERE b.scope = 'vantage' AND b.subject_id = runs.agent_id
          AND b.bin_start = parallax.bin_floor(runs.bin_start, s.vantage_bin_s))
FROM runs CROSS JOIN s
GROUP BY runs.target, runs.agent_id, runs.agent, runs.bin_start, runs.width, s.vantage_bin_s
$$;
COMMENT ON FUNCTION parallax.vantage_target_bins(timestamptz, timestamptz) IS
    'Per target, vantage and target bin: runs, ok runs, main failure, ok/failed/mixed, the vantage''s health then.';
