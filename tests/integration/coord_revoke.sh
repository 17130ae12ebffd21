#!/usr/bin/env bash
# coord_revoke: revocation cuts at once (issue 16). A connected agent that is disabled gets
# no schedule over the connection it still has, and nothing it sends is processed; an
# allow-list reload that fails (a lock held by an operator) is retried until it succeeds,
# though the notification that asked for it was consumed.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent gb1 GB
"$CTL" --db "$DB" target add web --address 127.0.0.1 --probe tcp:1 --interval 5 >/dev/null
PROBE=$(sql "SELECT min(id) FROM parallax.probes")
# Bounded: a refused client's DEALER has no peer, and its send would wait forever.
client() { timeout 15 "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret gb1)" "$@"; }

log "a connected agent follows its schedule"
start_bg follow client follow 60
wait_until 20 "first schedule" 'grep -q "^schedule" "$WORK/follow.log"'

log "disabled: its session ends, a new schedule does not reach it"
loads=$(grep -c "allow-list loaded" "$WORK/coordinator.log")
"$CTL" --db "$DB" agent disable gb1 >/dev/null
wait_until 10 "the session ended" 'grep -q "ended 1 session of agents no longer admitted" "$WORK/coordinator.log"'
before=$(grep -c "^schedule" "$WORK/follow.log")
"$CTL" --db "$DB" target add web2 --address 127.0.0.1 --probe tcp:2 --interval 5 >/dev/null
v=$(sql "SELECT max(version) FROM parallax.schedule_versions")
wait_until 10 "the coordinator made the new schedule" 'grep -q "schedule version $v:" "$WORK/coordinator.log"'
# Its connection is still up and it goes on sending (the follower heartbeats every 2 s): each
# is dropped. A push would have been sent before the coordinator logged the new version.
wait_until 10 "its messages dropped" 'grep -q "dropped a message from disabled agent gb1" "$WORK/coordinator.log"'
[ "$(grep -c "^schedule" "$WORK/follow.log")" = "$before" ] ||
    fail "the disabled agent got a schedule: $(tail -n 2 "$WORK/follow.log")"
out=$(timeout 8 "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret gb1)" batch 7 1 "$PROBE" 3 2>&1) &&
    fail "the disabled agent's batch was acknowledged: $out"
[ "$(sql "SELECT count(*) FROM parallax.results")" = 0 ] || fail "the disabled agent's results were stored"

log "a reload that fails behind a held lock is retried until it succeeds"
# Enable without the trigger's notification, then hold the table while a notification
# arrives from another session: the reload waits for lock_timeout, fails, and is tried again.
sql "ALTER TABLE parallax.agents DISABLE TRIGGER agents_notify;
     UPDATE parallax.agents SET enabled = true WHERE name = 'gb1';
     ALTER TABLE parallax.agents ENABLE TRIGGER agents_notify"
psql -X -q -d "$DB_NAME" -c "BEGIN; LOCK TABLE parallax.agents IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(5); COMMIT" \
    >"$WORK/lock.log" 2>&1 &
LOCK_PID=$!
wait_until 10 "the lock is held" \
    'test "$(sql "SELECT count(*) FROM pg_locks WHERE relation = '"'"'parallax.agents'"'"'::regclass AND mode = '"'"'AccessExclusiveLock'"'"' AND granted")" -ge 1'
loads=$(grep -c "allow-list loaded" "$WORK/coordinator.log")
sql "SELECT pg_notify('parallax_agents', '')" >/dev/null
wait_until 15 "the reload failed" 'grep -q "loading agents.*trying again" "$WORK/coordinator.log"'
wait "$LOCK_PID" || fail "the lock holder failed: $(cat "$WORK/lock.log")"
wait_until 15 "the reload retried and applied" 'test "$(grep -c "allow-list loaded" "$WORK/coordinator.log")" -gt "$loads"'
out=$(client batch 8 1 "$PROBE" 3) || fail "the enabled agent's batch was not acknowledged: $out"
[ "$(sql "SELECT count(*) FROM parallax.results")" = 3 ] || fail "results after enabling: $(sql "SELECT count(*) FROM parallax.results")"
log "ok"
