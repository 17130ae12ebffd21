-- 46_probe_requests: traces when things break (issue 18, docs/routes.md "Traces when things
-- break"). After each merge run the coordinator's merge thread calls probe_requests_due(),
-- which records the one-off traces now due and returns them; the coordinator's loop sends each
-- to its agent when it has a session (sent_at), and the result comes back as an ordinary
-- result with detail.request = the request's id (answered_at). Tables in migration 012.
-- Installed by every `parallaxctl db migrate` after the migrations (CREATE OR REPLACE).

-- The shipped limits, in one place (docs/routes.md says why these values).
CREATE OR REPLACE FUNCTION parallax.probe_request_limits(
    OUT per_target interval,      -- at most one request per agent and target in this long
    OUT per_agent_minute integer, -- at most this many requests to one agent in any minute
    OUT unsent_for interval,      -- a request not sent within this long has expired
    OUT trace_timeout_ms integer) -- the one-off trace's timeout (the whole run)
LANGUAGE sql IMMUTABLE AS $$
SELECT interval '300 seconds', 30, interval '60 seconds', 10000
$$;

-- What is due now, before the limits: (agent, target, outage, reason) for every healthy
-- vantage (its latest vantage bin, of the last three, healthy) and each target that
--   * has an open target outage                               (reason target_outage),
--   * or whose latest bin, of the last three, is bad, no outage open yet     (target_bad),
--   * or is not up in a group whose outage is open            (group_stage:STAGE; a rise
--     of the stage is a new reason, so it asks again).
-- Control targets are never traced. A request already sent for the same outage (and, for a
-- group, the same stage), or made and not yet expired, serves it.
CREATE OR REPLACE FUNCTION parallax.probe_requests_wanted(p_now timestamptz)
RETURNS TABLE (agent_id integer, target_id integer, outage_id bigint, reason text)
LANGUAGE sql STABLE AS $$
WITH s AS (SELECT * FROM parallax.merge_settings_now()),
healthy AS (
    SELECT a.id AS agent_id FROM parallax.agents a, s
    WHERE a.enabled
      AND (SELECT b.state FROM parallax.bins b
           WHERE b.scope = 'vantage' AND b.subject_id = a.id
             AND b.bin_end > p_now - 3 * s.vantage_bin_s * interval '1 second'
           ORDER BY b.bin_start DESC LIMIT 1) = 'healthy'),
latest AS (
    SELECT DISTINCT ON (b.subject_id) b.subject_id AS target_id, b.state, b.bad, b.bin_start, b.bin_end
    FROM parallax.bins b
    WHERE b.scope = 'target' AND b.bin_end > p_now - interval '1 hour'
    ORDER BY b.subject_id, b.bin_start DESC),
open_target AS (
    SELECT o.id, o.subject_id FROM parallax.outage_events o
    WHERE o.scope = 'target' AND o.ended_at IS NULL),
wanted AS (
    SELECT o.subject_id AS target_id, o.id AS outage_id, 'target_outage' AS reason FROM open_target o
    UNION ALL
    SELECT l.target_id, NULL::bigint, 'target_bad' FROM latest l
    WHERE l.bad AND l.bin_end > p_now - 3 * (l.bin_end - l.bin_start)
      AND NOT EXISTS (SELECT 1 FROM open_target o WHERE o.subject_id = l.target_id)
    UNION ALL
    SELECT t.id, o.id, 'group_stage:' || o.stage
    FROM parallax.outage_events o
    JOIN parallax.merge_groups g ON g.id = o.subject_id
    JOIN parallax.targets t ON t.group_name = g.name
    JOIN latest l ON l.target_id = t.id AND l.state <> 'up'
    WHERE o.scope = 'group' AND o.ended_at IS NULL)
SELECT h.agent_id, w.target_id, w.outage_id, w.reason
FROM wanted w
CROSS JOIN healthy h
JOIN parallax.targets t ON t.id = w.target_id AND NOT t.control
WHERE w.outage_id IS NULL
   OR NOT EXISTS (SELECT 1 FROM parallax.probe_requests q
                  WHERE q.agent_id = h.agent_id AND q.target_id = w.target_id
                    AND q.outage_id = w.outage_id
                    AND (w.reason NOT LIKE 'group_stage:%' OR q.reason = w.reason)
                    AND (q.sent_at IS NOT NULL
                         OR q.created_at > p_now - (SELECT l.unsent_for FROM parallax.probe_request_limits() l)))
$$;

-- Records what is due at p_now within the limits and returns it, for the coordinator to send.
-- Before that it marks the requests answered whose result is stored, and tags those made
-- before their outage opened (a bin turning bad comes before the outage it opens, which
-- starts at that bin) with it. The limits count the requests sent, and those made within
-- unsent_for (still to be sent): one the coordinator could not send does not hold back the
-- next once it has expired.
CREATE OR REPLACE FUNCTION parallax.probe_requests_due(p_now timestamptz)
RETURNS TABLE (request_id bigint, agent_id integer, probe_id bigint, target text, address text,
               spec text, timeout_ms integer, allow_internal boolean)
LANGUAGE plpgsql AS $$
DECLARE
    lim record;
BEGIN
    SELECT * INTO lim FROM parallax.probe_request_limits();
    UPDATE parallax.probe_requests q SET answered_at = r.received_at
    FROM parallax.results r
    WHERE q.answered_at IS NULL AND q.sent_at IS NOT NULL AND q.created_at > p_now - interval '1 hour'
      AND r.agent_id = q.agent_id AND r.probe_id = q.probe_id
      AND r.ts > q.created_at - interval '1 hour' AND r.ts < q.created_at + interval '1 hour'
      AND r.detail->>'request' = q.id::text;
    -- A parallaxctl waiting for its answers (an operator's request: discover --via) is woken.
    IF FOUND THEN
        PERFORM pg_notify('parallax_requests', '');
    END IF;
    UPDATE parallax.probe_requests q SET outage_id = o.id
    FROM parallax.outage_events o
    WHERE q.outage_id IS NULL AND q.created_at > p_now - interval '1 hour'
      AND o.scope = 'target' AND o.subject_id = q.target_id
      AND o.started_at <= q.created_at AND (o.ended_at IS NULL OR o.ended_at > q.created_at);

    -- An operator's requests (probe_request_ask) waiting to be sent, within their time.
    RETURN QUERY
    WITH handed AS (
        UPDATE parallax.probe_requests q SET queued_at = p_now
        WHERE q.queued_at IS NULL AND q.sent_at IS NULL AND q.created_at > p_now - lim.unsent_for
        RETURNING q.id, q.agent_id, q.probe_id)
    SELECT h.id, h.agent_id, h.probe_id, host(p.address), host(p.address), p.spec, p.timeout_ms,
           false
    FROM handed h
    JOIN parallax.request_probes p ON p.id = h.probe_id AND p.target_id IS NULL
    ORDER BY h.id;

    -- Made once per session (the merge's connection calls this four times a second).
    IF to_regclass('pg_temp.probe_requests_now') IS NULL THEN
        CREATE TEMP TABLE probe_requests_now (
            agent_id integer, target_id integer, outage_id bigint, reason text) ON COMMIT DELETE ROWS;
    END IF;
    DELETE FROM pg_temp.probe_requests_now;
    -- One per agent and target (a target's own reason before its group's), within the
    -- per-target limit, and per agent the first of them its room for this minute allows.
    INSERT INTO pg_temp.probe_requests_now
    SELECT w.agent_id, w.target_id, w.outage_id, w.reason
    FROM (SELECT d.*, row_number() OVER (PARTITION BY d.agent_id ORDER BY d.target_id) AS k
          FROM (SELECT DISTINCT ON (w.agent_id, w.target_id) w.*
                FROM parallax.probe_requests_wanted(p_now) w
                WHERE NOT EXISTS (SELECT 1 FROM parallax.probe_requests q
                                  WHERE q.agent_id = w.agent_id AND q.target_id = w.target_id
                                    AND q.created_at > p_now - lim.per_target
                                    AND (q.sent_at IS NOT NULL OR q.created_at > p_now - lim.unsent_for))
                ORDER BY w.agent_id, w.target_id, w.reason DESC) d) w
    JOIN LATERAL (
        SELECT lim.per_agent_minute - count(*) AS room FROM parallax.probe_requests q
        WHERE q.agent_id = w.agent_id AND q.created_at > p_now - interval '1 minute'
          AND q.target_id IS NOT NULL -- an operator's requests are the operator's to pace
          AND (q.sent_at IS NOT NULL OR q.created_at > p_now - lim.unsent_for)) b ON true
    WHERE w.k <= b.room;
    IF NOT EXISTS (SELECT 1 FROM pg_temp.probe_requests_now) THEN
        RETURN;
    END IF;
    INSERT INTO parallax.request_probes (target_id, spec, timeout_ms)
    SELECT DISTINCT n.target_id, 'trace', lim.trace_timeout_ms FROM pg_temp.probe_requests_now n
    WHERE NOT EXISTS (SELECT 1 FROM parallax.request_probes p WHERE p.target_id = n.target_id AND p.spec = 'trace');
    RETURN QUERY
    WITH made AS (
        INSERT INTO parallax.probe_requests (agent_id, target_id, probe_id, outage_id, reason, created_at, queued_at)
        SELECT n.agent_id, n.target_id, p.id, n.outage_id, n.reason, p_now, p_now
        FROM pg_temp.probe_requests_now n
        JOIN parallax.request_probes p ON p.target_id = n.target_id AND p.spec = 'trace'
        RETURNING *)
    SELECT m.id, m.agent_id, m.probe_id, t.name, host(t.address), p.spec, p.timeout_ms, t.allow_internal
    FROM made m
    JOIN parallax.request_probes p ON p.id = m.probe_id
    JOIN parallax.targets t ON t.id = m.target_id
    ORDER BY m.id;
END $$;
COMMENT ON FUNCTION parallax.probe_requests_due(timestamptz) IS
    'One-off traces due at p_now (a target turned bad, a target outage opened, a group outage''s stage rose), recorded in probe_requests within the limits of probe_request_limits() and returned for the coordinator to send.';

-- The coordinator sent these (its agent had a session).
CREATE OR REPLACE FUNCTION parallax.probe_requests_sent(p_ids bigint[], p_at timestamptz)
RETURNS integer LANGUAGE sql AS $$
WITH u AS (UPDATE parallax.probe_requests SET sent_at = p_at
           WHERE id = ANY (p_ids) AND sent_at IS NULL RETURNING 1)
SELECT count(*)::integer FROM u
$$;

-- The answers: one row per request whose result is stored.
CREATE OR REPLACE VIEW parallax.probe_request_results AS
SELECT q.id AS request_id, q.outage_id, q.agent_id, a.name AS agent, q.target_id, t.name AS target,
       split_part(p.spec, ':', 1) AS kind, r.ts, r.status, r.detail, q.reason, q.created_at,
       q.sent_at, r.received_at, coalesce(t.address, p.address) AS address, p.spec, r.app_code,
       r.message
FROM parallax.probe_requests q
JOIN parallax.agents a ON a.id = q.agent_id
LEFT JOIN parallax.targets t ON t.id = q.target_id
LEFT JOIN parallax.request_probes p ON p.id = q.probe_id
JOIN parallax.results r ON r.agent_id = q.agent_id AND r.probe_id = q.probe_id
     AND r.ts > q.created_at - interval '1 hour' AND r.ts < q.created_at + interval '1 hour'
     AND r.detail->>'request' = q.id::text;
COMMENT ON VIEW parallax.probe_request_results IS
    'Results of one-off probe requests: which request, outage, agent and target (NULL for an operator''s request: address), and the result (detail.trace: the hops; detail.dns.records: what a DNS server answered).';

-- An operator asks agent p_agent (by name) for one run of p_spec against p_address, which
-- need not be a target (parallaxctl discover --via: the zone's lookups, made from the agent's
-- vantage). The merge thread hands it to the coordinator within a quarter of a second; it is
-- sent if the agent has a session then, and expires unsent otherwise (probe_request_limits()'s
-- unsent_for). The agent applies its own deny-list: an operator's request never carries
-- allow_internal. Returns the request's id; its answer is in probe_request_results.
CREATE OR REPLACE FUNCTION parallax.probe_request_ask(p_agent text, p_address inet, p_spec text,
                                                      p_timeout_ms integer, p_reason text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    a record;
    pid bigint;
    rid bigint;
BEGIN
    SELECT id, enabled INTO a FROM parallax.agents WHERE name = p_agent;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no agent named "%"', p_agent USING ERRCODE = 'no_data_found',
              HINT = 'parallaxctl agent list shows the agents.';
    END IF;
    IF NOT a.enabled THEN
        RAISE EXCEPTION 'agent "%" is disabled', p_agent USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO parallax.request_probes (address, spec, timeout_ms)
    VALUES (p_address, p_spec, p_timeout_ms)
    ON CONFLICT (address, spec) WHERE target_id IS NULL DO UPDATE SET timeout_ms = excluded.timeout_ms
    RETURNING id INTO pid;
    INSERT INTO parallax.probe_requests (agent_id, target_id, probe_id, reason)
    VALUES (a.id, NULL, pid, p_reason)
    RETURNING id INTO rid;
    RETURN rid;
END $$;
COMMENT ON FUNCTION parallax.probe_request_ask(text, inet, text, integer, text) IS
    'An operator''s one-off probe request to an agent (parallaxctl discover --via): returns its id; the answer appears in probe_request_results.';
