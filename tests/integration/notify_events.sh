#!/usr/bin/env bash
# notify_events: every outage event is written to parallax.notify_events once, in the merge's
# own transaction — opened, each worse stage, closed; withdrawn and opened again (late) when
# late results move an outage; nothing for an outage extended bin by bin, for a re-merge that
# changes nothing, for `verify`, or for retention removing old outages — and notify_route
# fans them out as the routes say: scope, group and min-stage filters, a target's outage
# suppressed while its group's covers it (unless the route asks for group targets), a
# subject in maintenance suppressed. The sender is simulated by calling notify_route after
# every merge, as parallax-notifier does when the merge's NOTIFY wakes it.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/data/merge/merge_fx.sh"

# events: "scope subject event stage late maintenance" per event, by scope, subject, id.
events() {
    sql "SELECT coalesce(string_agg(format('%s %s %s %s %s %s', scope, subject, event, stage, late::text, maintenance::text),
                                    E'\n' ORDER BY scope, subject, id), '')
         FROM parallax.notify_events"
}
# deliveries RECEIVER: "scope subject event state reason" per delivery to RECEIVER.
deliveries() {
    sql "SELECT coalesce(string_agg(format('%s %s %s %s %s', e.scope, e.subject, e.event, d.state, coalesce(d.reason, '-')),
                                    E'\n' ORDER BY e.scope, e.subject, e.id), '')
         FROM parallax.notify_deliveries d JOIN parallax.notify_events e ON e.id = d.event_id
         JOIN parallax.notify_receivers r ON r.id = d.receiver_id WHERE r.name = '$1'"
}
receivers() {
    fx "INSERT INTO parallax.notify_receivers (name, kind, url, secret, scopes, group_name, min_stage, with_group_targets) VALUES
        ('all', 'webhook', 'http://127.0.0.1:9/all', 's', NULL, NULL, NULL, false),
        ('targets', 'webhook', 'http://127.0.0.1:9/t', 's', '{target}', NULL, NULL, true),
        ('dark', 'webhook', 'http://127.0.0.1:9/d', 's', '{group}', 'IR', 'dns_down', false),
        ('elsewhere', 'webhook', 'http://127.0.0.1:9/e', 's', NULL, 'XX', NULL, false)"
}
# live K_FROM K_TO: emits and merges bins one at a time, routing after each merge at the
# merge's own time, as a sender running beside the coordinator would.
live() {
    fx "DO \$\$ BEGIN FOR k IN $1 .. $2 LOOP
            PERFORM fx.emit(k, k); PERFORM fx.merge(k);
            PERFORM parallax.notify_route(fx.bin(k + 1) + parallax.merge_grace(60, (SELECT s FROM parallax.merge_settings s)) + interval '1 second');
        END LOOP; END \$\$"
}

fx_scenario "a single server down: one event each, the target's told only to the route that asks"
receivers
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(10, 19, target => 'ir-web2', status => 'refused')"
# ir-web2's results of bins 7..9 come late (below): unknown until then.
fx "SELECT fx.rule(7, 9, target => 'ir-web2', status => 'none')"
live 0 12
# Open now: the group's alert is what Alertmanager is sent, not the target's.
expect_eq "alerts while open" "$(sql "SELECT string_agg(scope || ' ' || subject || ' ' || stage, ',') FROM parallax.notify_alerts((SELECT id FROM parallax.notify_receivers WHERE name = 'all'))")" \
    "group IR servers_offline"
expect_eq "target alerts while open" "$(sql "SELECT string_agg(scope || ' ' || subject, ',') FROM parallax.notify_alerts((SELECT id FROM parallax.notify_receivers WHERE name = 'targets'))")" \
    "target ir-web2"
live 13 30
expect_events "group IR 10 20 servers_offline
target ir-web2 10 20 down"
expect_eq "events" "$(events)" "group IR opened servers_offline false false
group IR closed servers_offline false false
target ir-web2 opened down false false
target ir-web2 closed down false false"
expect_eq "keys" "$(sql "SELECT string_agg(key, ',' ORDER BY id) FROM parallax.notify_events WHERE scope = 'group'")" \
    "$(sql "SELECT id || ':opened:servers_offline,' || id || ':closed:servers_offline' FROM parallax.outage_events WHERE scope = 'group'")"
