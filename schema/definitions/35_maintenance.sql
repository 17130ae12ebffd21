-- 35_maintenance: maintenance windows (migration 009): the question the merge and the
-- notifications ask, and the readable view.
-- Installed by every `parallaxctl db migrate` after the migrations (CREATE OR REPLACE), in
-- file order, in one transaction with check_function_bodies off. A change CREATE OR REPLACE
-- cannot make (a view's columns, a function's result type) needs a DROP in a new migration.

-- Whether a window covers some of [p_from, p_to) (p_to NULL: open-ended) for a subject of a
-- scope as in parallax.outage_events: 'vantage' (agents.id: a window on the agent),
-- 'target' (targets.id: a window on the target or on its group), 'group' (merge_groups.id:
-- a window on the group's name). Each branch is one probe of a partial index. (The merge
-- writes the same conditions out in its statements: called once a bin, a SQL function that
-- reads a table costs far more than its probe.)
CREATE OR REPLACE FUNCTION parallax.in_maintenance(p_scope text, p_subject_id integer,
                                                   p_from timestamptz, p_to timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT CASE p_scope
    WHEN 'vantage' THEN EXISTS (
        SELECT 1 FROM parallax.maintenance m
        WHERE m.agent_id = p_subject_id AND m.ends_at > p_from
          AND (p_to IS NULL OR m.starts_at < p_to))
    WHEN 'target' THEN EXISTS (
        SELECT 1 FROM parallax.maintenance m
        WHERE m.target_id = p_subject_id AND m.ends_at > p_from
          AND (p_to IS NULL OR m.starts_at < p_to))
        OR EXISTS (
        SELECT 1 FROM parallax.maintenance m
        JOIN parallax.targets t ON t.group_name = m.group_name
        WHERE t.id = p_subject_id AND m.ends_at > p_from
          AND (p_to IS NULL OR m.starts_at < p_to))
    WHEN 'group' THEN EXISTS (
        SELECT 1 FROM parallax.maintenance m
        JOIN parallax.merge_groups g ON g.name = m.group_name
        WHERE g.id = p_subject_id AND m.ends_at > p_from
          AND (p_to IS NULL OR m.starts_at < p_to))
    ELSE false END
$$;

COMMENT ON FUNCTION parallax.in_maintenance(text, integer, timestamptz, timestamptz) IS
    'Whether a maintenance window overlaps [p_from, p_to) for a vantage (agent id), target (target id; its group''s windows too) or group (merge_groups id); p_to NULL: open-ended.';

-- Whether any window at all overlaps [p_from, p_to): asked once per merge step, so that
-- without windows then (nearly always) the merge checks nothing per bin.
CREATE OR REPLACE FUNCTION parallax.maintenance_any(p_from timestamptz, p_to timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT EXISTS (SELECT 1 FROM parallax.maintenance m WHERE m.ends_at > p_from AND m.starts_at < p_to)
$$;

-- The windows, readable: what each covers, and whether it is in force now.
CREATE OR REPLACE VIEW parallax.maintenance_windows AS
SELECT m.id,
       CASE WHEN m.agent_id IS NOT NULL THEN 'vantage'
            WHEN m.target_id IS NOT NULL THEN 'target' ELSE 'group' END AS scope,
       coalesce(a.name, t.name, m.group_name) AS subject,
       m.starts_at, m.ends_at, m.reason,
       m.starts_at <= now() AND m.ends_at > now() AS active,
       m.created_at, m.agent_id, m.target_id, m.group_name
FROM parallax.maintenance m
LEFT JOIN parallax.agents a ON a.id = m.agent_id
LEFT JOIN parallax.targets t ON t.id = m.target_id;

COMMENT ON VIEW parallax.maintenance_windows IS
    'Maintenance windows: scope vantage|target|group, subject (agent, target or group name), [starts_at, ends_at), reason, active (in force now).';

-- A window added, moved or removed changes the verdicts of the bins it covers: they are
-- queued again (as `settings set --remerge-since` does), from the start of the widest target
-- bin that may overlap it. Only merged bins are: a bin not merged yet reads the windows when
-- it is. So the span is cut to the stored bins (the oldest to the newest of any scope, by
-- bins_time), and a window far in the past or the future costs nothing.
CREATE OR REPLACE FUNCTION parallax.maintenance_remerge() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    widest interval := parallax.widest_bin();
    merged_from timestamptz := least(
        (SELECT min(b.bin_start) FROM parallax.bins b WHERE b.scope = 'vantage'),
        (SELECT min(b.bin_start) FROM parallax.bins b WHERE b.scope = 'target'),
        (SELECT min(b.bin_start) FROM parallax.bins b WHERE b.scope = 'group'));
    merged_to timestamptz := greatest(
        (SELECT max(b.bin_start) FROM parallax.bins b WHERE b.scope = 'vantage'),
        (SELECT max(b.bin_start) FROM parallax.bins b WHERE b.scope = 'target'),
        (SELECT max(b.bin_start) FROM parallax.bins b WHERE b.scope = 'group')) + widest;
    span record;
    lo timestamptz;
    hi timestamptz;
BEGIN
    IF merged_from IS NULL THEN
        RETURN NULL;
    END IF;
    FOR span IN
        SELECT o.starts_at, o.ends_at FROM (SELECT OLD.starts_at, OLD.ends_at) o WHERE TG_OP <> 'INSERT'
        UNION ALL
        SELECT n.starts_at, n.ends_at FROM (SELECT NEW.starts_at, NEW.ends_at) n WHERE TG_OP <> 'DELETE'
    LOOP
        lo := greatest(span.starts_at - widest, merged_from);
        hi := least(span.ends_at, merged_to);
        IF lo < hi THEN
            PERFORM parallax.merge_mark(lo, hi);
        END IF;
    END LOOP;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER maintenance_remerge
AFTER INSERT OR DELETE OR UPDATE OF agent_id, target_id, group_name, starts_at, ends_at ON parallax.maintenance
FOR EACH ROW EXECUTE FUNCTION parallax.maintenance_remerge();
