-- 012_probe_requests: one-off probe requests (issue 18, "traces when things break"). When a
-- target turns bad or a group's stage rises, the coordinator asks every healthy vantage for
-- one trace to the affected targets (the wire's ProbeRequest); the result comes back as an
-- ordinary result with detail.request = the request's id. Functions and views in
-- schema/definitions/46_probe_requests.sql. Applied by `parallaxctl db migrate` inside one
-- transaction.

-- What a request runs. Never in a schedule (schedule_view reads parallax.probes only) and never
-- in a verdict (the merge reads probes through parallax.probes; the vantage bins leave these
-- ids out). Ids come from parallax.probes' own sequence, so a result's probe_id names one
-- probe of either table, and the ingest's check that an id was issued holds for both.
CREATE TABLE parallax.request_probes (
    id         bigint PRIMARY KEY DEFAULT nextval(pg_get_serial_sequence('parallax.probes', 'id')::regclass),
    target_id  integer NOT NULL REFERENCES parallax.targets (id) ON DELETE CASCADE,
    spec       text NOT NULL,
    timeout_ms integer NOT NULL CHECK (timeout_ms BETWEEN 1 AND 600000),
    UNIQUE (target_id, spec)
);
COMMENT ON TABLE parallax.request_probes IS
    'Probes run only on request (parallax.probe_requests): never scheduled, never in a verdict; ids from the probes sequence.';

-- One request to one agent. outage_id: the outage it was asked for (set later when the
-- outage opened after the request, from the bin that turned bad). No foreign keys to the
-- outage or the probe: requests are evidence like results, and outlive what retention removes.
CREATE TABLE parallax.probe_requests (
    id          bigserial PRIMARY KEY,
    agent_id    integer NOT NULL REFERENCES parallax.agents (id) ON DELETE CASCADE,
    target_id   integer NOT NULL REFERENCES parallax.targets (id) ON DELETE CASCADE,
    probe_id    bigint NOT NULL,
    outage_id   bigint,
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    answered_at timestamptz
);
CREATE INDEX probe_requests_agent_target ON parallax.probe_requests (agent_id, target_id, created_at);
CREATE INDEX probe_requests_created ON parallax.probe_requests (created_at);
CREATE INDEX probe_requests_open ON parallax.probe_requests (created_at) WHERE answered_at IS NULL;
COMMENT ON TABLE parallax.probe_requests IS
    'One-off probe requests to agents (the wire''s ProbeRequest): why (reason, outage_id), when made, sent (NULL: the agent had no session: expired) and answered (its result stored).';
