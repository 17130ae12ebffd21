-- 10_core: the tables' own machinery: daily result partitions, the result and schedule views,
-- change notifications to the coordinator, and the triggers that keep probes and agents consistent.
-- Installed by every `parallaxctl db migrate` after the migrations (CREATE OR REPLACE), in
-- file order, in one transaction with check_function_bodies off. A change CREATE OR REPLACE
-- cannot make (a view's columns, a function's result type) needs a DROP in a new migration.

-- One daily partition per UTC day, made on demand by the ingest.
CREATE OR REPLACE FUNCTION parallax.ensure_partition(day date) RETURNS void
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

CREATE OR REPLACE VIEW parallax.result_view AS
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
       r.received_at,
       r.detail
FROM parallax.results r
LEFT JOIN parallax.agents a ON a.id = r.agent_id
LEFT JOIN parallax.probes p ON p.id = r.probe_id
LEFT JOIN parallax.targets t ON t.id = p.target_id;

-- What every agent runs. phase_ms is a function of the target's group (of the target alone
-- when it has none), so every vantage probes a target in the same short window of each
-- round, and a group's targets together: a group's bins then judge one snapshot of the
-- group, and they are complete, and merged, soon after that window instead of at the end
-- of the bin.
CREATE OR REPLACE VIEW parallax.schedule_view AS
SELECT p.id AS probe_id,
       t.name AS target,
       host(t.address) AS address,
       p.spec,
       p.interval_s,
       (('x' || substr(md5(coalesce(t.group_name, t.name)), 1, 8))::bit(32)::bigint % (p.interval_s * 1000))::integer AS phase_ms,
       p.timeout_ms,
       t.control,
       t.allow_internal
FROM parallax.probes p
JOIN parallax.targets t ON t.id = p.target_id;

-- Changes that the coordinator must act on at once are announced with NOTIFY, so it needs no
-- polling loop: agent changes update its allow-list, probe/target changes the schedules.
CREATE OR REPLACE FUNCTION parallax.notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER agents_notify AFTER INSERT OR DELETE OR UPDATE OF enabled, public_key ON parallax.agents
    FOR EACH STATEMENT EXECUTE FUNCTION parallax.notify_change('parallax_agents');

CREATE OR REPLACE TRIGGER targets_notify AFTER INSERT OR UPDATE OR DELETE ON parallax.targets
    FOR EACH STATEMENT EXECUTE FUNCTION parallax.notify_change('parallax_schedule');

CREATE OR REPLACE TRIGGER probes_notify AFTER INSERT OR UPDATE OR DELETE ON parallax.probes
    FOR EACH STATEMENT EXECUTE FUNCTION parallax.notify_change('parallax_schedule');

CREATE OR REPLACE FUNCTION parallax.probes_default_timeout() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF NEW.timeout_ms IS NULL THEN
        NEW.timeout_ms := least(5000, NEW.interval_s * 500);
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER probes_default_timeout BEFORE INSERT ON parallax.probes
    FOR EACH ROW EXECUTE FUNCTION parallax.probes_default_timeout();

-- Keeps disabled_at with enabled: set when an agent is disabled (unless the statement sets it
-- itself, as a replay of history does), cleared when it is enabled again.
CREATE OR REPLACE FUNCTION parallax.agents_track_disabled() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    IF NEW.enabled THEN
        NEW.disabled_at := NULL;
    ELSIF TG_OP = 'INSERT' OR OLD.enabled THEN
        NEW.disabled_at := coalesce(NEW.disabled_at, now());
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE TRIGGER agents_track_disabled BEFORE INSERT OR UPDATE OF enabled ON parallax.agents
    FOR EACH ROW EXECUTE FUNCTION parallax.agents_track_disabled();
