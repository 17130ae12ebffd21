-- 70_status: what the coordinator records of each agent's session and what `parallaxctl`
-- reads of it: schedule versions, clocks, agent_status, vantage_target_bins.
-- Installed by every `parallaxctl db migrate` after the migrations (CREATE OR REPLACE), in
-- file order, in one transaction with check_function_bodies off. A change CREATE OR REPLACE
-- cannot make (a view's columns, a function's result type) needs a DROP in a new migration.

-- The version of the schedule as schedule_view shows it now, making a new one if it changed.
-- Called by the coordinator in the same REPEATABLE READ transaction as its read of
-- schedule_view, so the version names exactly the probes it sends.
CREATE OR REPLACE FUNCTION parallax.schedule_version_current() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    fp text;
    n integer;
    latest parallax.schedule_versions;
BEGIN
    SELECT md5(coalesce(string_agg(v::text, E'\n' ORDER BY v.probe_id), '')), count(*)
    INTO fp, n FROM parallax.schedule_view v;
    -- "PXSCHED": two coordinators (a mistake, but possible) must not both add a version.
    PERFORM pg_advisory_xact_lock(88340183752005);
    SELECT * INTO latest FROM parallax.schedule_versions ORDER BY version DESC LIMIT 1;
    IF FOUND AND latest.fingerprint = fp THEN
        RETURN latest.version;
    END IF;
    INSERT INTO parallax.schedule_versions (fingerprint, probes) VALUES (fp, n)
    RETURNING version INTO latest.version;
    RETURN latest.version;
END $$;

-- Records a new clock estimate of an agent (the coordinator calls it only when the estimate
-- moved, and at most every few seconds). The merge places every result of an agent with its
-- current offset, so bins merged with the old one are queued again when the offset moved by
-- p_remerge_ms or more: from when the previous offset was set (at most
-- merge_settings.sweep_max back, widened by the shift, but by sweep_max at most) to now. The
-- bound keeps a clock swinging by weeks (broken, or lying) from queueing weeks of bins at
-- every move. Returns the number of bins queued, or NULL for an unknown agent.
CREATE OR REPLACE FUNCTION parallax.agent_clock_set(p_agent integer, p_offset_ms integer, p_rtt_ms real,
                                         p_remerge_ms integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    a parallax.agents;
    shift integer;
    since timestamptz;
    reach interval;
BEGIN
    SELECT * INTO a FROM parallax.agents WHERE id = p_agent FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE parallax.agents
    SET clock_offset_ms = p_offset_ms, rtt_ms = p_rtt_ms, clock_offset_at = now()
    WHERE id = p_agent;
    shift := abs(p_offset_ms - coalesce(a.clock_offset_ms, 0));
    IF shift < p_remerge_ms THEN
        RETURN 0;
    END IF;
    reach := (SELECT sweep_max FROM parallax.merge_settings);
    since := greatest(coalesce(a.clock_offset_at, a.created_at), now() - reach);
    RETURN parallax.merge_mark_agent(p_agent, since - least(shift * interval '1 millisecond', reach),
                                     now(), a.clock_offset_ms);
END $$;

-- What the coordinator knows of each agent, for operators:
--   SELECT name, online, schedule_version_acked, schedule_current FROM parallax.agent_status_view;
CREATE OR REPLACE VIEW parallax.agent_status_view AS
SELECT a.name,
       a.enabled,
       a.online,
       a.last_seen,
       a.agent_version,
       a.clock_offset_ms,
       a.rtt_ms,
       a.clock_offset_at,
       a.schedule_version_acked,
       a.schedule_acked_at,
       cur.version AS schedule_version_current,
       a.schedule_version_acked IS NOT DISTINCT FROM cur.version AS schedule_current,
       a.refused,
       a.refused_at
FROM parallax.agents a
CROSS JOIN (SELECT max(version) AS version FROM parallax.schedule_versions) cur;

-- One row per agent. state is disabled, refused (the coordinator refused its latest messages:
-- it speaks another protocol version, refused says which; docs/upgrading.md), offline (not
-- heard from within p_window), impaired (its latest vantage bin says so) or online.
CREATE OR REPLACE FUNCTION parallax.agent_status(p_window interval DEFAULT interval '60 seconds',
                                      p_now timestamptz DEFAULT now())
RETURNS TABLE (agent text, country text, asn bigint, enabled boolean, state text,
               last_seen timestamptz, health text, health_at timestamptz, dropped bigint,
               skipped bigint, clock_offset_ms integer, agent_version text, public_key text,
               refused text, refused_at timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog
AS $$
SELECT a.name, a.country, a.asn, a.enabled,
       CASE WHEN NOT a.enabled THEN 'disabled'
            WHEN a.refused IS NOT NULL THEN 'refused'
            WHEN seen.at IS NULL OR seen.at < p_now - p_window THEN 'offline'
            WHEN vb.state = 'impaired' THEN 'impaired'
            ELSE 'online' END,
       seen.at, vb.state, vb.bin_start, coalesce(g.dropped, 0)::bigint,
       coalesce(g.skipped, 0)::bigint, a.clock_offset_ms, a.agent_version, a.public_key,
       a.refused, a.refused_at
FROM parallax.agents a
-- Both lookups are index scans from the newest end: (agent_id, ts) and (scope, subject_id,
-- bin_start) primary keys.
CROSS JOIN LATERAL (
    SELECT greatest(a.last_seen, (SELECT max(h.ts) FROM parallax.heartbeats h
                                  WHERE h.agent_id = a.id)) AS at) seen
LEFT JOIN LATERAL (
    SELECT b.state, b.bin_start FROM parallax.bins b
    WHERE b.scope = 'vantage' AND b.subject_id = a.id
    ORDER BY b.bin_start DESC LIMIT 1) vb ON true
LEFT JOIN LATERAL (
    SELECT sum(x.dropped_count) FILTER (WHERE x.reason = 'spool_dropped') AS dropped,
           sum(x.dropped_count) FILTER (WHERE x.reason = 'run_skipped') AS skipped
    FROM parallax.gaps x WHERE x.agent_id = a.id) g ON true
$$;

COMMENT ON FUNCTION parallax.agent_status(interval, timestamptz) IS
    'Agents: online/offline/impaired/refused/disabled, last heard of, latest vantage health, spool drops, runs skipped, clock offset, why its messages are refused.';

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
