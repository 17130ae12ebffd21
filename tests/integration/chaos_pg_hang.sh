#!/usr/bin/env bash
# chaos_pg_hang: the database stops answering without closing the connection (the
# coordinator's backend is frozen with SIGSTOP, as a hung server or a black-holed network
# would look). The coordinator's statement deadline drops the connection instead of waiting
# forever, it reconnects to a fresh backend, and a fake agent resending until acked ends with
# every batch stored exactly once. Private cluster: freezing backends disturbs no other test.
set -euo pipefail
PX_PRIVATE_PG=1 source "$(dirname "$0")/lib.sh"
FROZEN=
on_exit "[ -z \"\$FROZEN\" ] || kill -CONT \$FROZEN 2>/dev/null"
new_db
start_coordinator
add_agent gb1 GB
"$CTL" --db "$DB" target add web --address 127.0.0.1 --probe tcp:1 --interval 5 >/dev/null
PROBE=$(sql "SELECT id FROM parallax.probes LIMIT 1")
backend() { sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'parallax-coordinator' AND datname = current_database()"; }
wait_until 10 "the coordinator's backend" 'test -n "$(backend)"'

start_bg stream "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret gb1)" stream 7 1 30 "$PROBE" 10 100
STREAM_PID=$LAST_PID
wait_until 30 "some batches stored" 'test "$(sql "SELECT count(*) FROM parallax.batches")" -ge 3'

FROZEN=$(backend)
log "freezing backend $FROZEN"
kill -STOP "$FROZEN"
# Statement deadline: statement_timeout (5 s) + 3 s, or 33 s if the merge was running.
wait_until 60 "the coordinator gives up on the frozen backend" 'grep -q "did not answer in time; connection dropped" "$WORK/coordinator.log"'
kill -0 "$COORD_PID" || fail "coordinator died"
wait_until 30 "a new backend" 'test -n "$(backend)" && test "$(backend)" != "$FROZEN"'
log "thawing $FROZEN (it finds its client gone and rolls back)"
kill -CONT "$FROZEN"
FROZEN=
wait_until 90 "the stream completes" '! kill -0 $STREAM_PID'
wait "$STREAM_PID" || fail "stream did not complete (exit $?)"
grep -q "^done 30 " "$WORK/stream.log" || fail "stream: $(tail -n 3 "$WORK/stream.log")"
[ "$(sql "SELECT count(*) FROM parallax.batches")" = 30 ] || fail "batches: $(sql "SELECT count(*) FROM parallax.batches")"
[ "$(sql "SELECT count(*) FROM parallax.results")" = 300 ] || fail "rows: $(sql "SELECT count(*) FROM parallax.results")"
log "ok"
