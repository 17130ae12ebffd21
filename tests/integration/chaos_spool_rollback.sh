#!/usr/bin/env bash
# chaos_spool_rollback: an agent whose state directory is put back to an older copy of itself
# (a VM snapshot rolled back, a backup restored) loses nothing it measures afterwards. The
# copy's spool knows only the seqs up to the snapshot; the coordinator has stored more under
# the same stream. Were new batches named (that stream, next seq) again, the coordinator would
# take them for resends, ack them as duplicates and throw them away. So: every result the
# agent produces after the restore is in the database, and its batches go under a new stream.
source "$PX_SOURCE_DIR/tests/integration/lib.sh"
new_db
start_coordinator
add_agent gb1 GB
"$CTL" --db "$DB" target add self --address 127.0.0.1 --allow-internal --probe "tcp:${COORD_EP##*:}" --probe icmp --interval 1 >/dev/null
STATE="$WORK/state-gb1"
STATS="$STATE/stats"
stat_of() { sed -n "s/^$1=//p" "$STATS" 2>/dev/null; }
batches() { sql "SELECT count(*) FROM parallax.batches"; }

start_agent gb1; A=$LAST_PID
wait_until 30 "first batches stored" 'test "$(batches)" -ge 3'
log "snapshot of the state directory (the agent frozen meanwhile, as a VM snapshot would)"
kill -STOP $A
cp -a "$STATE" "$WORK/snapshot"
kill -CONT $A
n=$(batches)
wait_until 60 "more batches stored after the snapshot" 'test "$(batches)" -ge $((n + 4))'
kill -TERM $A; wait $A || fail "agent exit status $?"
log "state directory rolled back to the snapshot; agent started again"
rm -rf "$STATE"
cp -a "$WORK/snapshot" "$STATE"
rm -f "$STATS"
t0=$(date +%s%6N)
start_agent gb1; A=$LAST_PID
wait_until 30 "agent restarted" 'test "$(stat_of pid)" = "$A"'
p0=$(stat_of produced); d0=$(stat_of dropped)
m=$(batches)
wait_until 60 "batches stored after the rollback" 'test "$(batches)" -ge $((m + 6))'
log "load stops; the agent drains its spool"
stop_load
wait_until 60 "spool drained" \
    'test "$(stat_of schedule_version)" = "$EMPTY_VERSION" -a "$(stat_of pending)" = 0'
kill -TERM $A; wait $A || fail "agent exit status $?"
p1=$(stat_of produced); d1=$(stat_of dropped)
new=$(sql "SELECT count(*) FROM parallax.results WHERE ts >= to_timestamp($t0 / 1e6)")
streams=$(sql "SELECT count(DISTINCT stream) FROM parallax.batches")
log "after the rollback: produced $((p1 - p0)), stored $new; streams $streams"
[ "$d1" = "$d0" ] || fail "the spool dropped $((d1 - d0)) results"
[ $((p1 - p0)) -gt 0 ] || fail "nothing produced after the rollback"
[ "$new" = $((p1 - p0)) ] || fail "$((p1 - p0)) results produced after the rollback, $new stored: the rest were taken for duplicates"
[ "$streams" -ge 2 ] || fail "the batches after the rollback went under the old stream"
log "ok"
