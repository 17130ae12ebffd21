#!/usr/bin/env bash
# coord_auth: only enabled, registered keys get anything stored; identity comes from the key,
# never from the payload; a batch sent again is acknowledged and stored once; garbage is
# survived. Uses pxclient to send exactly the messages each case needs.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent gb1 GB
add_agent de1 DE
"$CTL" --db "$DB" target add web --address 127.0.0.1 --probe tcp:1 --interval 5 >/dev/null
PROBE=$(sql "SELECT id FROM parallax.probes LIMIT 1")
client() { "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" "$@"; }
rows() { sql "SELECT count(*) FROM parallax.results r JOIN parallax.agents a ON a.id = r.agent_id WHERE a.name = '$1'"; }

log "a registered agent gets its schedule"
out=$(client -s "$(agent_secret gb1)" hello) || fail "hello from gb1 got no schedule"
grep -q "^probe $PROBE tcp:1\$" <<<"$out" || fail "schedule lacks the probe: $out"

log "a batch sent three times is acknowledged three times and stored once"
out=$(client -s "$(agent_secret gb1)" batch 4242 1 "$PROBE" 7 3)
[ "$(grep -c '^ack 1 stored$' <<<"$out")" = 3 ] || fail "expected 3 stored acks, got: $out"
[ "$(rows gb1)" = 7 ] || fail "expected 7 rows for gb1, got $(rows gb1)"
[ "$(sql "SELECT count(*) FROM parallax.batches")" = 1 ] || fail "batch recorded more than once"

log "an agent claiming another's name stores as itself"
out=$(client -s "$(agent_secret de1)" hello gb1) || fail "hello from de1 failed"
client -s "$(agent_secret de1)" batch 99 1 "$PROBE" 3 >/dev/null || fail "batch from de1 not acked"
[ "$(rows de1)" = 3 ] || fail "de1's results not stored as de1"
[ "$(rows gb1)" = 7 ] || fail "de1 managed to store results as gb1"
grep -q "introduced itself as 'gb1'" "$WORK/coordinator.log" || fail "impersonation not logged"

log "an unregistered key is refused and stores nothing"
"$PX_BUILD_DIR/tests/pxclient" -e "$COORD_EP" -k "$COORD_KEY" -s 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7' \
    batch 5 1 "$PROBE" 2 && fail "unregistered key got an ack"
grep -q "refused connection from unregistered key" "$WORK/coordinator.log" || fail "refusal not logged"

log "refused handshakes are logged once a minute per key, not once each"
for _ in 1 2 3; do
    # A DEALER with no peer blocks on send: the handshake fails, so timeout ends it.
    timeout 3 "$PX_BUILD_DIR/tests/pxclient" -e "$COORD_EP" -k "$COORD_KEY" -s 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7' \
        chatter 1 100 >/dev/null || true
done
[ "$(grep -c "refused connection from unregistered key" "$WORK/coordinator.log")" = 1 ] ||
    fail "four refused connections, $(grep -c "refused connection from unregistered key" "$WORK/coordinator.log") lines"

log "a disabled agent is refused and stores nothing"
loads=$(grep -c "allow-list loaded" "$WORK/coordinator.log")
"$CTL" --db "$DB" agent disable gb1 >/dev/null
wait_until 5 "allow-list reloaded" 'test "$(grep -c "allow-list loaded" "$WORK/coordinator.log")" -gt "$loads"'
client -s "$(agent_secret gb1)" batch 4242 2 "$PROBE" 4 && fail "disabled agent got an ack"
[ "$(rows gb1)" = 7 ] || fail "disabled agent stored results"

log "garbage is dropped and the coordinator keeps serving"
client -s "$(agent_secret de1)" garbage >/dev/null || fail "no answer after garbage"
grep -q "dropped a bad message" "$WORK/coordinator.log" || fail "bad message not logged"
kill -0 "$COORD_PID" || fail "coordinator died"
[ "$(sql "SELECT count(*) FROM parallax.results")" = 10 ] || fail "unexpected rows in results"
log "ok"
