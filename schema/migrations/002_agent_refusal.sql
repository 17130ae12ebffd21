-- 002_agent_refusal: why the coordinator refuses an agent's messages, when it speaks another
-- protocol version than the coordinator (docs/upgrading.md): agents and coordinator are
-- upgraded together, and until then `parallaxctl agent list`, `agent show` and `status` say
-- which agent is refused and why.
-- Applied by `parallaxctl db migrate` inside one transaction.

ALTER TABLE parallax.agents
    ADD COLUMN refused    text,
    ADD COLUMN refused_at timestamptz;
COMMENT ON COLUMN parallax.agents.refused IS
    'Why the coordinator refused the agent''s latest messages (it speaks another protocol version), naming both versions; NULL once a message is accepted.';
COMMENT ON COLUMN parallax.agents.refused_at IS
    'When the refusal was last recorded: the coordinator writes it at most once a minute while the agent goes on sending.';

-- agent_status() gains the refusal in its result columns, which CREATE OR REPLACE cannot do:
-- schema/definitions/70_status.sql makes it again (a fresh database has none yet).
DROP FUNCTION IF EXISTS parallax.agent_status(interval, timestamptz);
