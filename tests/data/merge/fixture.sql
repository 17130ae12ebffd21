-- fixture.sql: a small world and a truth-driven result generator for the merge tests.
-- A test states the truth as rules ("from bin 5 to 9, agent C gets timeouts from every
-- target"), emits results as plain INSERTs into parallax.results the way agents would
-- produce them (scheduled by their own, possibly wrong, clocks), merges, and reads verdicts
-- back as one character per bin. Bins are numbered from fx.t0, one per minute.

CREATE SCHEMA fx;

CREATE FUNCTION fx.t0() RETURNS timestamptz LANGUAGE sql IMMUTABLE
RETURN timestamptz '2031-03-03 00:00:00+00';

-- Start of bin k.
CREATE FUNCTION fx.bin(k integer) RETURNS timestamptz LANGUAGE sql IMMUTABLE
RETURN fx.t0() + k * interval '1 minute';

-- Bin number of a time.
CREATE FUNCTION fx.k(ts timestamptz) RETURNS integer LANGUAGE sql IMMUTABLE
RETURN floor(extract(epoch FROM ts - fx.t0()) / 60)::integer;

-- The truth, later rules winning. Patterns are anchored regular expressions over agent and
-- target names (or 'target/spec' for one probe of a target: 'ir-web3/tcp:443');
-- target '@heartbeat' is the agent's heartbeat, so a rule for every target
-- ('.*') with status 'none' makes an agent silent. status 'none' means no result at all.
CREATE TABLE fx.rules (
    id     serial PRIMARY KEY,
    k_from integer NOT NULL,
    k_to   integer NOT NULL,
    agent  text NOT NULL,
    target text NOT NULL,
    status text NOT NULL,
    rtt_ms double precision
);

-- Phase of each target's runs within a bin (ms after the bin start, by the agent's clock).
CREATE TABLE fx.phases (target text PRIMARY KEY, phase_ms integer NOT NULL);

CREATE FUNCTION fx.rule(k_from integer, k_to integer, agent text DEFAULT '.*', target text DEFAULT '.*',
                        status text DEFAULT 'ok', rtt_ms double precision DEFAULT 50)
RETURNS void LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO fx.rules (k_from, k_to, agent, target, status, rtt_ms)
    VALUES (k_from, k_to, agent, target, status, rtt_ms);
END;

CREATE FUNCTION fx.agent(name text, country text, asn bigint, clock_offset_ms integer DEFAULT NULL)
RETURNS void LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO parallax.agents (name, country, asn, public_key, clock_offset_ms)
    VALUES (name, country, asn, substr(md5(name) || md5(name), 1, 40), clock_offset_ms);
END;

-- A target with one icmp probe per kind listed ('icmp', 'tcp:443', ...), every 60 s.
CREATE FUNCTION fx.target(name text, address inet, group_name text, role parallax.target_role,
                          control boolean DEFAULT false, probes text[] DEFAULT '{icmp}',
                          phase_ms integer DEFAULT 1000)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    id integer;
BEGIN
    INSERT INTO parallax.targets (name, address, group_name, role, control)
    VALUES (name, address, group_name, role, control) RETURNING targets.id INTO id;
    INSERT INTO parallax.probes (target_id, kind, spec, interval_s)
    SELECT id, split_part(spec, ':', 1), spec, 60 FROM unnest(probes) spec;
    INSERT INTO fx.phases VALUES (name, phase_ms);
END $$;

-- The standard world: four vantages in four countries and ASNs, two control targets and a
-- country "IR" with two web servers, a mail server, two DNS servers and two border routers.
CREATE FUNCTION fx.world() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM parallax.ensure_partition(fx.t0()::date + d) FROM generate_series(-1, 2) d;
    PERFORM fx.agent('A', 'DE', 3320);
    PERFORM fx.agent('B', 'NL', 1136);
    PERFORM fx.agent('C', 'JP', 2516);
    PERFORM fx.agent('D', 'US', 7018);
    PERFORM fx.target('ctl-1', '198.51.100.1', NULL, 'host', true);
    PERFORM fx.target('ctl-2', '198.51.100.2', NULL, 'host', true);
    PERFORM fx.target('ir-web1', '203.0.113.10', 'IR', 'web');
    PERFORM fx.target('ir-web2', '203.0.113.11', 'IR', 'web');
    PERFORM fx.target('ir-mail', '203.0.113.25', 'IR', 'mail');
    PERFORM fx.target('ir-dns1', '203.0.113.53', 'IR', 'dns');
    PERFORM fx.target('ir-dns2', '203.0.113.54', 'IR', 'dns');
    PERFORM fx.target('ir-rtr1', '203.0.113.1', 'IR', 'router');
    PERFORM fx.target('ir-rtr2', '203.0.113.2', 'IR', 'router');
END $$;

