#!/usr/bin/env bash
# ctl_target: `parallaxctl target add|list|show|remove` against a real database: a target and
# all its probes are stored together in canonical form; any bad argument stores nothing;
# show finds one target, remove deletes it with its probes.
source "$(dirname "$0")/lib.sh"
new_db

counts() { sql "SELECT (SELECT count(*) FROM parallax.targets) || '/' || (SELECT count(*) FROM parallax.probes)"; }

log "target add with several probes of several kinds"
ctl 0 target add web1 --address 192.0.2.10 --group IR --role web --interval 30 --timeout 2000 \
    --probe icmp --probe tcp:443 --probe https:https://www.example.ir/status --probe dns:example.ir:mx \
    --probe smtp --probe trace --probe http:http://192.0.2.10:8080/
grep -q 'web1' "$WORK/out" || fail "no summary printed"
[ "$(sql "SELECT host(address) || ' ' || group_name || ' ' || role || ' ' || control FROM parallax.targets WHERE name = 'web1'")" = "192.0.2.10 IR web false" ] ||
    fail "target row is wrong"
got=$(sql "SELECT kind || ' ' || spec || ' ' || interval_s || ' ' || timeout_ms FROM parallax.probes p JOIN parallax.targets t ON t.id = p.target_id WHERE t.name = 'web1' ORDER BY spec")
want="dns dns:example.ir:MX 30 2000
http http:http://192.0.2.10:8080/ 30 2000
https https:https://www.example.ir:443/status 30 2000
icmp icmp 30 2000
smtp smtp:25 30 2000
tcp tcp:443 30 2000
trace trace 30 2000"
[ "$got" = "$want" ] || fail "probes stored as: $got"
# The coordinator serves schedule_view; the new probes must show up there.
[ "$(sql "SELECT count(*) FROM parallax.schedule_view WHERE target = 'web1'")" = 7 ] || fail "schedule_view lacks web1"

log "defaults, IPv6 and a control target"
ctl 0 target add ctl-1 --address 2001:DB8::0:1 --control --probe icmp
[ "$(sql "SELECT host(address) || ' ' || coalesce(group_name, '-') || ' ' || role || ' ' || control FROM parallax.targets WHERE name = 'ctl-1'")" = "2001:db8::1 - host true" ] ||
    fail "ctl-1 row is wrong"
[ "$(sql "SELECT interval_s || ' ' || timeout_ms FROM parallax.probes p JOIN parallax.targets t ON t.id = p.target_id WHERE t.name = 'ctl-1'")" = "60 5000" ] ||
    fail "defaults not applied"

