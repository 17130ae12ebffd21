#!/usr/bin/env bash
# ctl_maintenance: `parallaxctl maintenance add|list|remove` on the merge fixture's world, as
# the admin role: a window on a target flags its outage (and explain says which window, and
# why), one on an agent marks it in `status`; list shows what is in force or to come (--all:
# the ended ones too); bad input is refused in one line; removing a window re-judges the bins.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/data/merge/merge_fx.sh"
# merge_all: merges until nothing is left (a window in force now queues today's bins, which
# the merge takes first, a backlog at a time).
merge_all() { fx "DO \$\$ BEGIN FOR i IN 1 .. 100 LOOP EXIT WHEN fx.merge(30) = 0; END LOOP; END \$\$"; }

fx_scenario "a target down in bins 10-19"
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(10, 19, target => 'ir-web1', status => 'refused')"
fx "SELECT fx.play(0, 30)"
OUTAGE=$(sql "SELECT id FROM parallax.outages WHERE subject = 'ir-web1'")
[ -n "$OUTAGE" ] || fail "no outage of ir-web1"
expect_eq "not flagged before the window" "$(detail ir-web1 '$.maintenance')" ""

log "a window on the target, added afterwards"
ctl 0 maintenance add --target ir-web1 --from "2031-03-03 00:05" --until 2031-03-03T00:25:00Z --reason "web migration"
grep -qxF "added maintenance window 1: target ir-web1 from 2031-03-03 00:05:00 until 2031-03-03 00:25:00 UTC" "$WORK/out" ||
    fail "add said: $(cat "$WORK/out")"
merge_all
OUTAGE=$(sql "SELECT id FROM parallax.outages WHERE subject = 'ir-web1'")
expect_eq "the outage flagged" "$(detail ir-web1 '$.maintenance')" true
ctl 0 explain "$OUTAGE"
grep -qF "window 1 on target ir-web1, 2031-03-03 00:05:00 until 2031-03-03 00:25:00 UTC (web migration): its bins in the window are flagged maintenance" "$WORK/out" ||
    fail "explain does not name the window: $(cat "$WORK/out")"
ctl 0 outages
grep -Eq "^$OUTAGE +target +ir-web1 +down \(maintenance\) +2031-03-03 00:10:00 " "$WORK/out" || fail "outages does not mark it: $(cat "$WORK/out")"
ctl 0 explain "$OUTAGE" --json
python3 - "$WORK/out" <<'PY' || fail "explain --json: $(cat "$WORK/out")"
import json, sys
e = json.load(open(sys.argv[1]))
assert e["detail"]["maintenance"] is True, e["detail"]
assert [(w["id"], w["scope"], w["subject"], w["reason"]) for w in e["maintenance"]] == [(1, "target", "ir-web1", "web migration")], e["maintenance"]
PY

log "a window on an agent, in force now: status marks it"
ctl 0 maintenance add --agent C --for 1h --reason "uplink work"
grep -Eq '^added maintenance window 2: agent C from .* UTC$' "$WORK/out" || fail "add said: $(cat "$WORK/out")"
ctl 0 status
grep -qF "in maintenance now" "$WORK/out" || fail "status shows no windows: $(cat "$WORK/out")"
grep -Eq '^2 +vantage +C +[0-9-]+ [0-9:]+ +[0-9-]+ [0-9:]+ +uplink work$' "$WORK/out" || fail "status lacks the window: $(cat "$WORK/out")"
grep -Eq '^C +JP +2516 +[a-z]+ \(maintenance\) ' "$WORK/out" || fail "C not marked: $(cat "$WORK/out")"
grep -Eq '^A +DE +3320 +[a-z]+ +' "$WORK/out" || fail "A's row: $(cat "$WORK/out")"
ctl 0 status --json
python3 - "$WORK/out" <<'PY' || fail "status --json: $(cat "$WORK/out")"
import json, sys
s = json.load(open(sys.argv[1]))
a = {x["name"]: x for x in s["agents"]}
assert a["C"]["maintenance"] is True and a["A"]["maintenance"] is False, a
assert [(w["id"], w["subject"]) for w in s["maintenance"]] == [(2, "C")], s["maintenance"]
PY

