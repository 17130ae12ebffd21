-- 45_routes: BGP visibility (migration 011): what collector peers said about a prefix at a
-- time, the prefixes a group is announced as, the visibility bins, and the routes evidence
-- the merge writes into group bins (merge_group_bins, 40_merge_bins.sql).
-- Installed by every `parallaxctl db migrate` after the migrations (CREATE OR REPLACE), in
-- file order, in one transaction with check_function_bodies off.

-- Keeps route_prefixes: every prefix the updates name, once.
CREATE OR REPLACE FUNCTION parallax.route_prefixes_add() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO parallax.route_prefixes (prefix, first_seen)
    SELECT prefix, min(ts) FROM route_new WHERE prefix IS NOT NULL GROUP BY prefix
    ON CONFLICT (prefix) DO UPDATE SET first_seen = least(parallax.route_prefixes.first_seen, EXCLUDED.first_seen)
    WHERE EXCLUDED.first_seen < parallax.route_prefixes.first_seen;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS route_prefixes_add ON parallax.route_updates;
CREATE TRIGGER route_prefixes_add AFTER INSERT ON parallax.route_updates
    REFERENCING NEW TABLE AS route_new
    FOR EACH STATEMENT EXECUTE FUNCTION parallax.route_prefixes_add();

-- Visibility of p_net just before p_at: of the collector peers whose session was up then
-- (heard from before p_at, and no peer_down since their last peer_up), how many had a route
-- into p_net (their latest word on some prefix overlapping it, since their last session
-- change, an announcement); the origin ASes of those routes; and, when some up peer had
-- none, when the last of them withdrew (its withdrawal, or the session's end). A route to a
-- less specific prefix counts: packets would follow it.
CREATE OR REPLACE FUNCTION parallax.route_visibility(p_net cidr, p_at timestamptz,
    OUT peers_seeing integer, OUT peers_total integer, OUT origin_asns bigint[],
    OUT withdrawn_at timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
WITH peers AS (
    SELECT p.id,
           (SELECT u.ts FROM parallax.route_updates u
            WHERE u.peer_id = p.id AND u.prefix IS NULL AND u.kind = 'peer_down' AND u.ts < p_at
            ORDER BY u.ts DESC LIMIT 1) AS down_at,
           (SELECT u.ts FROM parallax.route_updates u
            WHERE u.peer_id = p.id AND u.prefix IS NULL AND u.kind = 'peer_up' AND u.ts < p_at
            ORDER BY u.ts DESC LIMIT 1) AS up_at,
           EXISTS (SELECT 1 FROM parallax.route_updates u WHERE u.peer_id = p.id AND u.ts < p_at) AS heard
    FROM parallax.route_peers p
),
up AS (
    SELECT id, greatest(down_at, up_at) AS since
    FROM peers WHERE heard AND (down_at IS NULL OR up_at > down_at)
),
nets AS (
    SELECT r.prefix FROM parallax.route_prefixes r WHERE r.prefix && p_net
),
latest AS (
    SELECT up.id AS peer_id, l.kind, l.origin_asn, l.ts
    FROM up CROSS JOIN nets
    CROSS JOIN LATERAL (
        SELECT u.kind, u.origin_asn, u.ts FROM parallax.route_updates u
        WHERE u.peer_id = up.id AND u.prefix = nets.prefix AND u.ts < p_at
          AND (up.since IS NULL OR u.ts >= up.since)
        ORDER BY u.ts DESC LIMIT 1) l
),
seeing AS (
    SELECT DISTINCT peer_id FROM latest WHERE kind = 'announce'
)
SELECT (SELECT count(*) FROM seeing)::integer,
       (SELECT count(*) FROM up)::integer,
       coalesce((SELECT array_agg(DISTINCT origin_asn ORDER BY origin_asn) FROM latest
                 WHERE kind = 'announce' AND origin_asn IS NOT NULL), '{}'),
       (SELECT max(coalesce(l.ts, up.since)) FROM up
        LEFT JOIN latest l ON l.peer_id = up.id AND l.kind = 'withdraw'
        WHERE up.id NOT IN (SELECT peer_id FROM seeing))
$$;
COMMENT ON FUNCTION parallax.route_visibility(cidr, timestamptz) IS
    'Collector peers with a route into a network just before a time, of the peers whose session was up; their origin ASes; when the last of the others withdrew.';

-- A group's networks: the prefixes configured for it, or else, for each of its targets, the
-- most specific announced prefix covering the target's address.
CREATE OR REPLACE FUNCTION parallax.group_prefix_list(p_group text)
RETURNS TABLE (prefix cidr, configured boolean)
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
SELECT gp.prefix, true FROM parallax.group_prefixes gp WHERE gp.group_name = p_group
UNION
SELECT DISTINCT r.prefix, false
FROM parallax.targets t
CROSS JOIN LATERAL (
    SELECT r.prefix FROM parallax.route_prefixes r
    WHERE r.prefix >>= t.address ORDER BY masklen(r.prefix) DESC LIMIT 1) r
WHERE t.group_name = p_group AND NOT t.control
  AND NOT EXISTS (SELECT 1 FROM parallax.group_prefixes gp WHERE gp.group_name = p_group)
$$;
COMMENT ON FUNCTION parallax.group_prefix_list(text) IS
    'The prefixes of a group: configured (group_prefixes), or derived from its targets'' addresses (the most specific announced prefix covering each).';

-- The prefixes whose visibility is kept in bins: every group's.
CREATE OR REPLACE VIEW parallax.route_watched AS
SELECT DISTINCT g.name AS group_name, l.prefix, l.configured
FROM (SELECT DISTINCT group_name AS name FROM parallax.targets WHERE group_name IS NOT NULL
      UNION SELECT group_name FROM parallax.group_prefixes) g
CROSS JOIN LATERAL parallax.group_prefix_list(g.name) l;
COMMENT ON VIEW parallax.route_watched IS
    'Each group''s prefixes (configured, or derived from its targets'' addresses and the announced prefixes).';

-- The routes evidence of a group over one bin: null when no collector peer was up (no BGP
-- data: nothing to say), else its state (unroutable: no peer had a route into any of its
-- prefixes; routed: each prefix seen by more than half the peers; partly_routed otherwise),
-- each prefix's visibility at the bin's end, and when the last withdrawal happened.
--
-- A prefix's visibility comes from its bin in route_bins when one ends at p_at (the merge
-- asks at group bin ends), else from route_visibility(). The bins are kept right by
-- route_bins_refresh(), which queues the group bins it changes for the merge again, so
-- reading them costs one index lookup per prefix instead of one per prefix and peer.
CREATE OR REPLACE FUNCTION parallax.group_routes(p_group text, p_at timestamptz) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
WITH l AS (
    SELECT l.prefix, rb.peers_seeing, rb.peers_total, rb.origin_asns, rb.withdrawn_at,
           rb.prefix IS NOT NULL AS stored
    FROM parallax.group_prefix_list(p_group) l
    LEFT JOIN parallax.route_bins rb
           ON rb.prefix = l.prefix
          AND rb.bin_start = p_at - (SELECT s.group_bin_s FROM parallax.merge_settings_now() s) * interval '1 second'
          AND rb.bin_end = p_at
),
v AS (
    SELECT prefix, peers_seeing, peers_total, origin_asns, withdrawn_at FROM l WHERE stored
    UNION ALL
    SELECT l.prefix, r.*
    FROM l CROSS JOIN LATERAL parallax.route_visibility(l.prefix, p_at) r
    WHERE NOT l.stored
)
SELECT CASE WHEN max(peers_total) > 0 THEN jsonb_strip_nulls(jsonb_build_object(
           'state', CASE WHEN bool_and(peers_seeing = 0) THEN 'unroutable'
                         WHEN bool_and(peers_seeing * 2 > peers_total) THEN 'routed'
                         ELSE 'partly_routed' END,
           'withdrawn_at', max(withdrawn_at),
           'prefixes', jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'prefix', prefix::text, 'seeing', peers_seeing, 'peers', peers_total,
               'origins', CASE WHEN cardinality(origin_asns) > 0 THEN to_jsonb(origin_asns) END,
               'withdrawn_at', withdrawn_at)) ORDER BY prefix)))
       END
