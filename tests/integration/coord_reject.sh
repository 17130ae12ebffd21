#!/usr/bin/env bash
# coord_reject: a batch the database will never take is answered "rejected" with the reason
# (and logged), not "retry"; it costs no other batch its place; results of a probe that was
# removed since are still evidence and are stored; a batch that collides with rows stored
# under another stream keeps its new rows and drops the old ones.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent gb1 GB
"$CTL" --db "$DB" target add web --address 127.0.0.1 --probe tcp:1 --probe tcp:2 --interval 5 >/dev/null
P1=$(sql "SELECT min(id) FROM parallax.probes")
P2=$(sql "SELECT max(id) FROM parallax.probes")
client() { "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret gb1)" "$@"; }

log "a result naming a probe id that was never issued: rejected with the reason"
out=$(client batch 5 1 999999 3)
grep -q '^ack 1 rejected: result 0 names probe 999999, which does not exist$' <<<"$out" || fail "got: $out"
grep -q "batch 1 rejected: result 0 names probe 999999" "$WORK/coordinator.log" || fail "rejection not logged"
[ "$(sql "SELECT count(*) FROM parallax.batches")" = 0 ] || fail "rejected batch recorded"

log "the next batch is stored as usual"
out=$(client batch 5 2 "$P1" 4)
[ "$out" = "ack 2 stored" ] || fail "got: $out"

log "results of a probe removed since are stored (evidence outlives configuration)"
"$CTL" --db "$DB" target remove web >/dev/null
out=$(client batch 5 3 "$P2" 2)
[ "$out" = "ack 3 stored" ] || fail "removed probe: $out"
[ "$(sql "SELECT count(*) FROM parallax.results WHERE probe_id = $P2")" = 2 ] || fail "removed probe's results not stored"

log "a new stream resending rows already stored: the batch is stored, old rows kept once"
out=$(client batch 6 1 "$P1" 6)
[ "$out" = "ack 1 stored" ] || fail "overlapping batch: $out"
[ "$(sql "SELECT count(*) FROM parallax.results WHERE probe_id = $P1")" -ge 6 ] || fail "overlap lost rows"
[ "$(sql "SELECT count(*) FROM (SELECT 1 FROM parallax.results GROUP BY agent_id, probe_id, ts HAVING count(*) > 1) d")" = 0 ] \
    || fail "duplicate rows"
kill -0 "$COORD_PID" || fail "coordinator died"
log "ok"
