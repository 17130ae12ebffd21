-- 011_routes: the control plane as evidence (issue 18). BGP updates seen by route collectors
-- (imported from MRT files, or followed live as a collector writes them: parallaxctl routes),
-- the prefixes each group's networks are announced as, and per-prefix visibility bins the
-- merge reads to tell a blackout whose prefixes were withdrawn (unroutable) from one whose
-- routes stayed while packets died. Functions in schema/definitions/45_routes.sql.
-- Applied by `parallaxctl db migrate` inside one transaction.

-- A BGP speaker a collector hears (a "collector peer"), named by the collector it was heard by.
CREATE TABLE parallax.route_peers (
    id        serial PRIMARY KEY,
    collector text NOT NULL CHECK (collector ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    address   inet NOT NULL,
    asn       bigint NOT NULL CHECK (asn BETWEEN 0 AND 4294967295),
    UNIQUE (collector, address, asn)
);
COMMENT ON TABLE parallax.route_peers IS
    'BGP peers of the route collectors Parallax imports from (collector: the name given at import).';

-- One row per announced or withdrawn prefix, or per session change, as the MRT record says.
-- Unique, so replaying a file twice stores nothing twice (the importer inserts with ON
-- CONFLICT DO NOTHING).
CREATE TABLE parallax.route_updates (
    ts         timestamptz NOT NULL,
    peer_id    integer NOT NULL REFERENCES parallax.route_peers ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('announce', 'withdraw', 'peer_up', 'peer_down')),
    prefix     cidr,
    origin_asn bigint CHECK (origin_asn BETWEEN 0 AND 4294967295),
    as_path    text,
    CHECK ((prefix IS NULL) = (kind IN ('peer_up', 'peer_down'))),
    CHECK (kind = 'announce' OR (origin_asn IS NULL AND as_path IS NULL)),
    UNIQUE NULLS NOT DISTINCT (peer_id, ts, kind, prefix)
);
-- A peer's latest word on one prefix before a time.
CREATE INDEX route_updates_peer_prefix ON parallax.route_updates (peer_id, prefix, ts);
COMMENT ON TABLE parallax.route_updates IS
    'BGP updates and session changes heard by collector peers (parallaxctl routes import|follow).';
COMMENT ON COLUMN parallax.route_updates.origin_asn IS
    'The last AS of the AS path (announcements only; NULL when it ends in an AS set).';
COMMENT ON COLUMN parallax.route_updates.as_path IS
    'The AS path, ASNs separated by spaces, a set as {a,b} (announcements only).';

-- Every prefix ever announced or withdrawn, once (kept by a trigger on route_updates): what
-- "the prefixes that cover this address" and "that overlap this network" are asked of.
CREATE TABLE parallax.route_prefixes (
    prefix     cidr PRIMARY KEY,
    first_seen timestamptz NOT NULL
);
CREATE INDEX route_prefixes_net ON parallax.route_prefixes USING gist (prefix inet_ops);

-- An operator's prefix-to-AS file (CAIDA pfx2as style), for hops outside what the collectors
-- announce.
CREATE TABLE parallax.prefix_origins (
    prefix      cidr PRIMARY KEY,
    asn         bigint NOT NULL CHECK (asn BETWEEN 0 AND 4294967295),
    source      text NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX prefix_origins_net ON parallax.prefix_origins USING gist (prefix inet_ops);

-- A group's networks as configured (parallaxctl group set G --prefix P --asn A). A group with
-- none has them derived: the most specific announced prefix covering each of its targets.
CREATE TABLE parallax.group_prefixes (
    group_name text NOT NULL,
    prefix     cidr NOT NULL,
    asn        bigint CHECK (asn BETWEEN 0 AND 4294967295),
    PRIMARY KEY (group_name, prefix)
);
COMMENT ON TABLE parallax.group_prefixes IS
    'The prefixes a group''s networks are announced as, and their origin AS (optional).';

-- Visibility of each watched prefix at the end of each group bin: how many collector peers
-- with a session up had a route into it, of how many.
CREATE TABLE parallax.route_bins (
    prefix       cidr NOT NULL,
    bin_start    timestamptz NOT NULL,
    bin_end      timestamptz NOT NULL,
    peers_seeing integer NOT NULL CHECK (peers_seeing >= 0),
    peers_total  integer NOT NULL CHECK (peers_total >= peers_seeing),
    origin_asns  bigint[] NOT NULL,
    withdrawn_at timestamptz,
    PRIMARY KEY (prefix, bin_start)
);
CREATE INDEX route_bins_time ON parallax.route_bins (bin_start);
COMMENT ON TABLE parallax.route_bins IS
    'Per watched prefix and group bin: collector peers with a route into the prefix at the bin''s end, of the peers whose session was up (parallax.route_bins_refresh).';
COMMENT ON COLUMN parallax.route_bins.withdrawn_at IS
    'When the last of the peers not seeing the prefix withdrew it (NULL when all see it).';

-- Retention (parallax.retention_run): route updates are raw evidence, kept as long as results
-- (keep_results) but for each peer's latest word on each prefix and its latest session
-- change, which visibility still rests on; visibility bins as long as the verdict bins
-- (keep_bins).
ALTER TABLE parallax.retention_state DROP CONSTRAINT retention_state_kind_check;
ALTER TABLE parallax.retention_state ADD CONSTRAINT retention_state_kind_check
    CHECK (kind IN ('results', 'heartbeats', 'gaps', 'batches', 'bins', 'outages', 'routes', 'route_bins'));
INSERT INTO parallax.retention_state (kind) VALUES ('routes'), ('route_bins');
CREATE INDEX route_updates_ts ON parallax.route_updates (ts);