FROM v
$$;
COMMENT ON FUNCTION parallax.group_routes(text, timestamptz) IS
    'A group''s routes evidence just before a time: state unroutable|partly_routed|routed, each prefix''s visibility, the last withdrawal; NULL without BGP data.';

-- Recomputes the visibility bins of every watched prefix over [p_from, p_to) (group bins),
-- and queues for the merge the group bins already judged whose prefixes' visibility changed
-- (routes data that comes after the merge judged a bin re-judges it). Returns the number of
-- bins written. The importer calls it after each commit, over the time its updates span.
--
-- Bin by bin, in time order: a prefix's visibility at a bin's end can differ from the bin
-- before only if an update in the bin touched a prefix overlapping it, or a session changed,
-- or a peer spoke for the first time (it counts among the peers from then on). Only those
-- prefixes are asked route_visibility() again (every prefix after a session change); the
-- others carry the bin before forward. With a country's 2,000 prefixes and 300 peers, asking
-- every prefix every bin took minutes per hour of BGP data (bench/routes_bench.sh).
CREATE OR REPLACE FUNCTION parallax.route_bins_refresh(p_from timestamptz, p_to timestamptz)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    s parallax.merge_settings := parallax.merge_settings_now();
    width interval := s.group_bin_s * interval '1 second';
    bin timestamptz;
    every boolean;
    changed integer;
