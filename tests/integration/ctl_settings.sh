#!/usr/bin/env bash
# ctl_settings: `parallaxctl settings` and `settings set` against a real database: every merge
# setting listed with its value and default; changes stored, all or none, with errors naming
# the setting and the rule it broke; --remerge-since queues history to be merged again.
source "$(dirname "$0")/lib.sh"
new_db
setting() { sql "SELECT $1::text FROM parallax.merge_settings"; }

log "settings: every column of parallax.merge_settings, at its default"
ctl 0 settings
columns=$(sql "SELECT count(*) FROM information_schema.columns
               WHERE table_schema = 'parallax' AND table_name = 'merge_settings' AND column_name <> 'id'")
[ "$(($(wc -l <"$WORK/out") - 1))" = "$columns" ] || fail "$columns settings, listed: $(cat "$WORK/out")"
grep -Eq '^open_after +2 +2 +2 +default$' "$WORK/out" || fail "open_after not shown at 2 (default 2): $(cat "$WORK/out")"
grep -Eq '^baseline_window +1 day +1 day +1 day +default$' "$WORK/out" || fail "baseline_window: $(grep baseline_window "$WORK/out")"
# The widths are derived from the schedule: with no control probe, 60 s.
grep -Eq '^vantage_bin_s +auto +60 +auto +auto$' "$WORK/out" || fail "vantage_bin_s: $(grep vantage_bin_s "$WORK/out")"
! grep -Eq ' set$' "$WORK/out" || fail "a default marked set: $(grep -E ' set$' "$WORK/out")"
! grep -q ' $' "$WORK/out" || fail "trailing blanks in the table"

log "settings set: two at once, reported old -> new, stored, marked changed"
ctl 0 settings set open_after=3 baseline_window='2 hours'
[ "$(cat "$WORK/out")" = "open_after: 2 -> 3
baseline_window: 1 day -> 02:00:00" ] || fail "report: $(cat "$WORK/out")"
[ "$(setting open_after)/$(setting baseline_window)" = "3/02:00:00" ] || fail "not stored"
ctl 0 settings
grep -Eq '^open_after +3 +3 +2 +set$' "$WORK/out" || fail "open_after not marked set: $(cat "$WORK/out")"

log "auto widths: in force from the schedule, set to a number, set back to auto"
sql "INSERT INTO parallax.targets (name, address, control) VALUES ('ctl-a', '198.51.100.7', true)" >/dev/null
sql "INSERT INTO parallax.probes (target_id, kind, spec, interval_s) SELECT id, 'icmp', 'icmp', 15 FROM parallax.targets WHERE name = 'ctl-a'" >/dev/null
ctl 0 settings
grep -Eq '^vantage_bin_s +auto +15 +auto +auto$' "$WORK/out" || fail "auto from a 15 s control: $(grep vantage_bin_s "$WORK/out")"
ctl 0 settings set vantage_bin_s=30
ctl 0 settings
grep -Eq '^vantage_bin_s +30 +30 +auto +set$' "$WORK/out" || fail "set to 30: $(grep vantage_bin_s "$WORK/out")"
ctl 0 settings set vantage_bin_s=auto
grep -q '^vantage_bin_s: 30 -> auto$' "$WORK/out" || fail "report: $(cat "$WORK/out")"
[ "$(sql "SELECT vantage_bin_s IS NULL FROM parallax.merge_settings")" = t ] || fail "auto is not stored as NULL"
ctl 1 settings set open_after=auto
one_line_error "open_after must be of type integer"
sql "DELETE FROM parallax.targets" >/dev/null

log "all or none: a value out of range later in the list undoes the earlier ones"
ctl 1 settings set close_after=9 latency_factor=0.5
one_line_error "parallaxctl: settings set: latency_factor = 0.5 is out of range; it must satisfy latency_factor > 1"
[ "$(setting close_after)/$(setting latency_factor)" = "3/3" ] || fail "a refused change stored something"
[ ! -s "$WORK/out" ] || fail "a refused change reported: $(cat "$WORK/out")"

log "wrong type, unknown name, bad arguments"
ctl 1 settings set open_after=three
one_line_error 'open_after must be of type integer: invalid input syntax for type integer: "three"'
ctl 1 settings set baseline_window=soon
one_line_error "baseline_window must be of type interval"
ctl 1 settings set open_afetr=3
one_line_error 'no merge setting named "open_afetr" (the settings: min_vantages, min_networks, open_after'
ctl 1 settings set "open_after=3'; DROP TABLE parallax.merge_settings; --"
one_line_error "open_after must be of type integer"
[ "$(setting open_after)" = 3 ] || fail "open_after changed by refused values"
ctl 2 settings set
one_line_error "missing NAME=VALUE"
ctl 2 settings set open_after
one_line_error "'open_after' is not NAME=VALUE"
ctl 2 settings set open_after=4 --remerge-since forever
one_line_error "--remerge-since"
ctl 2 settings --json --describe
one_line_error "cannot be combined"
[ "$(setting open_after)" = 3 ] || fail "a usage error changed a setting"

log "--remerge-since: the bins of that span are queued to merge again"
# One enabled agent, a day old (a row is enough: merge_mark queues every enabled agent's
# vantage bins since it was created).
sql "INSERT INTO parallax.agents (name, country, public_key, created_at) VALUES ('gb1', 'GB', 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7', now() - interval '1 day')" >/dev/null
before=$(sql "SELECT count(*) FROM parallax.merge_queue WHERE scope = 'vantage'")
ctl 0 settings set close_after=4 --remerge-since 2h
# One enabled agent: its 120 one-minute vantage bins of the last 2 hours (121 if the span
# starts inside a bin).
queued=$(sed -n 's/^\([0-9]*\) bins of the last 2h queued to merge again$/\1/p' "$WORK/out")
[ -n "$queued" ] && [ "$queued" -ge 120 ] || fail "queued: $(cat "$WORK/out")"
after=$(sql "SELECT count(*) FROM parallax.merge_queue WHERE scope = 'vantage'")
[ $((after - before)) -ge 120 ] || fail "merge_queue grew by $((after - before))"
grep -q '^close_after: 3 -> 4$' "$WORK/out" || fail "report: $(cat "$WORK/out")"

log "--describe and --json carry every setting's meaning"
ctl 0 settings --describe
grep -A1 '^open_after = 3 (default 2; in force 3, set)$' "$WORK/out" | grep -q 'An outage opens after' ||
    fail "describe: $(grep -A1 open_after "$WORK/out")"
ctl 0 settings --json
[ "$(sql "SELECT count(*) FROM jsonb_array_elements('$(sed "s/'/''/g" "$WORK/out")'::jsonb) e
          WHERE e ->> 'description' IS NOT NULL AND e ? 'default' AND e ? 'type' AND e ? 'in_force'
            AND e ? 'source'")" = "$columns" ] ||
    fail "json: $(cat "$WORK/out")"

log "the SQL interface the CLI uses, for people at psql"
[ "$(sql "SELECT parallax.merge_setting_set('grace_s', '15')")" = 15 ] || fail "merge_setting_set"
[ "$(sql "SELECT value || '/' || default_value FROM parallax.merge_setting_list WHERE name = 'grace_s'")" = "15/2" ] ||
    fail "merge_setting_list"
log "ok"