log "the default timeout follows the interval: min(5000 ms, half of it)"
ctl 0 target add short5 --address 192.0.2.5 --probe icmp --interval 5
grep -qF 'every 5 s, timeout 2500 ms' "$WORK/out" || fail "summary lacks the timeout: $(cat "$WORK/out")"
ctl 0 target add short1 --address 192.0.2.6 --probe icmp --probe tcp:80 --interval 1 --timeout 999
[ "$(sql "SELECT t.name || ' ' || interval_s || ' ' || timeout_ms FROM parallax.probes p JOIN parallax.targets t ON t.id = p.target_id
          WHERE t.name LIKE 'short%' ORDER BY t.name, p.spec")" = "short1 1 999
short1 1 999
short5 5 2500" ] || fail "short intervals stored with timeouts: $(sql "SELECT interval_s, timeout_ms FROM parallax.probes")"

log "SQL keeps the rule too: the same default, and no timeout as long as the interval"
tid=$(sql "SELECT id FROM parallax.targets WHERE name = 'short5'")
[ "$(sql "INSERT INTO parallax.probes (target_id, kind, spec, interval_s) VALUES ($tid, 'tcp', 'tcp:1', 2) RETURNING timeout_ms")" = 1000 ] ||
    fail "an INSERT without a timeout does not get min(5000, interval x 500)"
[ "$(sql "INSERT INTO parallax.probes (target_id, kind, spec) VALUES ($tid, 'tcp', 'tcp:2') RETURNING interval_s || ' ' || timeout_ms")" = "60 5000" ] ||
    fail "an INSERT with neither interval nor timeout"
if psql -X -q -tA -v ON_ERROR_STOP=1 -d "$DB_NAME" -c "INSERT INTO parallax.probes (target_id, kind, spec, interval_s, timeout_ms) VALUES ($tid, 'tcp', 'tcp:3', 5, 5000)" 2>"$WORK/sqlerr"; then
    fail "SQL stored a timeout as long as the interval"
fi
grep -q 'probes_timeout_below_interval' "$WORK/sqlerr" || fail "unexpected SQL error: $(cat "$WORK/sqlerr")"
if psql -X -q -tA -v ON_ERROR_STOP=1 -d "$DB_NAME" -c "UPDATE parallax.probes SET interval_s = 2 WHERE spec = 'tcp:2'" 2>"$WORK/sqlerr"; then
    fail "SQL shortened an interval below its timeout"
fi
sql "DELETE FROM parallax.targets WHERE name LIKE 'short%'"

log "bad arguments: exit 2, the argument named, nothing stored"
before=$(counts)
# Whether anything was stored is checked once after all of them: any stored row shows.
check_bad() {
    local what=$1; shift
    ctl 2 target add "$@"
    one_line_error "parallaxctl: target add: $what"
}
check_bad "bad --address '1.2.3': not an IPv4 or IPv6 address" t9 --address 1.2.3 --probe icmp
check_bad "bad --address '192.0.2.0/24'" t9 --address 192.0.2.0/24 --probe icmp
check_bad "bad --address 'example.com'" t9 --address example.com --probe icmp
check_bad "bad --role 'server': expected web, mail, dns, router or host" t9 --address 192.0.2.9 --role server --probe icmp
check_bad "bad --probe 'tcp:0': bad tcp spec 'tcp:0'" t9 --address 192.0.2.9 --probe icmp --probe tcp:0
check_bad "bad --probe 'tcp:99999'" t9 --address 192.0.2.9 --probe tcp:99999
check_bad "bad --probe 'dns:bad..name': bad DNS name 'bad..name'" t9 --address 192.0.2.9 --probe dns:bad..name
check_bad "bad --probe 'foo:1': unknown probe kind 'foo'" t9 --address 192.0.2.9 --probe foo:1
check_bad "bad --probe 'icmp:1'" t9 --address 192.0.2.9 --probe icmp:1
check_bad "bad --probe 'http:ftp://x/'" t9 --address 192.0.2.9 --probe http:ftp://x/
check_bad "--probe 'icmp' given twice" t9 --address 192.0.2.9 --probe icmp --probe icmp
check_bad "bad --probe 'smtp:25': the same probe as --probe 'smtp'" t9 --address 192.0.2.9 --probe smtp --probe smtp:25
check_bad "missing --probe" t9 --address 192.0.2.9
check_bad "missing --address" t9 --probe icmp
check_bad "missing target NAME" --address 192.0.2.9 --probe icmp
check_bad "bad target name 'a b'" 'a b' --address 192.0.2.9 --probe icmp
check_bad "bad --interval '0'" t9 --address 192.0.2.9 --probe icmp --interval 0
check_bad "bad --interval '86401'" t9 --address 192.0.2.9 --probe icmp --interval 86401
check_bad "bad --timeout '0'" t9 --address 192.0.2.9 --probe icmp --timeout 0
check_bad "bad --timeout '600001'" t9 --address 192.0.2.9 --probe icmp --timeout 600001
check_bad "bad --timeout '5000': must be shorter than the interval (5 s); without --timeout it is min(5000, interval x 500) ms" \
    t9 --address 192.0.2.9 --probe icmp --interval 5 --timeout 5000
check_bad "bad --timeout '60000': must be shorter than the interval (60 s)" t9 --address 192.0.2.9 --probe icmp --timeout 60000
check_bad "bad --timeout '1000': must be shorter than the interval (1 s)" t9 --address 192.0.2.9 --probe icmp --timeout 1000 --interval 1
check_bad "unknown option '--port'" t9 --address 192.0.2.9 --probe icmp --port 80
check_bad "option --probe needs a value" t9 --address 192.0.2.9 --probe
check_bad "--role given more than once" t9 --address 192.0.2.9 --probe icmp --role web --role dns
[ "$(counts)" = "$before" ] || fail "a refused target add stored something: $(counts), was $before"

log "a duplicate name fails with one line and stores no probes"
ctl 1 target add web1 --address 192.0.2.11 --probe icmp --probe tcp:22
one_line_error "parallaxctl: target add: a target named 'web1' already exists"
[ "$(counts)" = "$before" ] || fail "duplicate target stored something"

log "target list"
ctl 0 target list
head -1 "$WORK/out" | grep -q '^NAME  *ADDRESS  *GROUP  *ROLE  *CONTROL  *PROBES$' || fail "bad header: $(head -1 "$WORK/out")"
grep -q '^web1  *192\.0\.2\.10  *IR  *web  *no  .*tcp:443 every 30s' "$WORK/out" || fail "web1 missing: $(cat "$WORK/out")"
grep -q '^ctl-1  *2001:db8::1  *-  *host  *yes  *icmp every 60s$' "$WORK/out" || fail "ctl-1 missing: $(cat "$WORK/out")"
ctl 0 target list --json
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/out" || fail "--json does not parse"
python3 - "$WORK/out" <<'PY' || fail "target list --json is wrong: $(cat "$WORK/out")"
import json, sys
targets = {t["name"]: t for t in json.load(open(sys.argv[1]))}
assert set(targets) == {"web1", "ctl-1"}, targets
web = targets["web1"]
assert web["address"] == "192.0.2.10" and web["group"] == "IR" and web["role"] == "web", web
assert web["control"] is False and len(web["probes"]) == 7, web
tcp = [p for p in web["probes"] if p["spec"] == "tcp:443"][0]
assert tcp == {"kind": "tcp", "spec": "tcp:443", "interval_s": 30, "timeout_ms": 2000}, tcp
ctl = targets["ctl-1"]
assert ctl["group"] is None and ctl["control"] is True and ctl["address"] == "2001:db8::1", ctl
assert [p["spec"] for p in ctl["probes"]] == ["icmp"], ctl
PY

log "a group with quotes and a tab-free odd name survives JSON"
ctl 0 target add odd --address 198.51.100.1 --group 'say "hi" \ ok' --probe icmp
ctl 0 target list --json
python3 -c 'import json,sys; t={x["name"]:x for x in json.load(open(sys.argv[1]))}; assert t["odd"]["group"] == "say \"hi\" \\ ok", t["odd"]' "$WORK/out" ||
    fail "group not escaped correctly: $(cat "$WORK/out")"
log "target show"
ctl 0 target show web1
grep -Eq '^address +192\.0\.2\.10$' "$WORK/out" || fail "show lacks the address: $(cat "$WORK/out")"
grep -Eq '^probes +.*tcp:443 every 30s, timeout 2000ms' "$WORK/out" || fail "show lacks the probes: $(cat "$WORK/out")"
grep -Eq '^latest +-$' "$WORK/out" || fail "show invents a state: $(cat "$WORK/out")"
ctl 0 target show web1 --json
python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); assert t["name"] == "web1" and len(t["probes"]) == 7 and t["latest"] is None and t["open_outages"] == [], t' "$WORK/out" ||
    fail "target show --json is wrong: $(cat "$WORK/out")"
ctl 1 target show nosuch
one_line_error "parallaxctl: target show: no target named 'nosuch'"
ctl 2 target show 'bad name'
one_line_error "bad target name 'bad name'"

log "target remove: the target and its probes go"
ctl 0 target remove web1
grep -qF 'removed target web1' "$WORK/out" || fail "remove said: $(cat "$WORK/out")"
[ "$(sql "SELECT count(*) FROM parallax.targets WHERE name = 'web1'")" = 0 ] || fail "web1 still there"
[ "$(sql "SELECT count(*) FROM parallax.probes p LEFT JOIN parallax.targets t ON t.id = p.target_id WHERE t.id IS NULL")" = 0 ] ||
    fail "probes of web1 left behind"
ctl 1 target remove web1
one_line_error "parallaxctl: target remove: no target named 'web1'"
ctl 2 target remove web1 --json
one_line_error "unknown option '--json'"
log "ok"
