#!/usr/bin/env bash
# merge_maintenance: maintenance windows in the merge. A vantage in a window gets no vantage
# outage and is left out of the target quorums (the others still judge the targets); a target
# or group in a window is still judged, its outage flagged "maintenance"; a window added or
# removed afterwards re-judges the bins it covers; incremental and from-scratch merges agree.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/data/merge/merge_fx.sh"

# window SCOPE_COLUMN SUBJECT_SQL K_FROM K_TO: adds a window, prints its id.
window() {
    sql "INSERT INTO parallax.maintenance ($1, starts_at, ends_at, reason)
         SELECT $2, fx.bin($3), fx.bin($4), 'test' RETURNING id"
}
agent_id() { echo "(SELECT id FROM parallax.agents WHERE name = '$1')"; }
target_id() { echo "(SELECT id FROM parallax.targets WHERE name = '$1')"; }
# expect_verify_clean: a from-scratch merge of everything gives what is stored.
expect_verify_clean() {
    local got; got=$(sql "SELECT string_agg(format('%s %s %s %s: %s / %s', kind, scope, subject, fx.k(at), stored, scratch), E'\n')
                          FROM parallax.merge_verify(fx.bin(0)) WHERE kind <> 'span'")
    [ -z "$got" ] || fail "merge_verify found differences: $got"
}

fx_scenario "a vantage in a window while its uplink is cut: no vantage outage, targets judged by the others"
fx "SELECT fx.rule(0, 40)"
fx "SELECT fx.rule(10, 19, agent => 'C', status => 'local_error')"
window agent_id "$(agent_id C)" 8 22 >/dev/null
fx "SELECT fx.play(0, 40)"
expect_timeline vantage C 0 40 hhhhhhhhmmmmmmmmmmmmmmhhhhhhhhhhhhhhhhhhh
expect_timeline target ir-web1 0 40 uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu
expect_timeline group IR 0 40 nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn
expect_events ""
expect_eq "vantages counted in the window" \
    "$(sql "SELECT evidence->>'vantages' FROM parallax.target_bins WHERE target = 'ir-web1' AND bin_start = fx.bin(12)")" 3
expect_eq "C left out" \
    "$(sql "SELECT evidence->'excluded' FROM parallax.target_bins WHERE target = 'ir-web1' AND bin_start = fx.bin(12)")" '["C"]'
expect_eq "C's health behind the window" \
    "$(sql "SELECT evidence->>'health' FROM parallax.vantage_bins WHERE agent = 'C' AND bin_start = fx.bin(12)")" impaired
expect_eq "C's bin before the uplink cut, in the window" \
    "$(sql "SELECT evidence->>'health' FROM parallax.vantage_bins WHERE agent = 'C' AND bin_start = fx.bin(9)")" healthy
expect_remerge_same 40
expect_verify_clean

fx_scenario "a vantage in a window is not counted: its failures do not make a target partial"
fx "SELECT fx.rule(0, 40)"
fx "SELECT fx.rule(10, 19, agent => 'C', target => 'ir-web1', status => 'timeout')"
id=$(window agent_id "$(agent_id C)" 8 22)
fx "SELECT fx.play(0, 40)"
expect_timeline target ir-web1 0 40 uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu
expect_events ""
log "removing the window re-judges the bins it covered"
fx "DELETE FROM parallax.maintenance WHERE id = $id"
expect_eq "bins queued again" "$(sql "SELECT count(*) > 0 FROM parallax.merge_inbox")" t
fx "SELECT fx.merge(40)"
expect_timeline vantage C 0 40 hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh
expect_timeline target ir-web1 0 40 uuuuuuuuuuppppppppppuuuuuuuuuuuuuuuuuuuuu
expect_events "group IR 10 20 degraded
target ir-web1 10 20 partial"
expect_verify_clean

fx_scenario "a window added afterwards: the vantage outage goes; removed: it comes back"
fx "SELECT fx.rule(0, 40)"
fx "SELECT fx.rule(10, 19, agent => 'C', status => 'local_error')"
fx "SELECT fx.play(0, 40)"
expect_events "vantage C 10 20 impaired"
fx "CREATE TABLE fx.before AS SELECT scope, subject_id, bin_start, state, evidence FROM parallax.bins"
id=$(window agent_id "$(agent_id C)" 5 25)
fx "SELECT fx.merge(40)"
expect_timeline vantage C 0 40 hhhhhmmmmmmmmmmmmmmmmmmmmhhhhhhhhhhhhhhhh
expect_events ""
expect_verify_clean
fx "DELETE FROM parallax.maintenance WHERE id = $id"
fx "SELECT fx.merge(40)"
expect_events "vantage C 10 20 impaired"
expect_eq "bins as before the window" "$(sql "SELECT string_agg(format('%s %s %s %s', scope, subject_id, fx.k(bin_start), evidence), E'\n')
    FROM ((SELECT scope, subject_id, bin_start, state, evidence FROM parallax.bins EXCEPT SELECT * FROM fx.before)
          UNION ALL (SELECT * FROM fx.before EXCEPT SELECT scope, subject_id, bin_start, state, evidence FROM parallax.bins)) d")" ""
expect_verify_clean

fx_scenario "a target in a window: still judged and recorded, flagged"
fx "SELECT fx.rule(0, 40)"
fx "SELECT fx.rule(10, 19, target => 'ir-web1', status => 'refused')"
window target_id "$(target_id ir-web1)" 5 25 >/dev/null
fx "SELECT fx.play(0, 40)"
expect_timeline target ir-web1 0 40 uuuuuuuuuuDDDDDDDDDDuuuuuuuuuuuuuuuuuuuuu
expect_timeline group IR 0 40 nnnnnnnnnnssssssssssnnnnnnnnnnnnnnnnnnnnn
expect_events "group IR 10 20 servers_offline
target ir-web1 10 20 down"
expect_eq "the target's outage flagged" "$(detail ir-web1 '$.maintenance')" true
expect_eq "the group's outage not flagged" "$(detail IR '$.maintenance')" ""
# The outbox (migration 010) takes the flag: the target's events are silenced, the group's not.
expect_eq "the target's notifications" \
    "$(sql "SELECT string_agg(DISTINCT maintenance::text, ',') FROM parallax.notify_events WHERE subject = 'ir-web1'")" true
expect_eq "the group's notifications" \
    "$(sql "SELECT string_agg(DISTINCT maintenance::text, ',') FROM parallax.notify_events WHERE subject = 'IR'")" false
expect_eq "the bin flagged" \
    "$(sql "SELECT evidence->>'maintenance' FROM parallax.target_bins WHERE target = 'ir-web1' AND bin_start = fx.bin(12)")" true
expect_eq "a bin outside the window not flagged" \
    "$(sql "SELECT evidence ? 'maintenance' FROM parallax.target_bins WHERE target = 'ir-web1' AND bin_start = fx.bin(30)")" f
expect_eq "in_maintenance, the target" "$(sql "SELECT parallax.in_maintenance('target', $(target_id ir-web1), fx.bin(24), fx.bin(26))")" t
expect_eq "in_maintenance, after the window" "$(sql "SELECT parallax.in_maintenance('target', $(target_id ir-web1), fx.bin(25), NULL)")" f
expect_remerge_same 40
expect_verify_clean

log "a window on the group added afterwards flags the group and its targets"
fx "INSERT INTO parallax.maintenance (group_name, starts_at, ends_at) VALUES ('IR', fx.bin(0), fx.bin(15))"
fx "SELECT fx.merge(40)"
expect_eq "the group's outage flagged" "$(detail IR '$.maintenance')" true
expect_eq "a target of the group flagged" \
    "$(sql "SELECT evidence->>'maintenance' FROM parallax.target_bins WHERE target = 'ir-web2' AND bin_start = fx.bin(3)")" true
expect_eq "in_maintenance, the group" \
    "$(sql "SELECT parallax.in_maintenance('group', (SELECT id FROM parallax.merge_groups WHERE name = 'IR'), fx.bin(14), fx.bin(15))")" t
expect_eq "the view" "$(sql "SELECT string_agg(format('%s %s %s', scope, subject, active), ',' ORDER BY id) FROM parallax.maintenance_windows")" \
    "target ir-web1 f,group IR f"
expect_verify_clean

log "a window without bounds re-judges only what is stored, at once"
fx "INSERT INTO parallax.maintenance (agent_id, starts_at, ends_at) VALUES ($(agent_id D), '-infinity', 'infinity')"
expect_eq "bins queued: those stored" "$(sql "SELECT count(*) <= (SELECT count(*) FROM parallax.bins) FROM parallax.merge_inbox")" t
fx "SELECT fx.merge(40)"
expect_timeline vantage D 0 40 mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm
expect_verify_clean
log "ok"