BEGIN
    IF p_from IS NULL OR p_to IS NULL OR p_to < p_from THEN
        RETURN 0;
    END IF;
    -- Visibility lasts between updates: the bins since the last one written (within a day)
    -- are filled too, so a feed refreshed update by update writes the bins a replay of the
    -- same updates in one go writes.
    p_from := least(p_from, coalesce((SELECT max(r.bin_end) FROM parallax.route_bins r
                                      WHERE r.bin_start < p_from AND r.bin_start >= p_from - interval '1 day'),
                                     p_from));
    CREATE TEMP TABLE IF NOT EXISTS route_changed (prefix cidr, bin_start timestamptz, bin_end timestamptz)
        ON COMMIT DROP;
    DELETE FROM pg_temp.route_changed;
    -- The watched prefixes, and which announced prefixes overlap each (an update to any of
    -- them may change its visibility).
    CREATE TEMP TABLE IF NOT EXISTS route_refresh_watched (prefix cidr PRIMARY KEY) ON COMMIT DROP;
    DELETE FROM pg_temp.route_refresh_watched;
    INSERT INTO pg_temp.route_refresh_watched SELECT DISTINCT prefix FROM parallax.route_watched;
    CREATE TEMP TABLE IF NOT EXISTS route_refresh_touch (route cidr, prefix cidr) ON COMMIT DROP;
    DELETE FROM pg_temp.route_refresh_touch;
    INSERT INTO pg_temp.route_refresh_touch
    SELECT r.prefix, w.prefix FROM pg_temp.route_refresh_watched w
    JOIN parallax.route_prefixes r ON r.prefix && w.prefix;
    CREATE INDEX IF NOT EXISTS route_refresh_touch_route ON pg_temp.route_refresh_touch (route);
    ANALYZE pg_temp.route_refresh_touch;
    -- When each peer first spoke.
    CREATE TEMP TABLE IF NOT EXISTS route_refresh_first (first_ts timestamptz) ON COMMIT DROP;
    DELETE FROM pg_temp.route_refresh_first;
    INSERT INTO pg_temp.route_refresh_first
    SELECT (SELECT min(u.ts) FROM parallax.route_updates u WHERE u.peer_id = p.id) FROM parallax.route_peers p;
    CREATE TEMP TABLE IF NOT EXISTS route_refresh_ask (prefix cidr PRIMARY KEY) ON COMMIT DROP;

    FOR bin IN SELECT g FROM generate_series(parallax.bin_floor(p_from, s.group_bin_s), p_to, width) g LOOP
        DELETE FROM pg_temp.route_refresh_ask;
        every := EXISTS (SELECT 1 FROM parallax.route_updates u
                         WHERE u.ts >= bin AND u.ts < bin + width AND u.prefix IS NULL)
              OR EXISTS (SELECT 1 FROM pg_temp.route_refresh_first f
                         WHERE f.first_ts >= bin AND f.first_ts < bin + width);
        -- Asked again: every prefix after a session change or a first word; else those an
        -- update in the bin touched, and those without a bin before to carry forward.
        INSERT INTO pg_temp.route_refresh_ask
        SELECT w.prefix FROM pg_temp.route_refresh_watched w WHERE every
        UNION
        SELECT t.prefix FROM parallax.route_updates u
        JOIN pg_temp.route_refresh_touch t ON t.route = u.prefix
        WHERE NOT every AND u.ts >= bin AND u.ts < bin + width
        UNION
        SELECT w.prefix FROM pg_temp.route_refresh_watched w
        WHERE NOT every AND NOT EXISTS (SELECT 1 FROM parallax.route_bins x
                                        WHERE x.prefix = w.prefix AND x.bin_start = bin - width);
        WITH fresh AS (
            SELECT a.prefix, bin AS bin_start, bin + width AS bin_end, v.*
            FROM pg_temp.route_refresh_ask a
            CROSS JOIN LATERAL parallax.route_visibility(a.prefix, bin + width) v
            UNION ALL
            SELECT x.prefix, bin, bin + width, x.peers_seeing, x.peers_total, x.origin_asns, x.withdrawn_at
            FROM pg_temp.route_refresh_watched w
            JOIN parallax.route_bins x ON x.prefix = w.prefix AND x.bin_start = bin - width
            WHERE NOT EXISTS (SELECT 1 FROM pg_temp.route_refresh_ask a WHERE a.prefix = w.prefix)
        ),
        up AS (
            INSERT INTO parallax.route_bins AS r (prefix, bin_start, bin_end, peers_seeing, peers_total,
                                                  origin_asns, withdrawn_at)
            SELECT prefix, bin_start, bin_end, peers_seeing, peers_total, origin_asns, withdrawn_at FROM fresh
            WHERE peers_total > 0 OR EXISTS (SELECT 1 FROM parallax.route_bins x
                                             WHERE x.prefix = fresh.prefix AND x.bin_start = fresh.bin_start)
            ON CONFLICT (prefix, bin_start) DO UPDATE
                SET bin_end = EXCLUDED.bin_end, peers_seeing = EXCLUDED.peers_seeing,
                    peers_total = EXCLUDED.peers_total, origin_asns = EXCLUDED.origin_asns,
                    withdrawn_at = EXCLUDED.withdrawn_at
                WHERE (r.peers_seeing, r.peers_total, r.origin_asns, r.withdrawn_at)
                      IS DISTINCT FROM (EXCLUDED.peers_seeing, EXCLUDED.peers_total,
                                        EXCLUDED.origin_asns, EXCLUDED.withdrawn_at)
            RETURNING r.prefix, r.bin_start, r.bin_end
        )
        INSERT INTO pg_temp.route_changed SELECT * FROM up;
    END LOOP;
    SELECT count(*) INTO changed FROM pg_temp.route_changed;
    IF changed > 0 THEN
        PERFORM parallax.merge_mark_begin();
        INSERT INTO pg_temp.merge_marked (scope, subject_id, bin_start, bin_end, closes_at)
        SELECT DISTINCT 'group', b.subject_id, b.bin_start, b.bin_end, now()
        FROM pg_temp.route_changed c
        JOIN parallax.route_watched w ON w.prefix = c.prefix
        JOIN parallax.merge_groups g ON g.name = w.group_name
        JOIN parallax.bins b ON b.scope = 'group' AND b.subject_id = g.id
             AND b.bin_start < c.bin_end AND b.bin_end > c.bin_start
        ON CONFLICT DO NOTHING;
        PERFORM parallax.merge_mark_flush();
    END IF;
    RETURN changed;
