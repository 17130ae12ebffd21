-- 001_core: agents, targets, probes, the coordinator's identity, results (partitioned by day)
-- and the record of ingested batches that makes storage exactly-once.
-- Applied by `parallaxctl db migrate` inside one transaction, after it created the schema.

-- The one status list. Mirrors PX_STATUS_LIST in proto/status.h (a test checks they agree).
CREATE TYPE parallax.status AS ENUM (
    'ok', 'timeout', 'refused', 'unreachable', 'local_error', 'protocol_error', 'app_error',
    'tls_error');

CREATE TYPE parallax.target_role AS ENUM ('web', 'mail', 'dns', 'router', 'host');

CREATE TABLE parallax.agents (
    id            serial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    country       text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    asn           bigint CHECK (asn BETWEEN 0 AND 4294967295),
    public_key    text NOT NULL UNIQUE CHECK (length(public_key) = 40),
    enabled       boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen     timestamptz,
    agent_version text
);
COMMENT ON TABLE parallax.agents IS 'Vantages. An agent is known by its CURVE public key; only enabled agents may connect.';

CREATE TABLE parallax.targets (
    id         serial PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    address    inet NOT NULL CHECK (masklen(address) = CASE family(address) WHEN 4 THEN 32 ELSE 128 END),
    group_name text,
    role       parallax.target_role NOT NULL DEFAULT 'host',
    control    boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON COLUMN parallax.targets.control IS 'A control target: a stable host outside the watched networks whose results measure the vantage itself.';

CREATE TABLE parallax.probes (
    id         bigserial PRIMARY KEY,
    target_id  integer NOT NULL REFERENCES parallax.targets (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('icmp', 'tcp', 'http', 'https', 'dns', 'smtp', 'trace')),
    spec       text NOT NULL CHECK (spec = kind OR spec LIKE kind || ':%'),
    interval_s integer NOT NULL DEFAULT 60 CHECK (interval_s BETWEEN 1 AND 86400),
    timeout_ms integer NOT NULL DEFAULT 5000 CHECK (timeout_ms BETWEEN 1 AND 600000),
    UNIQUE (target_id, spec)
);

-- The coordinator's public key and the endpoint agents should connect to, written by the
-- coordinator on start so `parallaxctl agent add` can write complete agent configs.
CREATE TABLE parallax.coordinator (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    public_key text NOT NULL CHECK (length(public_key) = 40),
    endpoint   text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Results have no foreign keys on purpose: they are evidence and outlive the configuration
-- (a probe removed while an agent was cut off must not make its spooled results unstorable).
CREATE TABLE parallax.results (
    ts          timestamptz NOT NULL,
    agent_id    integer NOT NULL,
    probe_id    bigint NOT NULL,
    status      parallax.status NOT NULL,
    rtt_ms      double precision,
    app_code    integer,
    icmp_type   smallint,
    icmp_code   smallint,
    icmp_from   inet,
    message     text,
    control     boolean NOT NULL DEFAULT false,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, probe_id, ts)
) PARTITION BY RANGE (ts);
COMMENT ON COLUMN parallax.results.ts IS 'Scheduled start of the probe run, by the agent''s clock (UTC).';

-- One daily partition per UTC day, made on demand by the ingest.
CREATE FUNCTION parallax.ensure_partition(day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'results_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass('parallax.' || part) IS NULL THEN
        EXECUTE format('CREATE TABLE parallax.%I PARTITION OF parallax.results '
                       'FOR VALUES FROM (%L) TO (%L)', part,
                       day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
    END IF;
END $$;

-- Every batch ever stored, recorded in the same transaction as its rows: a resent batch is
-- found here, acknowledged and not stored again.
CREATE TABLE parallax.batches (
    agent_id    integer NOT NULL REFERENCES parallax.agents (id) ON DELETE CASCADE,
    stream      bigint NOT NULL,
    seq         bigint NOT NULL,
    results     integer NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, stream, seq)
);

-- Readable results: names, not ids.
CREATE VIEW parallax.result_view AS
SELECT r.ts,
       a.name       AS agent,
       a.country    AS agent_country,
       t.name       AS target,
       t.address,
       t.group_name,
       t.role,
       p.kind,
       p.spec,
       r.status,
       r.rtt_ms,
       r.app_code,
       r.icmp_type,
       r.icmp_code,
       r.icmp_from,
       r.message,
       r.control,
       r.received_at
FROM parallax.results r
LEFT JOIN parallax.agents a ON a.id = r.agent_id
LEFT JOIN parallax.probes p ON p.id = r.probe_id
LEFT JOIN parallax.targets t ON t.id = p.target_id;

-- What every agent runs. phase_ms is a function of the target's group (of the target alone
-- when it has none), so every vantage probes a target in the same short window of each
-- round, and a group's targets together: a group's bins then judge one snapshot of the
-- group, and they are complete, and merged, soon after that window instead of at the end
-- of the bin.
CREATE VIEW parallax.schedule_view AS
SELECT p.id AS probe_id,
       t.name AS target,
       host(t.address) AS address,
       p.spec,
       p.interval_s,
       (('x' || substr(md5(coalesce(t.group_name, t.name)), 1, 8))::bit(32)::bigint % (p.interval_s * 1000))::integer AS phase_ms,
       p.timeout_ms,
       t.control
FROM parallax.probes p
JOIN parallax.targets t ON t.id = p.target_id;

-- Changes that the coordinator must act on at once are announced with NOTIFY, so it needs no
-- polling loop: agent changes update its allow-list, probe/target changes the schedules.
CREATE FUNCTION parallax.notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER agents_notify AFTER INSERT OR DELETE OR UPDATE OF enabled, public_key ON parallax.agents
    FOR EACH STATEMENT EXECUTE FUNCTION parallax.notify_change('parallax_agents');
CREATE TRIGGER targets_notify AFTER INSERT OR UPDATE OR DELETE ON parallax.targets
    FOR EACH STATEMENT EXECUTE FUNCTION parallax.notify_change('parallax_schedule');
CREATE TRIGGER probes_notify AFTER INSERT OR UPDATE OR DELETE ON parallax.probes
    FOR EACH STATEMENT EXECUTE FUNCTION parallax.notify_change('parallax_schedule');
