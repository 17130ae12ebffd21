-- 75_metrics: what the coordinator's /metrics endpoint reads from the database (docs/metrics.md).
-- The merge's thread calls parallax.metrics_snapshot() every few seconds on its own connection
-- and hands the rows to the endpoint, which never waits for the database. One row per series:
-- metric is the Prometheus name, label1 and label2 its label values in the order docs/metrics.md
-- gives (NULL where the metric has fewer labels).

CREATE OR REPLACE FUNCTION parallax.metrics_snapshot()
RETURNS TABLE (metric text, label1 text, label2 text, value double precision)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    -- Every stage an outage of each scope can reach is listed, 0 when none is open, so a
    -- dashboard or an alert reads 0 after an outage rather than a vanished series; a stage
    -- outside the list (a future one) still shows when open.
    RETURN QUERY
    WITH known (scope, stage) AS (
        VALUES ('vantage', 'impaired'), ('vantage', 'offline'),
               ('target', 'degraded'), ('target', 'partial'), ('target', 'down'),
               ('group', 'degraded'), ('group', 'servers_offline'), ('group', 'dns_down'),
               ('group', 'blackout')),
    open AS (
        SELECT o.scope, o.stage, count(*) AS n FROM parallax.outage_events o
        WHERE o.ended_at IS NULL GROUP BY o.scope, o.stage)
    SELECT 'parallax_outages_open', coalesce(k.scope, o.scope), coalesce(k.stage, o.stage),
           coalesce(o.n, 0)::double precision
    FROM known k FULL JOIN open o ON o.scope = k.scope AND o.stage = k.stage;

    -- Agents by state, as the coordinator keeps them (online is its session), impaired by
    -- their latest vantage bin (an index scan from the newest end of bins' primary key).
    RETURN QUERY
    WITH states (state) AS (VALUES ('online'), ('impaired'), ('offline'), ('refused'), ('disabled')),
    agent AS (
        SELECT CASE WHEN NOT a.enabled THEN 'disabled'
                    WHEN a.refused IS NOT NULL THEN 'refused'
                    WHEN NOT a.online THEN 'offline'
                    WHEN (SELECT b.state FROM parallax.bins b
                          WHERE b.scope = 'vantage' AND b.subject_id = a.id
                          ORDER BY b.bin_start DESC LIMIT 1) = 'impaired' THEN 'impaired'
                    ELSE 'online' END AS state
        FROM parallax.agents a)
    SELECT 'parallax_agents', s.state, NULL::text,
           (SELECT count(*) FROM agent x WHERE x.state = s.state)::double precision
    FROM states s;

    RETURN QUERY
    SELECT 'parallax_agent_clock_offset_seconds', a.name, NULL::text,
           a.clock_offset_ms / 1000.0::double precision
    FROM parallax.agents a WHERE a.enabled AND a.clock_offset_ms IS NOT NULL;

    RETURN QUERY
    SELECT 'parallax_merge_backlog_bins', NULL::text, NULL::text, count(*)::double precision
    FROM parallax.merge_queue q
    UNION ALL
    SELECT 'parallax_merge_backlog_due_bins', NULL, NULL,
           count(*) FILTER (WHERE q.closes_at <= now())::double precision
    FROM parallax.merge_queue q;

    -- Notifications (issue 17's outbox): read only where its tables exist, and by name at run
    -- time, so this function installs and runs on a schema without them, and a change of
    -- their columns costs these metrics, never the others.
    IF to_regclass('parallax.notify_deliveries') IS NOT NULL
       AND to_regclass('parallax.notify_receivers') IS NOT NULL THEN
        BEGIN
            RETURN QUERY EXECUTE $q$
                SELECT m.metric, r.name, NULL::text, m.n::double precision
                FROM parallax.notify_receivers r
                CROSS JOIN LATERAL (
                    SELECT count(*) FILTER (WHERE d.state = 'sent') AS sent,
                           count(*) FILTER (WHERE d.state = 'dead') AS dead,
                           count(*) FILTER (WHERE d.state = 'pending') AS pending
                    FROM parallax.notify_deliveries d WHERE d.receiver_id = r.id) c
                CROSS JOIN LATERAL (
                    VALUES ('parallax_notifications_sent_total', c.sent),
                           ('parallax_notifications_failed_total', c.dead),
                           ('parallax_notifications_pending', c.pending)) m (metric, n)$q$;
        EXCEPTION WHEN undefined_table OR undefined_column OR undefined_function
                       OR insufficient_privilege THEN
            RAISE DEBUG 'metrics_snapshot: notifications left out: %', SQLERRM;
        END;
    END IF;
END $$;

COMMENT ON FUNCTION parallax.metrics_snapshot() IS
    'The database-derived series of the coordinator''s /metrics (docs/metrics.md): outages open by scope and stage, agents by state, clock offsets, merge backlog, notifications by receiver.';
