#!/usr/bin/env bash
# merge_concurrent: the merge on its own connection never deadlocks with the ingest, nor
# makes it wait (issue 15). A long re-merge of stored history runs in the coordinator while
# three agents ingest at full rate into the very bins being merged, a fourth sends late
# spooled batches with a gap record, and a fifth heartbeats with a clock that moves (each
# move queues its bins again). Then: PostgreSQL counted no deadlock, no batch was told to
# retry, every batch is stored exactly once, the re-merge was still going when the ingest
# ended (so they overlapped), and once it is done the stored verdicts equal a merge from
# scratch (parallaxctl verify), so nothing the ingest queued meanwhile was lost.
# Run it 20 times: for i in $(seq 20); do ctest -R merge_concurrent || break; done
set -euo pipefail
source "$(dirname "$0")/lib.sh"
new_db
TARGETS=${PX_TEST_TARGETS:-150}
HOURS=2
start_coordinator
"$PXCLIENT" keygen 6 >"$WORK/keys"
# f1-f3 flood, h1-h3 have the history; late and clock are registered by parallaxctl.
awk 'NR <= 3 { printf "f%d\tNL\t%s\t2000-01-01\n", NR, $1 } NR > 3 { printf "h%d\tDE\t%s\t2000-01-01\n", NR - 3, $1 }' \
    "$WORK/keys" >"$WORK/agents.tsv"
sql "\\copy parallax.agents (name, country, public_key, created_at) FROM '$WORK/agents.tsv'"
add_agent late GB
add_agent clock FR
sql "INSERT INTO parallax.targets (name, address, group_name)
     SELECT 't' || i, ('198.18.' || (i / 250) || '.' || (i % 250 + 1))::inet, 'g' || (i % 5)
     FROM generate_series(1, $TARGETS) i"
sql "INSERT INTO parallax.probes (target_id, kind, spec, interval_s) SELECT id, 'icmp', 'icmp', 60 FROM parallax.targets ORDER BY id"
PROBE=$(sql "SELECT min(id) FROM parallax.probes")

log "$HOURS h of history for $TARGETS targets from 3 vantages, stored unmerged, then queued again"
sql "SELECT parallax.ensure_partition(d::date)
     FROM generate_series(now() - interval '$HOURS hours' - interval '1 day', now(), interval '1 day') d" >/dev/null
sql "SET session_replication_role = replica;
     INSERT INTO parallax.results (ts, agent_id, probe_id, status, rtt_ms)
     SELECT m + (p.id % 60) * interval '1 second', a.id, p.id,
            CASE WHEN (p.id + a.id + extract(epoch FROM m)::bigint / 60) % 40 = 0 THEN 'timeout' ELSE 'ok' END::parallax.status,
            20 + p.id % 7
     FROM generate_series(date_trunc('minute', now()) - interval '$HOURS hours', now() - interval '3 minutes', interval '1 minute') m
     CROSS JOIN parallax.probes p
     CROSS JOIN (SELECT id FROM parallax.agents WHERE name LIKE 'h%') a"
deadlocks_before=$(sql "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
queued=$(sql "SELECT parallax.merge_mark(date_trunc('minute', now()) - interval '$HOURS hours', now())")
marked_at=$(sql "SELECT now()")
[ "$queued" -gt 1000 ] || fail "only $queued bins queued"
backlog() { sql "SELECT count(*) FROM parallax.merge_queue WHERE closes_at <= '$marked_at'"; }
wait_until 30 "the re-merge started" 'grep -q "merge: its own database session is ready" "$WORK/coordinator.log"'

log "while it runs: 3 agents at full rate, late spooled batches with a gap, a moving clock"
start_bg flood "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" flood "$WORK/keys" 3 30 1000 "$TARGETS" 4
FLOOD_PID=$LAST_PID
start_bg late "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret late)" -g "0:3600:1800:50" \
    stream 7 1 20 "$PROBE" 50 50
LATE_PID=$LAST_PID
start_bg clock "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret clock)" heartbeats 20 100 3000
CLOCK_PID=$LAST_PID
for pid in $FLOOD_PID $LATE_PID $CLOCK_PID; do
    wait "$pid" || fail "a client failed (exit $?): $(tail -n 3 "$WORK"/flood.log "$WORK"/late.log "$WORK"/clock.log)"
done
left=$(backlog)
log "the ingest is done; $left bins of the re-merge still queued"
[ "$left" -gt 0 ] || fail "the re-merge ended before the ingest: no overlap was tested (raise PX_TEST_TARGETS)"

log "every batch stored once, none told to retry"
grep -q "^flood agents 3 batches 90 stored 90 " "$WORK/flood.log" || fail "flood: $(cat "$WORK/flood.log")"
grep -q " retries 0$" "$WORK/flood.log" || fail "batches were told to retry: $(cat "$WORK/flood.log")"
grep -q "^done 20 " "$WORK/late.log" || fail "late stream: $(tail -n 3 "$WORK/late.log")"
! grep -q "^retry" "$WORK/late.log" || fail "late batches were told to retry: $(grep '^retry' "$WORK/late.log" | head -n 3)"
[ "$(sql "SELECT count(*) FROM parallax.results r JOIN parallax.agents a ON a.id = r.agent_id WHERE a.name LIKE 'f%'")" = 90000 ] ||
    fail "flood rows stored: $(sql "SELECT count(*) FROM parallax.results r JOIN parallax.agents a ON a.id = r.agent_id WHERE a.name LIKE 'f%'")"
[ "$(sql "SELECT count(*) FROM parallax.gaps")" -ge 1 ] || fail "the gap record was not stored"
grep -q "clock offset changed; [0-9]* bins queued to merge again" "$WORK/coordinator.log" ||
    fail "the moving clock queued nothing to merge again"

log "the re-merge finishes, and equals a merge from scratch"
wait_until 240 "the re-merge drained" 'test "$(backlog)" = 0'
deadlocks=$(( $(sql "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()") - deadlocks_before ))
[ "$deadlocks" = 0 ] || fail "PostgreSQL counted $deadlocks deadlocks"
! grep -Eiq "deadlock|lock timeout" "$WORK/coordinator.log" ||
    fail "the coordinator met a lock: $(grep -Ei "deadlock|lock timeout" "$WORK/coordinator.log" | head -n 3)"
kill -TERM "$COORD_PID"
wait "$COORD_PID" || true
"$CTL" --db "$DB" verify --all >"$WORK/verify.out" 2>&1 || true
grep -q "every bin and outage equals a merge from scratch" "$WORK/verify.out" ||
    fail "verify: $(head -n 30 "$WORK/verify.out")"
log "ok"
