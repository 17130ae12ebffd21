-- 008_target_allow_internal: the operator's leave for a target the agents' deny-list has.
-- Agents do not probe loopback, link-local, multicast or cloud metadata addresses
-- (agent/target_deny.h): one mistyped or stolen row must not aim every vantage at its own host
-- or its provider's metadata service (issue 16). A target the operator means to probe anyway
-- says so here (`parallaxctl target add --allow-internal`); the schedule carries it to the
-- agents (Probe.allow_internal).
-- Applied by `parallaxctl db migrate` inside one transaction.

ALTER TABLE parallax.targets ADD COLUMN allow_internal boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN parallax.targets.allow_internal IS
    'The agents probe this target though its address is on their deny-list (loopback, link-local, multicast, cloud metadata services).';
