-- notify_merge_bench.sql: loaded after merge_bench.sql. Bins in which every watched target
-- times out from every vantage (controls still answer): 1,000 target outages (and the ten
-- groups' blackouts) open, are extended bin by bin, then close.
CREATE FUNCTION bench.load_down(k integer) RETURNS void
LANGUAGE plpgsql SET jit = off AS $$
BEGIN
    PERFORM parallax.ensure_partition((bench.t0() + (k + 1) * interval '1 minute')::date);
    INSERT INTO parallax.results (ts, agent_id, probe_id, status, rtt_ms, control)
    SELECT bench.t0() + k * interval '1 minute' + (p.id % 50) * interval '1 second', a.id, p.id,
           CASE WHEN t.control THEN 'ok' ELSE 'timeout' END::parallax.status,
           CASE WHEN t.control THEN 20 + a.id END, t.control
    FROM parallax.agents a CROSS JOIN parallax.probes p JOIN parallax.targets t ON t.id = p.target_id;
    INSERT INTO parallax.heartbeats (agent_id, ts)
    SELECT a.id, bench.t0() + k * interval '1 minute' + interval '30 seconds' FROM parallax.agents a;
END $$;

-- One ordinary bin, as bench.load_down is one bin of outage.
CREATE FUNCTION bench.load_one(k integer) RETURNS void LANGUAGE sql
BEGIN ATOMIC
    SELECT bench.load(k, k);
END;
