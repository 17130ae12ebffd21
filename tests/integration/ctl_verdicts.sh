#!/usr/bin/env bash
# ctl_verdicts: the reading commands on a known data set: the merge fixture's world (four
# vantages, a country IR), results played with fixed times through the real merge, then
# `timeline` compared with golden files (tests/data/ctl/*.txt), and `status`, `outages` and
# `explain` checked for what an operator must be able to read from them.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/data/merge/merge_fx.sh"
GOLDEN="$PX_SOURCE_DIR/tests/data/ctl"

golden() {
    diff -u "$GOLDEN/$1" "$WORK/out" >&2 || fail "output differs from tests/data/ctl/$1 (diff above)"
}

# The story, one bin per minute from 2031-03-03 00:00 UTC: vantage C loses its own network
# in bins 5-7; agent A alone is refused by ir-mail in bins 8-9 (partial); the web servers
# time out from bin 10 and the routers and DNS servers become unreachable from bin 12
# (blackout) until everything recovers at bin 16.
fx_scenario "the operator's view"
fx "SELECT fx.rule(0, 30)"
fx "SELECT fx.rule(5, 7, 'C', '.*', 'timeout')"
fx "SELECT fx.rule(10, 15, '.*', 'ir-web.*', 'timeout')"
fx "SELECT fx.rule(12, 15, '.*', 'ir-rtr.*|ir-dns.*', 'unreachable')"
fx "SELECT fx.rule(8, 9, 'A', 'ir-mail', 'refused')"
fx "SELECT fx.play(0, 25)"
UNTIL=2031-03-03T00:26:00Z

log "timeline of a group, plain because stdout is not a terminal"
ctl 0 timeline --group IR --since 26m --until "$UNTIL"
golden timeline_group_ir.txt
log "the same with --color: ANSI colours around the same letters"
ctl 0 timeline --group IR --since 26m --until "$UNTIL" --color
grep -q $'\033\\[30;41mX\033\\[0m' "$WORK/out" || fail "no red X for a down target"
grep -q $'\033\\[97;40mB\033\\[0m' "$WORK/out" || fail "no blackout colour"
sed 's/\x1b\[[0-9;]*m//g' "$WORK/out" >"$WORK/stripped"
mv "$WORK/stripped" "$WORK/out"
golden timeline_group_ir.txt
ctl 0 timeline --group IR --since 26m --until "$UNTIL" --no-color
golden timeline_group_ir.txt
NO_COLOR=1 "$CTL" --db "$DB" timeline --group IR --since 26m --until "$UNTIL" >"$WORK/out"
golden timeline_group_ir.txt

log "timeline of one target, several bins per column showing the worst"
ctl 0 timeline --target ir-mail --since 2h --columns 12 --until "$UNTIL"
golden timeline_target_mail.txt
ctl 0 timeline --target ir-web1 --since 26m --until "$UNTIL" --json
python3 - "$WORK/out" <<'PY' || fail "timeline --json is wrong: $(cat "$WORK/out")"
import json, sys
t = json.load(open(sys.argv[1]))
assert t["target"] == "ir-web1" and t["bin_s"] == 60 and t["bins_per_column"] == 1, t
rows = {(r["kind"], r.get("agent")): r["cells"] for r in t["rows"]}
assert len(rows[("target", None)]) == 26, rows
assert rows[("target", None)][9:17] == ["up"] + ["down"] * 6 + ["up"], rows[("target", None)]
assert rows[("vantage", "C")][5:8] == ["unhealthy"] * 3, rows[("vantage", "C")]
assert rows[("vantage", "A")][25] is None or rows[("vantage", "A")][25] == "ok"
PY

log "timeline: unknown names and a bad --until"
ctl 1 timeline --group XX --until "$UNTIL"
one_line_error "parallaxctl: timeline: no group 'XX'"
ctl 1 timeline --target nosuch
one_line_error "no target named 'nosuch'"
ctl 1 timeline --group IR --until yesterday-ish
one_line_error "bad --until 'yesterday-ish'"

log "outages: all, by scope, open, since"
ctl 0 outages
head -1 "$WORK/out" | grep -q '^ID  *SCOPE  *SUBJECT  *STAGE  *STARTED_UTC  *ENDED_UTC  *LASTED  *FAILURE  *SEEN_BY$' ||
    fail "bad header: $(head -1 "$WORK/out")"
