-- 55_notify: outage events to tell (issue 17; docs/notifications.md). A trigger on
-- outage_events writes each event to notify_events in the verdict's own transaction, so an
-- event exists exactly when the verdict that caused it was committed; notify_route fans the
-- events out to the receivers whose route matches; the sender (parallax-notifier) delivers
-- them and calls notify_alerts for Alertmanager's re-sends.
-- Installed by every `parallaxctl db migrate` after the migrations (CREATE OR REPLACE).

-- The stages of each scope (a route's min_stage is compared within its own scope).
CREATE OR REPLACE FUNCTION parallax.notify_stage_scopes(stage text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE stage
    WHEN 'impaired' THEN ARRAY['vantage'] WHEN 'offline' THEN ARRAY['vantage']
    WHEN 'degraded' THEN ARRAY['target', 'group']
    WHEN 'partial' THEN ARRAY['target'] WHEN 'down' THEN ARRAY['target']
    WHEN 'servers_offline' THEN ARRAY['group'] WHEN 'dns_down' THEN ARRAY['group']
    WHEN 'blackout' THEN ARRAY['group'] END;

-- How long after an outage's start (or end) the merge normally sees it: a run of bad (good)
-- bins of the widest kind, their grace, and a bin for the vantages. An event about a time
-- further back than this came from late results: it is "late".
CREATE OR REPLACE FUNCTION parallax.notify_late_after() RETURNS interval
LANGUAGE plpgsql STABLE AS $$
DECLARE
    s parallax.merge_settings := parallax.merge_settings_now();
    w integer := greatest(s.group_bin_s, s.vantage_bin_s,
                          extract(epoch FROM parallax.widest_bin())::integer);
BEGIN
    RETURN (greatest(s.open_after, s.close_after) + 2) * w * interval '1 second'
           + parallax.merge_grace(w, s) + parallax.merge_grace(s.vantage_bin_s, s);
END $$;

-- The time the verdicts are about: merge_run's p_now while it runs (a merge of the past, in
-- tests and after a pause), else the transaction's.
CREATE OR REPLACE FUNCTION parallax.notify_now() RETURNS timestamptz
LANGUAGE sql STABLE
RETURN coalesce(nullif(current_setting('parallax.merge_now', true), '')::timestamptz, now());

-- The notify_events row of one event of an outage (an id drawn, the time now).
CREATE OR REPLACE FUNCTION parallax.notify_row(
    p_id bigint, p_scope text, p_subject_id integer, p_subject text, p_stage text,
    p_started timestamptz, p_ended timestamptz, p_detail jsonb, p_event text, p_late boolean,
    p_any_window boolean, p_now timestamptz)
RETURNS parallax.notify_events
LANGUAGE sql VOLATILE
AS $$
SELECT nextval('parallax.notify_events_id_seq'), p_id || ':' || p_event || ':' || p_stage, p_id, p_event,
       p_scope, p_subject_id, p_subject,
       CASE p_scope WHEN 'target' THEN t.group_name WHEN 'group' THEN p_subject END,
       CASE WHEN p_scope = 'target' THEN t.role::text END,
       p_stage, p_started, p_ended, p_late,
       coalesce((p_detail ->> 'maintenance')::boolean, false)
           OR (p_any_window AND parallax.in_maintenance(p_scope, p_subject_id, p_started,
                                                        coalesce(p_ended, greatest(p_now, p_started)))),
       p_detail, clock_timestamp(), NULL::timestamptz
FROM (SELECT 1) one
LEFT JOIN parallax.targets t ON p_scope = 'target' AND t.id = p_subject_id
$$;

-- The outbox's triggers, one call per statement: the merge writes a whole bin's outages in
-- one statement, and what every event needs (the time, the late horizon, whether any
-- maintenance window exists) is worked out once. An UPDATE that only extends outages (their
-- detail grows every bin) writes nothing.
CREATE OR REPLACE FUNCTION parallax.notify_outages_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    now_ts timestamptz;
    late_before timestamptz;
    any_window boolean;
BEGIN
    -- Retention removing old, ended outages is not news.
    IF current_setting('parallax.notify_off', true) = 'on' THEN
        RETURN NULL;
    END IF;
    now_ts := parallax.notify_now();
    late_before := now_ts - parallax.notify_late_after();
    any_window := EXISTS (SELECT 1 FROM parallax.maintenance);
    IF TG_OP = 'INSERT' THEN
        INSERT INTO parallax.notify_events
        SELECT r.* FROM notify_new o
        CROSS JOIN LATERAL (VALUES (1, 'opened', o.ended_at IS NOT NULL OR o.started_at < late_before),
                                   (2, CASE WHEN o.ended_at IS NOT NULL THEN 'closed' END, true)) x (n, event, late)
        CROSS JOIN LATERAL parallax.notify_row(o.id, o.scope, o.subject_id, o.subject, o.stage, o.started_at,
                                               o.ended_at, o.detail, x.event, x.late, any_window, now_ts) r
        WHERE x.event IS NOT NULL
        ORDER BY o.id, x.n
        ON CONFLICT (key) DO NOTHING;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO parallax.notify_events
        SELECT r.* FROM notify_old o
        CROSS JOIN LATERAL parallax.notify_row(o.id, o.scope, o.subject_id, o.subject, o.stage, o.started_at,
                                               o.ended_at, o.detail, 'withdrawn', true, any_window, now_ts) r
        ORDER BY o.id
        ON CONFLICT (key) DO NOTHING;
    ELSE
        INSERT INTO parallax.notify_events
        SELECT r.* FROM notify_new o
        JOIN notify_old b ON b.id = o.id
        CROSS JOIN LATERAL (VALUES
            (1, CASE WHEN parallax.merge_rank(o.stage) > parallax.merge_rank(b.stage) THEN 'stage' END,
             coalesce((o.detail -> 'first_reached' ->> o.stage)::timestamptz < late_before, false)),
            (2, CASE WHEN b.ended_at IS NULL AND o.ended_at IS NOT NULL THEN 'closed'
                     WHEN b.ended_at IS NOT NULL AND o.ended_at IS NULL THEN 'reopened' END,
             o.ended_at IS NULL OR o.ended_at < late_before)) x (n, event, late)
        CROSS JOIN LATERAL parallax.notify_row(o.id, o.scope, o.subject_id, o.subject, o.stage, o.started_at,
                                               o.ended_at, o.detail, x.event, x.late, any_window, now_ts) r
        WHERE x.event IS NOT NULL
        ORDER BY o.id, x.n
        ON CONFLICT (key) DO NOTHING;
    END IF;
    IF FOUND THEN
        -- Wakes the sender when the transaction commits.
        PERFORM pg_notify('parallax_notify', '');
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER notify_outages_inserted AFTER INSERT ON parallax.outage_events
    REFERENCING NEW TABLE AS notify_new FOR EACH STATEMENT EXECUTE FUNCTION parallax.notify_outages_changed();
CREATE OR REPLACE TRIGGER notify_outages_updated AFTER UPDATE ON parallax.outage_events
    REFERENCING OLD TABLE AS notify_old NEW TABLE AS notify_new
    FOR EACH STATEMENT EXECUTE FUNCTION parallax.notify_outages_changed();
CREATE OR REPLACE TRIGGER notify_outages_deleted AFTER DELETE ON parallax.outage_events
    REFERENCING OLD TABLE AS notify_old FOR EACH STATEMENT EXECUTE FUNCTION parallax.notify_outages_changed();

-- Whether receiver r's route takes event e.
CREATE OR REPLACE FUNCTION parallax.notify_matches(e parallax.notify_events, r parallax.notify_receivers)
RETURNS boolean
LANGUAGE sql STABLE
RETURN e.scope <> 'test'
   AND (r.scopes IS NULL OR e.scope = ANY (r.scopes))
   AND (r.group_name IS NULL OR r.group_name = e.group_name)
   AND (r.min_stage IS NULL
        OR (e.scope = ANY (parallax.notify_stage_scopes(r.min_stage))
            AND parallax.merge_rank(e.stage) >= parallax.merge_rank(r.min_stage)));

-- Why event e is not to be sent to receiver r (NULL: it is). An outage is told whole or not
-- at all: a later event follows the decision made for the outage's earlier one (a closed
-- outage whose opening was sent is told closed, even if a window began since). Otherwise:
-- a subject in maintenance is not told; nor is a target while an outage of its group
-- overlaps it, unless the route asks for them ("one alert for a country going dark").
CREATE OR REPLACE FUNCTION parallax.notify_suppressed(e parallax.notify_events, r parallax.notify_receivers)
RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    earlier parallax.notify_deliveries;
BEGIN
    SELECT d.* INTO earlier
    FROM parallax.notify_events x
    JOIN parallax.notify_deliveries d ON d.event_id = x.id AND d.receiver_id = r.id
    WHERE x.outage_id = e.outage_id AND x.id < e.id AND x.event <> 'test'
    ORDER BY x.id DESC LIMIT 1;
    IF FOUND THEN
        RETURN CASE WHEN earlier.state = 'suppressed' THEN earlier.reason END;
    END IF;
    IF e.maintenance THEN
        RETURN 'maintenance';
    END IF;
    IF e.scope = 'target' AND NOT r.with_group_targets AND e.group_name IS NOT NULL
       AND EXISTS (SELECT 1 FROM parallax.outage_events g
                   WHERE g.scope = 'group' AND g.subject = e.group_name
                     AND g.started_at < coalesce(e.ended_at, 'infinity')
                     AND coalesce(g.ended_at, 'infinity') > e.started_at) THEN
        RETURN 'group_outage';
    END IF;
    RETURN NULL;