-- Inserts, in one statement like one ingest batch, every result the agents matching
-- agent_re would have produced for true bins k_from..k_to, and (unless told not to, as for
-- a spool delivered late) their heartbeats.
-- An agent runs a probe at k*60 s + phase by its own clock; that is ts. The truth that
-- decides the status is the rule for the true time, ts - its clock offset.
CREATE FUNCTION fx.emit(k_from integer, k_to integer, agent_re text DEFAULT '.*',
                        heartbeats boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql SET jit = off AS $$
BEGIN
    INSERT INTO parallax.results (ts, agent_id, probe_id, status, rtt_ms, control)
    SELECT run.ts, a.id, p.id, truth.status::parallax.status,
           CASE WHEN truth.status = 'ok' THEN truth.rtt_ms END, t.control
    FROM parallax.agents a
    CROSS JOIN parallax.probes p
    JOIN parallax.targets t ON t.id = p.target_id
    JOIN fx.phases ph ON ph.target = t.name
    CROSS JOIN generate_series(k_from - 1, k_to + 1) j
    CROSS JOIN LATERAL (SELECT fx.bin(j) + ph.phase_ms * interval '1 ms' AS ts) run
    CROSS JOIN LATERAL (SELECT fx.k(run.ts - coalesce(a.clock_offset_ms, 0) * interval '1 ms') AS k) true_bin
    CROSS JOIN LATERAL (
        SELECT r.status, r.rtt_ms FROM fx.rules r
        WHERE true_bin.k BETWEEN r.k_from AND r.k_to
          AND a.name ~ ('^(' || r.agent || ')$')
          AND (t.name ~ ('^(' || r.target || ')$') OR t.name || '/' || p.spec ~ ('^(' || r.target || ')$'))
        ORDER BY r.id DESC LIMIT 1) truth
    WHERE a.name ~ ('^(' || agent_re || ')$') AND true_bin.k BETWEEN k_from AND k_to
      AND truth.status <> 'none';

    INSERT INTO parallax.heartbeats (agent_id, ts)
    SELECT a.id, fx.bin(k) + interval '30 seconds'
    FROM parallax.agents a
    CROSS JOIN generate_series(k_from, k_to) k
    CROSS JOIN LATERAL (
        SELECT r.status FROM fx.rules r
        WHERE k BETWEEN r.k_from AND r.k_to
          AND a.name ~ ('^(' || r.agent || ')$') AND '@heartbeat' ~ ('^(' || r.target || ')$')
        ORDER BY r.id DESC LIMIT 1) truth
    WHERE heartbeats AND a.name ~ ('^(' || agent_re || ')$') AND truth.status <> 'none';
END $$;

-- Merges as the coordinator would once bin k has closed (and no later bin has).
CREATE FUNCTION fx.merge(k integer) RETURNS integer LANGUAGE sql
RETURN parallax.merge_run(fx.bin(k + 1) + parallax.merge_grace(60, (SELECT s FROM parallax.merge_settings s)) + interval '1 second');

-- Emits and merges bins k_from..k_to one at a time, as they would happen.
CREATE FUNCTION fx.play(k_from integer, k_to integer) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR k IN k_from .. k_to LOOP
        PERFORM fx.emit(k, k);
        PERFORM fx.merge(k);
    END LOOP;
END $$;

-- One character per bin k_from..k_to ('.' for no bin):
--   vantage  h healthy, i impaired, o offline, - no data, m maintenance
--   target   u up, g degraded, p partial, D down, ? unknown
--   group    n normal, g degraded, s servers_offline, d dns_down, B blackout, ? unknown
CREATE FUNCTION fx.timeline(scope text, subject text, k_from integer, k_to integer) RETURNS text
LANGUAGE sql STABLE
RETURN (
    SELECT string_agg(coalesce(CASE v.state
               WHEN 'healthy' THEN 'h' WHEN 'impaired' THEN 'i' WHEN 'offline' THEN 'o' WHEN 'no_data' THEN '-'
               WHEN 'maintenance' THEN 'm'
               WHEN 'up' THEN 'u' WHEN 'degraded' THEN 'g' WHEN 'partial' THEN 'p' WHEN 'down' THEN 'D'
               WHEN 'unknown' THEN '?' WHEN 'normal' THEN 'n' WHEN 'servers_offline' THEN 's'
               WHEN 'dns_down' THEN 'd' WHEN 'blackout' THEN 'B' END, '.'), '' ORDER BY k)
    FROM generate_series(k_from, k_to) k
    LEFT JOIN LATERAL (
        SELECT health::text AS state FROM parallax.vantage_bins
        WHERE scope = 'vantage' AND agent = subject AND bin_start = fx.bin(k)
        UNION ALL
        SELECT state::text FROM parallax.target_bins
        WHERE scope = 'target' AND target = subject AND bin_start = fx.bin(k)
        UNION ALL
        SELECT stage::text FROM parallax.group_bins
        WHERE scope = 'group' AND group_name = subject AND bin_start = fx.bin(k)
    ) v ON true);

-- Every outage as "scope subject k_start k_end stage", k_end '-' while open, sorted.
CREATE FUNCTION fx.events() RETURNS text LANGUAGE sql STABLE
RETURN (
    SELECT coalesce(string_agg(format('%s %s %s %s %s', scope, subject, fx.k(started_at),
                                      coalesce(fx.k(ended_at)::text, '-'), stage),
                               E'\n' ORDER BY scope, subject, started_at), '')
    FROM parallax.outages);