grep -Eq '^[0-9]+ +group +IR +blackout +2031-03-03 00:08:00 +2031-03-03 00:16:00 +8m +unreachable +A,B,C,D$' "$WORK/out" ||
    fail "the blackout is missing: $(cat "$WORK/out")"
grep -Eq '^[0-9]+ +vantage +C +impaired +2031-03-03 00:05:00 +2031-03-03 00:08:00 +3m +timeout +-$' "$WORK/out" ||
    fail "C's vantage outage is missing: $(cat "$WORK/out")"
ctl 0 outages --scope target
[ "$(grep -c ' target ' "$WORK/out")" = 7 ] || fail "expected 7 target outages: $(cat "$WORK/out")"
! grep -q ' group ' "$WORK/out" || fail "--scope target shows a group"
ctl 0 outages --open
[ "$(cat "$WORK/out")" = "no outages going on" ] || fail "--open: $(cat "$WORK/out")"
ctl 0 outages --since 7d --scope vantage --json
python3 - "$WORK/out" <<'PY' || fail "outages --json is wrong: $(cat "$WORK/out")"
import json, sys
o = json.load(open(sys.argv[1]))
assert len(o) == 1 and o[0]["subject"] == "C" and o[0]["stage"] == "impaired", o
assert o[0]["open"] is False and o[0]["lasted_s"] == 180 and o[0]["dominant_failure"] == "timeout", o
assert o[0]["started_at"].startswith("2031-03-03T00:05:00"), o
PY

log "explain: the evidence in words"
group_id=$(sql "SELECT id FROM parallax.outages WHERE scope = 'group'")
ctl 0 explain "$group_id"
for line in "outage $group_id: group IR, worst stage blackout" \
            "  started  2031-03-03 00:08:00 UTC" \
            "  ended    2031-03-03 00:16:00 UTC (lasted 8m)" \
            "  degraded         2031-03-03 00:08:00 UTC  (+0s)" \
            "  servers_offline  2031-03-03 00:10:00 UTC  (+2m)" \
            "  blackout         2031-03-03 00:12:00 UTC  (+4m)" \
            "dominant failure: unreachable (bad bins by failure: unreachable 4, refused 2, timeout 2)" \
            "vantages that saw failures: A, B, C, D" \
            "targets down at some point: ir-dns1, ir-dns2, ir-rtr1, ir-rtr2, ir-web1, ir-web2"; do
    grep -qxF -- "$line" "$WORK/out" || fail "explain lacks '$line': $(cat "$WORK/out")"
done
grep -q 'a blackout\.$' "$WORK/out" || fail "explain does not say what the verdict means"
grep -Eq '^ir-web1 +web +down +6 +2031-03-03 00:10:00$' "$WORK/out" || fail "ir-web1's row is wrong: $(cat "$WORK/out")"
grep -Eq '^ir-mail +mail +partial +0 +-$' "$WORK/out" || fail "ir-mail's row is wrong: $(cat "$WORK/out")"
mail_id=$(sql "SELECT id FROM parallax.outages WHERE subject = 'ir-mail'")
ctl 0 explain "$mail_id"
grep -qF 'Some healthy vantages reached the target and others did not' "$WORK/out" || fail "partial not explained: $(cat "$WORK/out")"
grep -Eq '^A +2 +0 +0 +0$' "$WORK/out" || fail "A should have failed 2 bins: $(cat "$WORK/out")"
grep -Eq '^B +0 +0 +2 +0$' "$WORK/out" || fail "B should have reached it in 2 bins: $(cat "$WORK/out")"
c_id=$(sql "SELECT id FROM parallax.outages WHERE scope = 'vantage'")
ctl 0 explain "$c_id"
grep -qF 'the failure is on the vantage' "$WORK/out" || fail "vantage outage not explained: $(cat "$WORK/out")"
grep -qxF 'vantages fine at the time: A, B, D' "$WORK/out" || fail "peers missing: $(cat "$WORK/out")"
ctl 0 explain "$group_id" --json
python3 - "$WORK/out" <<'PY' || fail "explain --json is wrong: $(cat "$WORK/out")"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["scope"] == "group" and o["stage"] == "blackout" and len(o["bins"]) == 8, o
assert o["detail"]["dominant_failure"] == "unreachable", o
assert [b["state"] for b in o["bins"]][:4] == ["degraded", "degraded", "servers_offline", "servers_offline"], o["bins"]
PY
ctl 1 explain 999999
one_line_error "parallaxctl: explain: no outage 999999"

