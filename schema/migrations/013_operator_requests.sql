-- 013_operator_requests: one-off probes an operator asks an agent for (issue 18,
-- `parallaxctl discover --via AGENT`: the zone's DNS lookups made from the agent's vantage).
-- They travel as the coordinator's own requests do (the wire's ProbeRequest, 012), but they
-- aim at an address that need not be a target (the DNS server the agent asks), and they are
-- made by parallaxctl, not by the merge: the merge thread finds them waiting (queued_at NULL)
-- and hands them to the coordinator's loop. Functions in 46_probe_requests.sql. Applied by
-- `parallaxctl db migrate` inside one transaction.

-- A request probe aims at a target or, for an operator's request, at a bare address.
ALTER TABLE parallax.request_probes
    ALTER COLUMN target_id DROP NOT NULL,
    ADD COLUMN address inet,
    ADD CONSTRAINT request_probes_aim CHECK ((target_id IS NULL) <> (address IS NULL)),
    -- The same floor as a scheduled probe's (007): the spec can be sent to an agent.
    ADD CONSTRAINT request_probes_spec_sendable
        CHECK (octet_length(spec) <= 1023 AND spec !~ '[[:cntrl:]]');
CREATE UNIQUE INDEX request_probes_address_spec ON parallax.request_probes (address, spec)
    WHERE target_id IS NULL;
COMMENT ON COLUMN parallax.request_probes.address IS
    'For an operator''s request (target_id NULL): the address the probe runs against.';

-- An operator's request has no target; queued_at says when the merge thread handed it to the
-- coordinator's loop (the coordinator's own requests are handed over as they are made).
ALTER TABLE parallax.probe_requests
    ALTER COLUMN target_id DROP NOT NULL,
    ADD COLUMN queued_at timestamptz;
UPDATE parallax.probe_requests SET queued_at = created_at;
CREATE INDEX probe_requests_waiting ON parallax.probe_requests (created_at) WHERE queued_at IS NULL;
COMMENT ON COLUMN parallax.probe_requests.queued_at IS
    'When the merge thread handed the request to the coordinator''s loop to send (NULL: an operator''s request still waiting).';
