-- Counting what the coordinator refused (table parallax.rejections, migration 005).

-- Adds counts, one element per (agent, kind) or several: they are summed. The reason kept is
-- the latest one given.
CREATE OR REPLACE FUNCTION parallax.rejections_add(p_agents integer[], p_kinds text[],
                                                   p_counts bigint[], p_reasons text[])
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO parallax.rejections AS r (agent_id, kind, count, reason)
    SELECT agent_id, kind, sum(n), (array_agg(reason ORDER BY i DESC))[1]
    FROM unnest(p_agents, p_kinds, p_counts, p_reasons) WITH ORDINALITY AS x (agent_id, kind, n, reason, i)
    WHERE EXISTS (SELECT 1 FROM parallax.agents a WHERE a.id = x.agent_id)
    GROUP BY agent_id, kind
    ON CONFLICT (agent_id, kind) DO UPDATE
    SET count = r.count + excluded.count, last_at = now(), reason = excluded.reason;
$$;