END $$;

-- Whether the group of a target outage that started at p_started has been judged far enough
-- to know if a group outage covers it: the merge has the group bin in which a group outage
-- starting with the target's would have opened (groups' bins are merged with the outages
-- they open, in one transaction). A group the merge does not know has nothing to wait for.
CREATE OR REPLACE FUNCTION parallax.notify_group_judged(p_group text, p_started timestamptz,
                                                        s parallax.merge_settings)
RETURNS boolean
LANGUAGE sql STABLE
RETURN NOT EXISTS (SELECT 1 FROM parallax.merge_groups g WHERE g.name = p_group)
    OR EXISTS (SELECT 1 FROM parallax.merge_groups g
               JOIN parallax.bins b ON b.scope = 'group' AND b.subject_id = g.id
               WHERE g.name = p_group
                 AND b.bin_start >= parallax.bin_floor(p_started, s.group_bin_s)
                                    + (s.open_after - 1) * s.group_bin_s * interval '1 second');

-- Fans the events not yet routed out to the receivers whose route takes them, oldest first
-- (at most p_limit of them), as pending or suppressed deliveries, and returns how many events it
-- routed. A target's opening waits until its group has been judged far enough
-- (notify_group_judged), or at most twice the time that takes as the settings make it:
-- so a country going dark is one alert, not one per server, and a stuck group merge holds
-- no target alert for long. Later events of an outage wait for its opening. Concurrent
-- callers do not wait: all but one return 0.
CREATE OR REPLACE FUNCTION parallax.notify_route(p_now timestamptz DEFAULT now(), p_limit integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    s parallax.merge_settings := parallax.merge_settings_now();
    hold_max interval;
    e parallax.notify_events;
    held bigint[] := '{}';
    routed integer := 0;
BEGIN
    -- "PXNOTE" read as a big-endian number.
    IF NOT pg_try_advisory_xact_lock(88340200494917) THEN
        RETURN 0;
    END IF;
    hold_max := 2 * ((s.open_after + 1) * s.group_bin_s * interval '1 second'
                     + parallax.merge_grace(s.group_bin_s, s))
                + parallax.widest_bin() + parallax.merge_grace(s.vantage_bin_s, s);
    -- Held events do not count against p_limit: a thousand target openings waiting for their
    -- groups must not keep the groups' own events behind them.
    FOR e IN SELECT * FROM parallax.notify_events WHERE routed_at IS NULL ORDER BY id LOOP
        EXIT WHEN routed >= p_limit;
        CONTINUE WHEN e.outage_id = ANY (held);
        IF e.scope = 'target' AND e.event = 'opened' AND e.group_name IS NOT NULL AND NOT e.maintenance
           AND e.created_at + hold_max > p_now
           AND NOT parallax.notify_group_judged(e.group_name, e.started_at, s) THEN
            held := held || e.outage_id;
            CONTINUE;
        END IF;
        INSERT INTO parallax.notify_deliveries (event_id, receiver_id, state, reason)
        SELECT e.id, r.id, CASE WHEN x.reason IS NULL THEN 'pending' ELSE 'suppressed' END, x.reason
        FROM parallax.notify_receivers r
        CROSS JOIN LATERAL (SELECT parallax.notify_suppressed(e, r) AS reason) x
        WHERE r.enabled AND parallax.notify_matches(e, r)
        ON CONFLICT DO NOTHING;
        UPDATE parallax.notify_events SET routed_at = p_now WHERE id = e.id;
        routed := routed + 1;
    END LOOP;
    RETURN routed;
END $$;

-- For Alertmanager's re-sends: the outages still open whose events went (or go) to receiver
-- p_receiver, as their latest event routed there says them.
CREATE OR REPLACE FUNCTION parallax.notify_alerts(p_receiver integer)
RETURNS TABLE (outage_id bigint, key text, scope text, subject text, group_name text, role text, stage text,
               started_at timestamptz, ended_at timestamptz, detail jsonb)
LANGUAGE sql STABLE
AS $$
SELECT x.outage_id, x.key, x.scope, x.subject, x.group_name, x.role, x.stage, x.started_at, x.ended_at, x.detail
FROM (SELECT DISTINCT ON (e.outage_id) e.*, d.state
      FROM parallax.notify_deliveries d
      JOIN parallax.notify_events e ON e.id = d.event_id
      WHERE d.receiver_id = p_receiver AND e.event <> 'test'
      ORDER BY e.outage_id, e.id DESC) x
WHERE x.state <> 'suppressed' AND x.event NOT IN ('closed', 'withdrawn')
  AND EXISTS (SELECT 1 FROM parallax.outage_events o WHERE o.id = x.outage_id AND o.ended_at IS NULL)
$$;
