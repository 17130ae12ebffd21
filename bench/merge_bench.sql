-- merge_bench.sql: the world of bench/merge_bench.sh: 10 vantages in 10 countries, 1,000
-- targets in 10 groups (web, mail, DNS servers and routers) plus 2 control targets, one
-- 60-second probe each; so one bin holds 10 x 1,002 results.
SET client_min_messages = warning;
CREATE SCHEMA bench;

CREATE FUNCTION bench.t0() RETURNS timestamptz LANGUAGE sql IMMUTABLE
RETURN timestamptz '2031-06-01 00:00:00+00';

INSERT INTO parallax.agents (name, country, asn, public_key)
SELECT 'v' || i, (ARRAY['DE','NL','JP','US','FR','GB','SE','SG','BR','CA'])[i], 64500 + i,
       substr(md5(i::text) || md5(i::text), 1, 40)
FROM generate_series(1, 10) i;

INSERT INTO parallax.targets (name, address, group_name, role, control)
SELECT 't' || i, ('198.18.0.0'::inet + i),
       'g' || (i % 10),
       (ARRAY['web','web','web','mail','dns','dns','router','router','web','host'])[1 + (i / 10) % 10]::parallax.target_role,
       false
FROM generate_series(1, 1000) i;
INSERT INTO parallax.targets (name, address, role, control)
VALUES ('ctl1', '192.0.2.1', 'host', true), ('ctl2', '192.0.2.2', 'host', true);
INSERT INTO parallax.probes (target_id, kind, spec, interval_s)
SELECT id, 'icmp', 'icmp', 60 FROM parallax.targets;

-- Results of bins k_from..k_to in one statement, as an ingest batch would store them:
-- mostly ok with a steady RTT per target, a few timeouts.
CREATE FUNCTION bench.load(k_from integer, k_to integer) RETURNS void
LANGUAGE plpgsql SET jit = off AS $$
BEGIN
    PERFORM parallax.ensure_partition(d::date)
    FROM generate_series(bench.t0() + k_from * interval '1 minute',
                         bench.t0() + (k_to + 1) * interval '1 minute', interval '1 day') d;
    PERFORM parallax.ensure_partition((bench.t0() + (k_to + 1) * interval '1 minute')::date);
    INSERT INTO parallax.results (ts, agent_id, probe_id, status, rtt_ms, control)
    SELECT bench.t0() + k * interval '1 minute' + (p.id % 50) * interval '1 second',
           a.id, p.id,
           CASE WHEN (k * 7 + a.id * 13 + p.id) % 997 = 0 THEN 'timeout' ELSE 'ok' END::parallax.status,
           20 + p.id % 200 + a.id, t.control
    FROM generate_series(k_from, k_to) k
    CROSS JOIN parallax.agents a
    CROSS JOIN parallax.probes p
    JOIN parallax.targets t ON t.id = p.target_id;
    INSERT INTO parallax.heartbeats (agent_id, ts)
    SELECT a.id, bench.t0() + k * interval '1 minute' + interval '30 seconds'
    FROM generate_series(k_from, k_to) k CROSS JOIN parallax.agents a;
END $$;

-- Old history, loaded without marking anything dirty (the bench measures merging, not
-- replaying a day of it), and the verdicts it would have had: every bin "up".
CREATE FUNCTION bench.load_history(k_from integer, k_to integer) RETURNS void
LANGUAGE plpgsql SET jit = off AS $$
BEGIN
    ALTER TABLE parallax.results DISABLE TRIGGER results_mark_dirty;
    PERFORM bench.load(k_from, k_to);
    ALTER TABLE parallax.results ENABLE TRIGGER results_mark_dirty;
    INSERT INTO parallax.merge_groups (name)
    SELECT DISTINCT group_name FROM parallax.targets WHERE group_name IS NOT NULL
    ON CONFLICT DO NOTHING;
    INSERT INTO parallax.bins (scope, subject_id, bin_start, bin_end, state, rank, bad, rtt_ms, evidence,
                               h_open, h_streak)
    SELECT x.scope, x.id, b, b + interval '1 minute', x.state, 1, false, x.rtt, '{}', false, 0
    FROM generate_series(bench.t0() + k_from * interval '1 minute', bench.t0() + k_to * interval '1 minute',
                         interval '1 minute') b
    CROSS JOIN (SELECT 'vantage' AS scope, id, 'healthy' AS state, NULL::float8 AS rtt FROM parallax.agents
                UNION ALL
                SELECT 'target', id, 'up', 25 + id % 200 FROM parallax.targets WHERE NOT control
                UNION ALL
                SELECT 'group', id, 'normal', NULL FROM parallax.merge_groups) x;
END $$;

-- merge_run as the coordinator calls it once bin k has closed.
CREATE FUNCTION bench.merge(k integer) RETURNS integer LANGUAGE sql
RETURN parallax.merge_run(bench.t0() + (k + 1) * interval '1 minute' + parallax.merge_grace(60, (SELECT s FROM parallax.merge_settings s)) + interval '1 second');

-- Milliseconds merge_run takes for bin k. Since migration 003 the insert's trigger only
-- appends to merge_inbox and merge_run folds it into merge_dirty first, work the trigger did
-- inside the insert before (untimed here then): it is done untimed before the clock starts,
-- so the figure is the merge's alone either way, comparable across versions.
CREATE FUNCTION bench.timed_merge(k integer) RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE
    t timestamptz;
    n integer;
BEGIN
    IF to_regprocedure('parallax.merge_collect()') IS NOT NULL THEN
        PERFORM parallax.merge_collect();
    END IF;
    t := clock_timestamp();
    n := bench.merge(k);
    IF n < 1000 THEN
        RAISE EXCEPTION 'bin % merged only % bins', k, n;
    END IF;
    RETURN round(extract(epoch FROM clock_timestamp() - t)::numeric * 1000, 1);
END $$;
