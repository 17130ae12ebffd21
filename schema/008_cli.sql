-- 008_cli: read-only helpers for operators, used by `parallaxctl status`, `agent list` and
-- `timeline` and just as usable from psql:
--   SELECT * FROM parallax.agent_status();                       -- who is online, drops, clocks
--   SELECT * FROM parallax.vantage_target_bins(now() - interval '1 hour', now());
-- Nothing here writes; dropping these functions loses no data.

-- One row per agent: whether it is online (anything heard from it within p_window before
-- p_now: a message or a heartbeat), its latest vantage health, how many results its spool
-- dropped in all (parallax.gaps) and its measured clock offset.
--   state: disabled | offline (nothing within p_window) | impaired (its latest vantage bin
--          says so) | online
-- p_window defaults to the coordinator's default session timeout (60 s).
CREATE FUNCTION parallax.agent_status(p_window interval DEFAULT interval '60 seconds',
                                      p_now timestamptz DEFAULT now())
RETURNS TABLE (agent text, country text, asn bigint, enabled boolean, state text,
               last_seen timestamptz, health text, health_at timestamptz, dropped bigint,
               clock_offset_ms integer, agent_version text, public_key text)
LANGUAGE sql STABLE
AS $$
SELECT a.name, a.country, a.asn, a.enabled,
       CASE WHEN NOT a.enabled THEN 'disabled'
            WHEN seen.at IS NULL OR seen.at < p_now - p_window THEN 'offline'
            WHEN vb.state = 'impaired' THEN 'impaired'
            ELSE 'online' END,
       seen.at, vb.state, vb.bin_start, coalesce(g.dropped, 0)::bigint, a.clock_offset_ms,
       a.agent_version, a.public_key
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
    SELECT sum(x.dropped_count) AS dropped FROM parallax.gaps x WHERE x.agent_id = a.id) g ON true
$$;
COMMENT ON FUNCTION parallax.agent_status(interval, timestamptz) IS
    'Agents: online/offline/impaired/disabled, last heard of, latest vantage health, spool drops, clock offset.';

-- What each vantage saw of each target, bin by bin, for target bins starting in
-- [p_from, p_to): the runs it made (all probes of the target), how many were ok, its most
-- common failure, and its own health in the vantage bin the target bin starts in (a target
-- verdict ignores vantages that were not healthy).
--   seen: ok (every run ok) | failed (none ok) | mixed
-- Results fall in bins by their time corrected by the agent's clock offset, as in the merge.
CREATE FUNCTION parallax.vantage_target_bins(p_from timestamptz, p_to timestamptz)
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
    FROM parallax.merge_settings m LEFT JOIN parallax.agents a ON true
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
