-- 012_gap_reason: a gap says why its runs have no results. Until now every gap was a spool
-- drop (results measured, then lost); agents now also report runs they could not start on
-- time (the run before was still going, or they woke too late for the slot) as gaps, so the
-- merge reads those as "no data" too instead of finding nothing at all. For the merge both are
-- the same; for an operator they are not: a spool drop says the coordinator was away too long,
-- a skipped run says the schedule asks more of the agent than it can do. So the reason is kept,
-- and agent_status() counts the two apart.

-- The labels mirror the wire enum GapReason (proto/parallax.proto; wire_gap_reason_name()).
CREATE TYPE parallax.gap_reason AS ENUM ('spool_dropped', 'run_skipped');

-- Every gap stored before this was a spool drop, and so is one from an agent that predates
-- the reason.
ALTER TABLE parallax.gaps ADD COLUMN reason parallax.gap_reason NOT NULL DEFAULT 'spool_dropped';
COMMENT ON COLUMN parallax.gaps.reason IS
    'spool_dropped: results measured and lost (spool full or unreadable); run_skipped: runs never started on time (the one before still going, or the agent late for the slot).';
COMMENT ON COLUMN parallax.gaps.dropped_count IS
    'Runs whose results are missing: dropped results (spool_dropped) or runs not started (run_skipped).';

-- agent_status() as in 008_cli, with dropped counting spool drops only and skipped counting
-- runs not started. A new output column needs DROP and CREATE (CREATE OR REPLACE cannot
-- change a function's result type).
DROP FUNCTION parallax.agent_status(interval, timestamptz);
CREATE FUNCTION parallax.agent_status(p_window interval DEFAULT interval '60 seconds',
                                      p_now timestamptz DEFAULT now())
RETURNS TABLE (agent text, country text, asn bigint, enabled boolean, state text,
               last_seen timestamptz, health text, health_at timestamptz, dropped bigint,
               skipped bigint, clock_offset_ms integer, agent_version text, public_key text)
LANGUAGE sql STABLE SET search_path = pg_catalog
AS $$
SELECT a.name, a.country, a.asn, a.enabled,
       CASE WHEN NOT a.enabled THEN 'disabled'
            WHEN seen.at IS NULL OR seen.at < p_now - p_window THEN 'offline'
            WHEN vb.state = 'impaired' THEN 'impaired'
            ELSE 'online' END,
       seen.at, vb.state, vb.bin_start, coalesce(g.dropped, 0)::bigint,
       coalesce(g.skipped, 0)::bigint, a.clock_offset_ms, a.agent_version, a.public_key
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
    'Agents: online/offline/impaired/disabled, last heard of, latest vantage health, spool drops, runs skipped, clock offset.';
