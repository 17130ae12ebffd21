-- 009_maintenance: maintenance windows and silences (issue 17).
-- A window names one agent (its vantage), one target, or one group (by name: a group exists
-- while a target names it) and the time it covers. A vantage in a window is left out of the
-- target quorums and gets no vantage outage; a target or group in a window is still judged
-- and recorded, its evidence and outages flagged "maintenance" (notifications stay quiet).
-- Managed with `parallaxctl maintenance`; read through parallax.maintenance_windows; asked
-- with parallax.in_maintenance() (schema/definitions/35_maintenance.sql).
-- Applied by `parallaxctl db migrate` inside one transaction.

-- A vantage bin inside a window on its agent is neither healthy nor bad: its own state,
-- ranked with no_data (parallax.merge_rank), bad NULL.
ALTER TYPE parallax.vantage_health ADD VALUE 'maintenance' AFTER 'no_data';

CREATE TABLE parallax.maintenance (
    id         serial PRIMARY KEY,
    agent_id   integer REFERENCES parallax.agents ON DELETE CASCADE,
    target_id  integer REFERENCES parallax.targets ON DELETE CASCADE,
    group_name text,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    reason     text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at),
    CHECK (num_nonnulls(agent_id, target_id, group_name) = 1)
);
-- The merge asks per subject and time range: one index per kind of subject.
CREATE INDEX maintenance_agent ON parallax.maintenance (agent_id, starts_at) WHERE agent_id IS NOT NULL;
CREATE INDEX maintenance_target ON parallax.maintenance (target_id, starts_at) WHERE target_id IS NOT NULL;
CREATE INDEX maintenance_group ON parallax.maintenance (group_name, starts_at) WHERE group_name IS NOT NULL;

COMMENT ON TABLE parallax.maintenance IS
    'Maintenance windows: [starts_at, ends_at) on one agent (its vantage), one target, or one group (by name).';
COMMENT ON COLUMN parallax.maintenance.group_name IS
    'A window on a group covers the group and every target whose group_name it is.';