END $$;
COMMENT ON FUNCTION parallax.route_bins_refresh(timestamptz, timestamptz) IS
    'Recomputes route_bins over a time range (per bin, the prefixes whose visibility may have changed) and queues the judged group bins whose routes changed; returns the bins written.';

-- Routes withdrawn (wholly or partly) while the group's probes did not say blackout: a
-- collector's problem, or a hijack-like event. Reported here and by explain, never as a
-- blackout.
CREATE OR REPLACE VIEW parallax.route_anomalies AS
SELECT g.name AS group_name, b.bin_start, b.bin_end, b.state AS group_state,
       b.evidence->'routes'->>'state' AS routes_state,
       (b.evidence->'routes'->>'withdrawn_at')::timestamptz AS withdrawn_at,
       b.evidence->'routes'->'prefixes' AS prefixes
FROM parallax.bins b
JOIN parallax.merge_groups g ON g.id = b.subject_id
WHERE b.scope = 'group' AND b.state <> 'blackout'
  AND b.evidence->'routes'->>'state' IN ('unroutable', 'partly_routed');
COMMENT ON VIEW parallax.route_anomalies IS
    'Group bins whose prefixes were (partly) withdrawn while the probes did not find a blackout.';

-- After a group's configured prefixes changed (parallaxctl group set): refreshes the
-- visibility bins of its prefixes over the time BGP data covers, and queues every judged bin
-- of the group in that time for the merge (its routes evidence names the prefixes). Returns
-- the number of group bins queued.
CREATE OR REPLACE FUNCTION parallax.group_prefixes_changed(p_group text) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    t_from timestamptz;
    t_to timestamptz;
BEGIN
    SELECT min(ts), max(ts) INTO t_from, t_to FROM parallax.route_updates;
    IF t_from IS NULL THEN
        RETURN 0;
    END IF;
    t_to := greatest(t_to, least(now(), (SELECT max(bin_end) FROM parallax.bins WHERE scope = 'group')));
    PERFORM parallax.route_bins_refresh(t_from, t_to);
    PERFORM parallax.merge_mark_begin();
    INSERT INTO pg_temp.merge_marked (scope, subject_id, bin_start, bin_end, closes_at)
    SELECT 'group', b.subject_id, b.bin_start, b.bin_end, now()
    FROM parallax.merge_groups g
    JOIN parallax.bins b ON b.scope = 'group' AND b.subject_id = g.id
         AND b.bin_end > t_from AND b.bin_start <= t_to
    WHERE g.name = p_group
    ON CONFLICT DO NOTHING;
    RETURN parallax.merge_mark_flush();
END $$;
COMMENT ON FUNCTION parallax.group_prefixes_changed(text) IS
    'Refreshes the visibility bins and queues the group''s judged bins over the time BGP data covers, after its prefixes changed.';