log "list: in force and to come; --all adds the ended"
ctl 0 maintenance add --group IR --from 2020-01-01 --until "2020-01-02 00:00:00"
ctl 0 maintenance list
grep -Eq '^1 +target +ir-web1 +2031-03-03 00:05 +2031-03-03 00:25 +future +web migration$' "$WORK/out" || fail "list: $(cat "$WORK/out")"
grep -Eq '^2 +vantage +C +.* yes +uplink work$' "$WORK/out" || fail "list: $(cat "$WORK/out")"
grep -Eq '^3 ' "$WORK/out" && fail "an ended window listed: $(cat "$WORK/out")"
ctl 0 maintenance list --all
grep -Eq '^3 +group +IR +2020-01-01 00:00 +2020-01-02 00:00 +ended +-$' "$WORK/out" || fail "list --all: $(cat "$WORK/out")"
ctl 0 maintenance list --json
python3 - "$WORK/out" <<'PY' || fail "list --json: $(cat "$WORK/out")"
import json, sys
l = json.load(open(sys.argv[1]))
assert [(w["id"], w["scope"], w["active"]) for w in l] == [(2, "vantage", True), (1, "target", False)], l
PY
expect_eq "the SQL view" "$(sql "SELECT string_agg(id || ' ' || active, ',' ORDER BY id) FROM parallax.maintenance_windows")" "1 false,2 true,3 false"

log "bad input: one line each"
ctl 1 maintenance add --agent nobody --for 1h
one_line_error "parallaxctl: maintenance add: no agent named 'nobody'"
ctl 1 maintenance add --target nothing --for 1h
one_line_error "no target named 'nothing'"
ctl 1 maintenance add --group XX --for 1h
one_line_error "no target has group 'XX'"
ctl 2 maintenance add --agent C --from "2031-03-03 02:00" --until "2031-03-03 01:00"
one_line_error "--until (2031-03-03 01:00) must be after --from (2031-03-03 02:00)"
ctl 2 maintenance add --agent C --from tomorrow --for 1h
one_line_error "bad --from 'tomorrow'"
ctl 2 maintenance add --agent C --target ir-web1 --for 1h
one_line_error "only one of"
ctl 2 maintenance add --agent C
one_line_error "missing --until or --for"
ctl 1 maintenance remove 999
one_line_error "no maintenance window with id 999"
ctl 2 maintenance remove abc
one_line_error "bad window ID 'abc'"
ctl 2 maintenance frobnicate
one_line_error "unknown command 'frobnicate'"
expect_eq "nothing added by the refusals" "$(sql "SELECT count(*) FROM parallax.maintenance")" 3

log "explain: a vantage in a window during the outage was left out"
ctl 0 maintenance add --agent A --from "2031-03-03 00:12" --until "2031-03-03 00:14"
merge_all
ctl 0 explain "$(sql "SELECT id FROM parallax.outages WHERE subject = 'ir-web1'")"
grep -qF "window 4 on vantage A, 2031-03-03 00:12:00 until 2031-03-03 00:14:00 UTC: the vantage was left out of the verdicts meanwhile" "$WORK/out" ||
    fail "explain does not name A's window: $(cat "$WORK/out")"
grep -Eq '^A +[0-9]+ +0 +0 +[1-9][0-9]*$' "$WORK/out" || fail "A is not left out in its window's bins: $(cat "$WORK/out")"

log "a recurring window: one row per occurrence"
ctl 0 maintenance add --target ir-dns1 --from "2031-04-01 22:00" --for 2h --every 1w --times 3 --reason "weekly patching"
grep -qxF "added maintenance windows 5 to 7: target ir-dns1 from 2031-04-01 22:00:00 until 2031-04-02 00:00:00 UTC, then every 604800s (3 in all)" "$WORK/out" ||
    fail "add --every said: $(cat "$WORK/out")"
expect_eq "the occurrences" "$(sql "SELECT string_agg(to_char(starts_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI') || '-' || to_char(ends_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI'), ',' ORDER BY id) FROM parallax.maintenance_windows WHERE subject = 'ir-dns1'")" \
    "04-01 22:00-04-02 00:00,04-08 22:00-04-09 00:00,04-15 22:00-04-16 00:00"
ctl 2 maintenance add --target ir-dns1 --for 2h --every 1h --times 3
one_line_error "--every (1h) must be longer than the window (7200s)"

log "removing the window re-judges the outage"
ctl 0 maintenance remove 1
grep -qF "removed maintenance window 1" "$WORK/out" || fail "remove said: $(cat "$WORK/out")"
merge_all
expect_eq "no longer flagged" "$(detail ir-web1 '$.maintenance')" ""
ctl 0 explain "$(sql "SELECT id FROM parallax.outages WHERE subject = 'ir-web1'")"
grep -qF "window 1 on" "$WORK/out" && fail "explain still names the removed window: $(cat "$WORK/out")"
log "ok"
