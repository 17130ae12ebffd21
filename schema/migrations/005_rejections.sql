-- 005_rejections: what the coordinator refused from each agent, where operators see it.
-- A batch rejected whole (it breaks a rule no retry can mend) and the results and gaps refused
-- at the door (stamped outside the window of time around their receipt that the coordinator
-- accepts: parallax-coordinator.conf(5), accept_past_s / accept_ahead_s) were only in the
-- coordinator's log and the agent's. One row per agent and kind, so a hostile or broken agent
-- refused at every batch adds to a count, never rows (issue 16).
-- Applied by `parallaxctl db migrate` inside one transaction.

CREATE TABLE parallax.rejections (
    agent_id   integer NOT NULL REFERENCES parallax.agents (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('batch', 'result', 'gap')),
    count      bigint NOT NULL CHECK (count > 0),
    first_at   timestamptz NOT NULL DEFAULT now(),
    last_at    timestamptz NOT NULL DEFAULT now(),
    reason     text NOT NULL,
    PRIMARY KEY (agent_id, kind)
);
COMMENT ON TABLE parallax.rejections IS
    'What the coordinator refused from each agent: whole batches (kind batch) and results or gaps refused at the door (kind result, gap), counted since first_at; reason is the latest.';