expect_eq "route all" "$(deliveries all)" "group IR opened pending -
group IR closed pending -
target ir-web2 opened suppressed group_outage
target ir-web2 closed suppressed group_outage"
expect_eq "route targets" "$(deliveries targets)" "target ir-web2 opened pending -
target ir-web2 closed pending -"
expect_eq "route dark (dns_down and worse)" "$(deliveries dark)" ""
expect_eq "route elsewhere (group XX)" "$(deliveries elsewhere)" ""
expect_eq "alerts after" "$(sql "SELECT count(*) FROM parallax.notify_alerts((SELECT id FROM parallax.notify_receivers WHERE name = 'all'))")" 0
expect_eq "every event routed" "$(sql "SELECT count(*) FROM parallax.notify_events WHERE routed_at IS NULL")" 0

log "nothing new from verify, a re-merge that changes nothing, or routing again"
n=$(sql "SELECT count(*) FROM parallax.notify_events")
ctl 0 verify --all
grep -q "every bin and outage equals a merge from scratch" "$WORK/out" || fail "verify: $(cat "$WORK/out")"
expect_remerge_same 30
fx "SELECT parallax.notify_route(fx.bin(40))"
expect_eq "events after verify and re-merge" "$(sql "SELECT count(*) FROM parallax.notify_events")" "$n"
expect_eq "deliveries after routing again" "$(sql "SELECT count(*) FROM parallax.notify_deliveries")" 6

log "late results move the outage: withdrawn, then opened (and closed) again, late"
fx "INSERT INTO parallax.results (ts, agent_id, probe_id, status, control)
    SELECT fx.bin(k) + ph.phase_ms * interval '1 ms', a.id, p.id, 'refused', false
    FROM parallax.agents a CROSS JOIN parallax.probes p JOIN parallax.targets t ON t.id = p.target_id
    JOIN fx.phases ph ON ph.target = t.name CROSS JOIN generate_series(7, 9) k WHERE t.name = 'ir-web2'"
fx "SELECT count(*) FROM generate_series(1, 50) WHERE fx.merge(30) > 0"
expect_events "group IR 7 20 servers_offline
target ir-web2 7 20 down"
expect_eq "late events" "$(sql "SELECT string_agg(format('%s %s %s', scope, event, late::text), ',' ORDER BY scope, id) FROM parallax.notify_events WHERE id > (SELECT max(id) FROM parallax.notify_events WHERE event = 'closed' AND NOT late)")" \
    "group withdrawn true,group opened true,group closed true,target withdrawn true,target opened true,target closed true"

fx_scenario "stages: one event per worse stage, none per bin"
receivers
fx "SELECT fx.target('ir-web3', '203.0.113.12', 'IR', 'web', probes => '{icmp,tcp:443}')"
fx "SELECT fx.rule(0, 45, rtt_ms => 50)"
fx "SELECT fx.rule(20, 23, target => 'ir-.*', rtt_ms => 400)"
fx "SELECT fx.rule(22, 23, agent => 'A|B', target => 'ir-web3/icmp', status => 'timeout')"
fx "SELECT fx.rule(24, 31, target => 'ir-web.*|ir-mail', status => 'timeout')"
fx "SELECT fx.rule(24, 25, target => 'ir-dns.*|ir-rtr.*', rtt_ms => 400)"
fx "SELECT fx.rule(26, 31, target => 'ir-dns.*', status => 'timeout')"
fx "SELECT fx.rule(26, 27, target => 'ir-rtr.*', rtt_ms => 400)"
fx "SELECT fx.rule(28, 31, target => 'ir-rtr.*', status => 'unreachable')"
live 0 45
expect_eq "group events" "$(sql "SELECT string_agg(event || ' ' || stage, ',' ORDER BY id) FROM parallax.notify_events WHERE scope = 'group'")" \
    "opened degraded,stage servers_offline,stage dns_down,stage blackout,closed blackout"
expect_eq "one opened and one closed per outage" \
    "$(sql "SELECT count(*) FROM parallax.outage_events o WHERE (SELECT count(*) FROM parallax.notify_events e WHERE e.outage_id = o.id AND e.event = 'opened') <> 1
                                                         OR (SELECT count(*) FROM parallax.notify_events e WHERE e.outage_id = o.id AND e.event = 'closed') <> 1")" 0
