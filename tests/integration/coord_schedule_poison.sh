#!/usr/bin/env bash
# coord_schedule_poison: one bad probes row (a spec over 1,023 bytes, a control character)
# once made the whole schedule unsendable to every agent (issue 16). Now such a row is left
# out with a warning naming it, and every agent gets the rest.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent gb1 GB
"$CTL" --db "$DB" target add web --address 127.0.0.1 --probe tcp:1 --probe icmp --interval 5 >/dev/null
tid=$(sql "SELECT id FROM parallax.targets WHERE name = 'web'")
# Written by SQL, as an operator's hand or a bug might: parallaxctl would refuse them.
long=$(sql "INSERT INTO parallax.probes (target_id, kind, spec, interval_s)
            VALUES ($tid, 'http', 'http://web/' || repeat('a', 1100), 5) RETURNING id")
ctrl=$(sql "INSERT INTO parallax.probes (target_id, kind, spec, interval_s)
            VALUES ($tid, 'tcp', E'tcp:80\\x01', 5) RETURNING id")
v=$(sql "SELECT max(version) FROM parallax.schedule_versions")
wait_until 10 "the coordinator loaded the schedule" 'grep -q "schedule version $v:" "$WORK/coordinator.log"'
grep -q "probe $long left out of the schedule, the rest is sent: .*probe.spec" "$WORK/coordinator.log" ||
    fail "the long spec was not reported: $(grep -i "probe" "$WORK/coordinator.log" | tail -n 3)"
grep -q "probe $ctrl left out of the schedule, the rest is sent" "$WORK/coordinator.log" ||
    fail "the control character was not reported"
grep -q "schedule version $v: 2 probes" "$WORK/coordinator.log" || fail "$(grep "schedule version $v" "$WORK/coordinator.log")"

log "an agent gets the good probes"
out=$(timeout 15 "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret gb1)" hello) || fail "no schedule: $out"
grep -q "^schedule $v 2$" <<<"$out" || fail "schedule: $(head -n 1 <<<"$out")"
grep -q "^probe .* tcp:1$" <<<"$out" && grep -q "^probe .* icmp$" <<<"$out" || fail "probes: $out"
! grep -q "^probe $long \|^probe $ctrl " <<<"$out" || fail "a bad probe was sent: $out"
log "ok"