log "status: online, impaired, offline, disabled, drops, clock offset, ongoing outages"
# An open outage, C impaired in its latest bin, B silent for five minutes, D disabled.
fx "SELECT fx.rule(26, 30, '.*', 'ir-web1', 'timeout')"
fx "SELECT fx.play(26, 28)"
sql "INSERT INTO parallax.bins (scope, subject_id, bin_start, bin_end, state, rank, bad, evidence)
     SELECT 'vantage', id, '2031-03-03 00:40+00', '2031-03-03 00:41+00', 'impaired', 2, true, '{}'
     FROM parallax.agents WHERE name = 'C'"
sql "DELETE FROM parallax.heartbeats WHERE agent_id = (SELECT id FROM parallax.agents WHERE name = 'B');
     UPDATE parallax.agents SET last_seen = now() - interval '5 minutes' WHERE name = 'B';
     UPDATE parallax.agents SET enabled = false WHERE name = 'D';
     UPDATE parallax.agents SET clock_offset_ms = 1250 WHERE name = 'A'"
sql "INSERT INTO parallax.gaps (agent_id, ts_from, ts_to, dropped_count)
     SELECT id, '2031-03-03 00:01+00', '2031-03-03 00:01:30+00', n FROM parallax.agents, (VALUES (10), (7)) v(n) WHERE name = 'A'"
sql "INSERT INTO parallax.gaps (agent_id, probe_id, ts_from, ts_to, dropped_count, reason)
     SELECT id, 1, '2031-03-03 00:02+00', '2031-03-03 00:02+00', 2, 'run_skipped' FROM parallax.agents WHERE name = 'A'"
ctl 0 status
grep -qxF 'agents: 4 (1 online, 1 impaired, 1 offline, 1 disabled; online = heard from in the last 60s)' "$WORK/out" ||
    fail "bad summary: $(head -1 "$WORK/out")"
grep -Eq '^A +DE +3320 +online +2031-03-03 [0-9:]+ +healthy +17 +2 +1250$' "$WORK/out" || fail "A's row is wrong: $(cat "$WORK/out")"
grep -Eq '^B +NL +1136 +offline +' "$WORK/out" || fail "B should be offline: $(cat "$WORK/out")"
grep -Eq '^C +JP +2516 +impaired +.* impaired +0 +0 +-$' "$WORK/out" || fail "C should be impaired: $(cat "$WORK/out")"
grep -Eq '^D +US +7018 +disabled ' "$WORK/out" || fail "D should be disabled: $(cat "$WORK/out")"
grep -Eq '^[0-9]+ +target +ir-web1 +down +2031-03-03 00:26:00 +ongoing +' "$WORK/out" || fail "the open outage is missing: $(cat "$WORK/out")"
ctl 0 status --window 10m
grep -Eq '^B +NL +1136 +online +' "$WORK/out" || fail "B should be online within 10 minutes: $(cat "$WORK/out")"
ctl 0 status --json
python3 - "$WORK/out" <<'PY' || fail "status --json is wrong: $(cat "$WORK/out")"
import json, sys
s = json.load(open(sys.argv[1]))
a = {x["name"]: x for x in s["agents"]}
assert s["window_s"] == 60, s
assert [a[n]["state"] for n in "ABCD"] == ["online", "offline", "impaired", "disabled"], a
assert a["A"]["dropped"] == 17 and a["A"]["skipped"] == 2 and a["A"]["clock_offset_ms"] == 1250 and a["B"]["clock_offset_ms"] is None, a
assert sorted(o["subject"] for o in s["outages"]) == ["IR", "ir-web1"] and s["outages"][0]["open"], s["outages"]
PY
ctl 0 outages --open
grep -Eq '^[0-9]+ +target +ir-web1 +down .* ongoing ' "$WORK/out" || fail "outages --open: $(cat "$WORK/out")"
log "ok"