# The dark route is told from dns_down on: the stage events that reach it, and the close.
expect_eq "route dark" "$(deliveries dark)" "group IR stage pending -
group IR stage pending -
group IR closed pending -"
expect_eq "route all: no target while the group is out" \
    "$(sql "SELECT count(*) FROM parallax.notify_deliveries d JOIN parallax.notify_events e ON e.id = d.event_id
            WHERE d.receiver_id = (SELECT id FROM parallax.notify_receivers WHERE name = 'all') AND e.scope = 'target' AND d.state <> 'suppressed'")" 0

fx_scenario "maintenance: recorded and flagged, never sent"
receivers
fx "INSERT INTO parallax.maintenance (target_id, starts_at, ends_at, reason)
    SELECT id, fx.bin(5), fx.bin(25), 'swap' FROM parallax.targets WHERE name = 'ir-web2'"
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(10, 19, target => 'ir-web2', status => 'refused')"
live 0 30
expect_eq "flagged events" "$(sql "SELECT string_agg(DISTINCT maintenance::text, ',') FROM parallax.notify_events WHERE scope = 'target'")" true
expect_eq "route targets" "$(deliveries targets)" "target ir-web2 opened suppressed maintenance
target ir-web2 closed suppressed maintenance"

fx_scenario "retention removing an old outage is not an event"
fx "INSERT INTO parallax.outage_events (scope, subject_id, subject, started_at, ended_at, stage, detail)
    SELECT 'target', id, name, now() - interval '500 days', now() - interval '499 days', 'down', '{}' FROM parallax.targets WHERE name = 'ir-web1'"
expect_eq "an old outage found now is late" "$(events)" "target ir-web1 opened down true false
target ir-web1 closed down true false"
ctl 0 settings set keep_outages='400 days'
ctl 0 retention run
expect_eq "outage removed" "$(sql "SELECT count(*) FROM parallax.outage_events")" 0
expect_eq "no withdrawn event" "$(sql "SELECT count(*) FROM parallax.notify_events WHERE event = 'withdrawn'")" 0

log "a held target opening does not keep its group's event waiting"
receivers
fx "INSERT INTO parallax.merge_groups (name) SELECT 'IR' WHERE NOT EXISTS (SELECT 1 FROM parallax.merge_groups WHERE name = 'IR')"
fx "INSERT INTO parallax.notify_events (key, outage_id, event, scope, subject_id, subject, group_name, role, stage,
                                        started_at, late, maintenance, detail)
    SELECT '9001:opened:down', 9001, 'opened', 'target', t.id, t.name, 'IR', 'web', 'down', now(), false, false, '{}'::jsonb
    FROM parallax.targets t WHERE t.name = 'ir-web1'
    UNION ALL
    SELECT '9002:opened:blackout', 9002, 'opened', 'group', g.id, 'IR', 'IR', NULL, 'blackout', now(), false, false, '{}'
    FROM parallax.merge_groups g WHERE g.name = 'IR'"
expect_eq "routed with a limit of one" "$(sql "SELECT parallax.notify_route(now(), 1)")" 1
expect_eq "the group's event routed, the target's held" \
    "$(sql "SELECT string_agg(key || ' ' || (routed_at IS NOT NULL)::text, ',' ORDER BY id) FROM parallax.notify_events WHERE outage_id > 9000")" \
    "9001:opened:down false,9002:opened:blackout true"

log "docs/notifications.md's query runs"
/usr/bin/python3 "$PX_SOURCE_DIR/tests/tools/docs_blocks.py" get "$PX_SOURCE_DIR/docs/notifications.md" notify-sql >"$WORK/doc.sql"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB_NAME" -f "$WORK/doc.sql" >/dev/null || fail "the docs' query fails"

log "a receiver's secret is for the sender and the admin alone"
for role_can in parallax_read:f parallax_ingest:f parallax_notify:t parallax_admin:t; do
    expect_eq "${role_can%%:*} reads secrets" \
        "$(sql "SELECT has_column_privilege('${role_can%%:*}', 'parallax.notify_receivers', 'secret', 'SELECT')")" "${role_can#*:}"
done
expect_eq "parallax_read reads the routes" \
    "$(sql "SELECT has_column_privilege('parallax_read', 'parallax.notify_receivers', 'url', 'SELECT')")" t
expect_eq "the sender may not write receivers" \
    "$(sql "SELECT has_table_privilege('parallax_notify', 'parallax.notify_receivers', 'UPDATE')")" f
log "ok"
