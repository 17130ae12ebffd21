-- 007_ingest_state: what the coordinator knows of each agent's session — online or not, its
-- clock offset and round-trip time, the schedule version it acknowledged — and schedule
-- versions that are persistent and only ever grow, so a plain SELECT shows which version each
-- agent runs, across coordinator restarts. Also counts the gap records of each batch.

ALTER TABLE parallax.agents
    ADD COLUMN online boolean NOT NULL DEFAULT false,
    ADD COLUMN rtt_ms real CHECK (rtt_ms >= 0),
    ADD COLUMN clock_offset_at timestamptz,
    ADD COLUMN schedule_version_acked bigint,
    ADD COLUMN schedule_acked_at timestamptz;
COMMENT ON COLUMN parallax.agents.online IS
    'The agent has been heard from within the coordinator''s session_timeout_s; set false by the coordinator when it falls silent.';
COMMENT ON COLUMN parallax.agents.rtt_ms IS
    'Round-trip time of the heartbeat exchange that best measured the clock offset (NULL: unknown, e.g. an agent that does not echo heartbeat times).';
COMMENT ON COLUMN parallax.agents.clock_offset_at IS 'When clock_offset_ms was last changed.';
COMMENT ON COLUMN parallax.agents.schedule_version_acked IS
    'parallax.schedule_versions.version the agent last said it runs (hello or heartbeat); 0: none.';
COMMENT ON COLUMN parallax.agents.schedule_acked_at IS 'When schedule_version_acked last changed.';

ALTER TABLE parallax.batches ADD COLUMN gaps integer NOT NULL DEFAULT 0 CHECK (gaps >= 0);
COMMENT ON COLUMN parallax.batches.gaps IS 'Gap records stored with the batch (parallax.gaps).';

-- One row per distinct schedule the coordinator has served. The fingerprint is taken over
-- schedule_view, so unchanged probes keep their version across restarts, and any change gets
-- a larger one.
CREATE TABLE parallax.schedule_versions (
    version     bigserial PRIMARY KEY,
    fingerprint text NOT NULL,
    probes      integer NOT NULL CHECK (probes >= 0),
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE parallax.schedule_versions IS 'Schedules served to agents; the largest version is the current one.';

-- The version of the schedule as schedule_view shows it now, making a new one if it changed.
-- Called by the coordinator in the same REPEATABLE READ transaction as its read of
-- schedule_view, so the version names exactly the probes it sends.
CREATE FUNCTION parallax.schedule_version_current() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    fp text;
    n integer;
    latest parallax.schedule_versions;
BEGIN
    SELECT md5(coalesce(string_agg(v::text, E'\n' ORDER BY v.probe_id), '')), count(*)
    INTO fp, n FROM parallax.schedule_view v;
    -- "PXSCHED": two coordinators (a mistake, but possible) must not both add a version.
    PERFORM pg_advisory_xact_lock(88340183752005);
    SELECT * INTO latest FROM parallax.schedule_versions ORDER BY version DESC LIMIT 1;
    IF FOUND AND latest.fingerprint = fp THEN
        RETURN latest.version;
    END IF;
    INSERT INTO parallax.schedule_versions (fingerprint, probes) VALUES (fp, n)
    RETURNING version INTO latest.version;
    RETURN latest.version;
END $$;

-- Records a new clock estimate of an agent (the coordinator calls it only when the estimate
-- moved). The merge places every result of an agent with its current offset, so bins merged
-- with the old one are queued again when the offset moved by p_remerge_ms or more: from when
-- the previous offset was set (at most merge_settings.sweep_max back, widened by the shift)
-- to now. Returns the number of bins queued, or NULL for an unknown agent.
CREATE FUNCTION parallax.agent_clock_set(p_agent integer, p_offset_ms integer, p_rtt_ms real,
                                         p_remerge_ms integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    a parallax.agents;
    shift integer;
    since timestamptz;
BEGIN
    SELECT * INTO a FROM parallax.agents WHERE id = p_agent FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE parallax.agents
    SET clock_offset_ms = p_offset_ms, rtt_ms = p_rtt_ms, clock_offset_at = now()
    WHERE id = p_agent;
    shift := abs(p_offset_ms - coalesce(a.clock_offset_ms, 0));
    IF shift < p_remerge_ms THEN
        RETURN 0;
    END IF;
    since := greatest(coalesce(a.clock_offset_at, a.created_at),
                      now() - (SELECT sweep_max FROM parallax.merge_settings));
    RETURN parallax.merge_mark_agent(p_agent, since - shift * interval '1 millisecond', now(),
                                     a.clock_offset_ms);
END $$;

-- What the coordinator knows of each agent, for operators:
--   SELECT name, online, schedule_version_acked, schedule_current FROM parallax.agent_status_view;
CREATE VIEW parallax.agent_status_view AS
SELECT a.name,
       a.enabled,
       a.online,
       a.last_seen,
       a.agent_version,
       a.clock_offset_ms,
       a.rtt_ms,
       a.clock_offset_at,
       a.schedule_version_acked,
       a.schedule_acked_at,
       cur.version AS schedule_version_current,
       a.schedule_version_acked IS NOT DISTINCT FROM cur.version AS schedule_current
FROM parallax.agents a
CROSS JOIN (SELECT max(version) AS version FROM parallax.schedule_versions) cur;
