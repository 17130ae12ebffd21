#!/usr/bin/env bash
# coord_schedule_poison: one bad probes row (a spec over 1,023 bytes, a control character)
# once made the whole schedule unsendable to every agent (issue 16). Now such a row is left
# out with a warning naming it, and every agent gets the rest; and the database refuses to
# store such a spec in the first place.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent gb1 GB
"$CTL" --db "$DB" target add web --address 127.0.0.1 --probe tcp:1 --probe icmp --interval 5 >/dev/null
tid=$(sql "SELECT id FROM parallax.targets WHERE name = 'web'")
LONG="INSERT INTO parallax.probes (target_id, kind, spec, interval_s)
      VALUES ($tid, 'http', 'http://web/' || repeat('a', 1100), 5) RETURNING id"
CTRL="INSERT INTO parallax.probes (target_id, kind, spec, interval_s)
      VALUES ($tid, 'tcp', E'tcp:80\\x01', 5) RETURNING id"
log "the database refuses such rows itself (migration 007)"
for q in "$LONG" "$CTRL"; do
    err=$(sql "$q" 2>&1) && fail "the database took a spec no agent can be sent"
    grep -q 'probes_spec_sendable' <<<"$err" || fail "refused, but not by the spec check: $err"
done
log "rows from before the check (written as an operator's hand or a bug might) are left out"
# A database from before migration 007: the constraint it adds NOT VALID, old rows unchecked.
def=$(sql "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'probes_spec_sendable'")
sql "ALTER TABLE parallax.probes DROP CONSTRAINT probes_spec_sendable"
long=$(sql "$LONG")
ctrl=$(sql "$CTRL")
sql "ALTER TABLE parallax.probes ADD CONSTRAINT probes_spec_sendable ${def% NOT VALID} NOT VALID"
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
