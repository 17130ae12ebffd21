-- 47_paths: where the vantages' paths die during an outage (issue 18): the last hop of each
-- vantage's traces to the outage's targets, who announces it, and whether it lies inside the
-- group's networks. Traces are ordinary results of kind trace: scheduled ones, and the
-- one-off traces the coordinator asks for when a target turns bad.
-- Installed by every `parallaxctl db migrate` after the migrations (CREATE OR REPLACE), in
-- file order, in one transaction with check_function_bodies off.

-- The AS that originates an address: the most specific announced prefix covering it (its
-- latest announcement's origin), else the most specific of an imported prefix-to-AS file.
CREATE OR REPLACE FUNCTION parallax.address_origin(p_address inet) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
SELECT coalesce(
    (SELECT u.origin_asn
     FROM (SELECT r.prefix FROM parallax.route_prefixes r WHERE r.prefix >>= p_address
           ORDER BY masklen(r.prefix) DESC LIMIT 1) r
     JOIN parallax.route_updates u ON u.prefix = r.prefix AND u.kind = 'announce'
     WHERE u.origin_asn IS NOT NULL
     ORDER BY u.ts DESC LIMIT 1),
    (SELECT o.asn FROM parallax.prefix_origins o WHERE o.prefix >>= p_address
     ORDER BY masklen(o.prefix) DESC LIMIT 1))
$$;
COMMENT ON FUNCTION parallax.address_origin(inet) IS
    'The origin AS of an address: by the most specific announced prefix covering it, else by the imported prefix-to-AS file; NULL when neither knows it.';

-- The group an outage concerns: the group's own, or its target's.
CREATE OR REPLACE FUNCTION parallax.outage_group(p_scope text, p_subject_id integer) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
SELECT CASE p_scope
    WHEN 'group' THEN (SELECT g.name FROM parallax.merge_groups g WHERE g.id = p_subject_id)
    WHEN 'target' THEN (SELECT t.group_name FROM parallax.targets t WHERE t.id = p_subject_id) END
$$;

-- A group's networks for telling a hop inside from one outside: its prefixes
-- (group_prefix_list), or without BGP data or configuration the /24 (IPv4) or /48 (IPv6)
-- around each of its targets.
CREATE OR REPLACE FUNCTION parallax.group_networks(p_group text) RETURNS TABLE (prefix cidr)
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
SELECT l.prefix FROM parallax.group_prefix_list(p_group) l
UNION
SELECT DISTINCT network(set_masklen(t.address, CASE family(t.address) WHEN 4 THEN 24 ELSE 48 END))::cidr
FROM parallax.targets t
WHERE t.group_name = p_group AND NOT t.control
  AND NOT EXISTS (SELECT 1 FROM parallax.group_prefix_list(p_group))
$$;
COMMENT ON FUNCTION parallax.group_networks(text) IS
    'A group''s networks: its prefixes (group_prefix_list), else the /24 or /48 around each of its targets.';

-- Per target and group outage, per vantage and target: the vantage's latest trace to the
-- target between one group bin before the outage began and its end (a one-off trace asked
-- for the outage preferred to a scheduled one), its last responsive hop, that hop's origin
-- AS, and whether it lies inside the group's networks (group_networks).
CREATE OR REPLACE VIEW parallax.path_ends AS
SELECT o.id AS outage_id, o.scope, o.subject, a.name AS agent, t.name AS target,
       t.address AS target_address, tr.ts, tr.requested,
       coalesce((tr.detail->'trace'->>'reached')::boolean, false) AS reached,
       h.ttl AS last_ttl, h.address AS last_hop,
       parallax.address_origin(h.address) AS last_hop_asn,
       CASE WHEN g.name IS NOT NULL AND h.address IS NOT NULL THEN EXISTS (
           SELECT 1 FROM parallax.group_networks(g.name) p WHERE h.address <<= p.prefix) END AS last_hop_inside
FROM parallax.outage_events o
CROSS JOIN LATERAL (SELECT parallax.outage_group(o.scope, o.subject_id) AS name) g
JOIN parallax.targets t ON (o.scope = 'target' AND t.id = o.subject_id)
                        OR (o.scope = 'group' AND t.group_name = g.name AND NOT t.control)
CROSS JOIN parallax.agents a
CROSS JOIN LATERAL (
    SELECT r.ts, r.detail, r.detail ? 'request' AS requested
    -- The target's scheduled traces and its one-off ones (46_probe_requests.sql), whose
    -- results carry detail.request, the id of a parallax.probe_requests row naming the outage.
    FROM (SELECT p.id FROM parallax.probes p WHERE p.target_id = t.id AND p.kind = 'trace'
          UNION ALL
          SELECT q.id FROM parallax.request_probes q WHERE q.target_id = t.id AND q.spec = 'trace') p
    JOIN parallax.results r ON r.probe_id = p.id AND r.agent_id = a.id
    WHERE r.detail ? 'trace'
      AND r.ts >= o.started_at - (SELECT s.group_bin_s FROM parallax.merge_settings_now() s) * interval '1 second'
      AND r.ts < coalesce(o.ended_at, 'infinity')
    ORDER BY EXISTS (SELECT 1 FROM parallax.probe_requests pq
                     WHERE pq.id::text = r.detail->>'request' AND pq.outage_id = o.id) DESC, r.ts DESC
    LIMIT 1) tr
LEFT JOIN LATERAL (
    SELECT (x->>'ttl')::integer AS ttl, (x->>'address')::inet AS address
    FROM jsonb_array_elements(coalesce(tr.detail->'trace'->'hops', '[]')) x
    WHERE coalesce(x->>'address', '') <> ''
    ORDER BY (x->>'ttl')::integer DESC LIMIT 1) h ON true
WHERE o.scope IN ('target', 'group');
COMMENT ON VIEW parallax.path_ends IS
    'Where each vantage''s path to an outage''s targets died: the last responsive hop of its latest trace during the outage, the hop''s origin AS, whether it lies inside the group''s networks.';

-- What explain says of routes for one group outage, per prefix: its visibility when the worst
-- stage was first reached, when it was withdrawn, and the first failed probe of the group's
-- targets around the outage's start (so "withdrawn 40 s before the first failed probe").
CREATE OR REPLACE FUNCTION parallax.outage_routes(p_outage bigint)
RETURNS TABLE (state text, prefix text, seeing integer, peers integer, origins text,
               withdrawn_at timestamptz, first_failure timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
WITH o AS (
    SELECT e.*, parallax.outage_group(e.scope, e.subject_id) AS group_name
    FROM parallax.outage_events e WHERE e.id = p_outage AND e.detail ? 'routes'
),
ff AS (
    SELECT min(r.ts) AS first_failure
    FROM o
    JOIN parallax.targets t ON t.group_name = o.group_name AND NOT t.control
    JOIN parallax.probes p ON p.target_id = t.id AND p.kind <> 'trace'
    JOIN parallax.results r ON r.probe_id = p.id
    WHERE r.status NOT IN ('ok', 'local_error') AND NOT r.control
      AND r.ts >= o.started_at - (SELECT s.group_bin_s FROM parallax.merge_settings_now() s) * interval '2 seconds'
      AND r.ts < coalesce(o.ended_at, 'infinity')
)
SELECT o.detail->'routes'->>'state', x->>'prefix', (x->>'seeing')::integer, (x->>'peers')::integer,
       (SELECT string_agg('AS' || v, ', ') FROM jsonb_array_elements_text(x->'origins') v),
       (x->>'withdrawn_at')::timestamptz, ff.first_failure
FROM o CROSS JOIN ff
CROSS JOIN LATERAL jsonb_array_elements(o.detail->'routes'->'prefixes') x
ORDER BY x->>'prefix'
$$;
COMMENT ON FUNCTION parallax.outage_routes(bigint) IS
    'For explain: each prefix of a group outage''s routes evidence, and the first failed probe of its targets.';
