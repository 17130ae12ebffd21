#!/usr/bin/env bash
# chaos_pg_restart: PostgreSQL stopped and started again under a running coordinator, while a
# fake agent streams batches and resends each until it is stored. The coordinator answers
# "retry" while the database is away, never crashes, reconnects with back-off, LISTENs again
# (a schedule change made after the restart reaches the agent) — and in the end every batch
# is stored exactly once: 0 lost, 0 duplicated.
# Uses a private cluster of its own, so stopping it disturbs no other test.
set -euo pipefail
PX_PRIVATE_PG=1 source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent gb1 GB
"$CTL" --db "$DB" target add web --address 127.0.0.1 --probe tcp:1 --interval 5 >/dev/null
PROBE=$(sql "SELECT id FROM parallax.probes LIMIT 1")
BATCHES=60
PER=20

log "streaming $BATCHES batches of $PER results, one every 100 ms"
start_bg stream "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret gb1)" \
    stream 31337 1 $BATCHES "$PROBE" $PER 100
STREAM_PID=$LAST_PID
wait_until 30 "some batches stored" 'test "$(sql "SELECT count(*) FROM parallax.batches")" -ge 5'

log "stopping PostgreSQL"
"$PX_SOURCE_DIR/scripts/pg.sh" stop "$PRIVATE_PG"
wait_until 30 "the agent is told to retry" 'grep -q "^retry" "$WORK/stream.log"'
grep -q "retry .*: database not connected\|retry .*: .*connection" "$WORK/stream.log" \
    || fail "retry without a reason: $(grep '^retry' "$WORK/stream.log" | head -n 1)"
stored_before=$(grep -c '^stored' "$WORK/stream.log")
kill -0 "$COORD_PID" || fail "coordinator died when the database went away"

log "the coordinator backs off rather than spinning, the loop and the merge's thread each"
# The loop's reconnect attempts; the merge's thread logs its own, prefixed "merge:".
loop_retries() { grep -v " merge: " "$WORK/coordinator.log" | grep -c "retrying in" || true; }
wait_until 30 "two reconnect attempts" 'test "$(loop_retries)" -ge 2'
cpu_before=$(awk '{print $14 + $15}' "/proc/$COORD_PID/stat")
wait_until 30 "more reconnect attempts" 'test "$(loop_retries)" -ge 4'
cpu_after=$(awk '{print $14 + $15}' "/proc/$COORD_PID/stat")
[ $((cpu_after - cpu_before)) -lt 100 ] || fail "coordinator burnt $((cpu_after - cpu_before)) ticks while the database was down"
grep -v " merge: " "$WORK/coordinator.log" | grep -Eq "retrying in (1000|2000|4000|8000|10000) ms" ||
    fail "back-off does not grow"
grep " merge: " "$WORK/coordinator.log" | grep -Eq "retrying in (1000|2000|4000|8000|10000) ms" ||
    fail "the merge's back-off does not grow"

log "starting PostgreSQL again"
"$PX_SOURCE_DIR/scripts/pg.sh" start "$PRIVATE_PG" >/dev/null
wait_until 60 "the stream completes" '! kill -0 $STREAM_PID'
wait "$STREAM_PID" || fail "stream did not complete (exit $?)"
grep -q "^done $BATCHES " "$WORK/stream.log" || fail "stream: $(tail -n 3 "$WORK/stream.log")"
[ "$(grep -c '^stored' "$WORK/stream.log")" -gt "$stored_before" ] || fail "nothing stored after the restart"
[ "$(grep -c "connected to the database" "$WORK/coordinator.log")" -ge 2 ] || fail "no reconnect logged"
wait_until 20 "the merge reconnected" 'test "$(grep -c "merge: its own database session is ready" "$WORK/coordinator.log")" -ge 2'


log "exactly once: $BATCHES batches, $((BATCHES * PER)) rows, no duplicates"
[ "$(sql "SELECT count(*) FROM parallax.batches")" = $BATCHES ] || fail "batches: $(sql "SELECT count(*) FROM parallax.batches")"
[ "$(sql "SELECT count(*) FROM parallax.results")" = $((BATCHES * PER)) ] || fail "rows: $(sql "SELECT count(*) FROM parallax.results")"
[ "$(sql "SELECT count(DISTINCT ts) FROM parallax.results")" = $((BATCHES * PER)) ] || fail "duplicated rows"

log "LISTEN is back: a schedule change after the restart reaches a connected agent"
start_bg follow "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret gb1)" follow 60
wait_until 20 "first schedule" 'grep -q "^schedule" "$WORK/follow.log"'
"$CTL" --db "$DB" target add web2 --address 127.0.0.1 --probe tcp:2 --interval 5 >/dev/null
wait_until 5 "the new schedule" 'grep "^schedule" "$WORK/follow.log" | awk "{print \$3}" | grep -qx 2'
kill -0 "$COORD_PID" || fail "coordinator died"
log "ok"
