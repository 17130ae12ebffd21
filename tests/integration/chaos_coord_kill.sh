#!/usr/bin/env bash
# chaos_coord_kill: the coordinator killed with SIGKILL in the middle of a heavy ingest (four
# real agents, hundreds of probes each every second against loopback: thousands of results a
# second in all), three times: at random moments of the ingest, and once for certain inside an
# ingest transaction that has written its rows (PostgreSQL must roll it back); it is
# restarted each time. Then the probes are removed, the agents drain and stop, and
# what each agent says it produced equals what the database holds: rows = acked = the sum of
# its stored batches, produced = acked + dropped + pending with nothing dropped or pending,
# and no (agent, probe, ts) stored twice.
source "$(dirname "$0")/lib.sh"
AGENTS=${PX_KILL_AGENTS:-4}
TARGETS=${PX_KILL_TARGETS:-250} # each with icmp and two tcp probes, every second
KILLS=3
new_db
start_coordinator

# tcp probes go to low ports nothing listens on: 'refused' at once, no connection, so no
# TIME_WAIT sockets that would take ephemeral ports (which other tests bind) for a minute.
PORTS=()
for p in 9 13 17 19 37 79; do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || PORTS+=("$p")
done
[ ${#PORTS[@]} -ge 2 ] || fail "no two closed low ports on loopback"

{
    echo "name,address,probes,interval,timeout,allow_internal"
    for i in $(seq "$TARGETS"); do
        echo "lo$i,127.0.0.1,icmp tcp:${PORTS[0]} tcp:${PORTS[1]},1,500,yes"
    done
} >"$WORK/targets.csv"
"$CTL" --db "$DB" target import "$WORK/targets.csv" >/dev/null
PROBES=$(sql "SELECT count(*) FROM parallax.probes")
log "$AGENTS agents x $PROBES probes every second: $((AGENTS * PROBES)) results/s scheduled"

NAMES=()
for i in $(seq "$AGENTS"); do
    NAMES+=("k$i")
    add_agent "k$i" GB
    # The default packet ceiling (1000/s) would make runs queue; the point is the ingest.
    echo "max_pps = 10000" >>"$WORK/k$i.conf"
done
declare -A APID
for n in "${NAMES[@]}"; do start_agent "$n"; APID[$n]=$LAST_PID; done

stat_of() { sed -n "s/^$2=//p" "$WORK/state-$1/stats" 2>/dev/null; }
rows() { sql "SELECT count(*) FROM parallax.results"; }
rows_of() { sql "SELECT count(*) FROM parallax.results WHERE agent_id = (SELECT id FROM parallax.agents WHERE name = '$1')"; }

# To kill the coordinator inside an ingest transaction for sure, a test-only trigger makes
# each COPY into results wait, once its rows are written, for an advisory lock this test holds
# in another session (application_name pxhold) while it wants a transaction held open.
sql "CREATE FUNCTION parallax.chaos_hold() RETURNS trigger LANGUAGE plpgsql AS
     \$\$ BEGIN PERFORM pg_advisory_xact_lock_shared(7007); RETURN NULL; END \$\$;
     CREATE TRIGGER zz_chaos_hold AFTER INSERT ON parallax.results
         FOR EACH STATEMENT EXECUTE FUNCTION parallax.chaos_hold()"
hold_start() {
    PGAPPNAME=pxhold start_bg hold psql -X -q -d "$DB_NAME" -c "SELECT pg_advisory_lock(7007)" -c "SELECT pg_sleep(120)"
    HOLD_PID=$LAST_PID
    wait_until 20 "advisory lock held" 'test "$(sql "SELECT count(*) FROM pg_locks WHERE locktype = '"'"'advisory'"'"' AND objid = 7007 AND granted AND mode = '"'"'ExclusiveLock'"'"' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")" = 1'
}
hold_end() {
    sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pxhold'" >/dev/null
    wait "$HOLD_PID" 2>/dev/null || true
}
# The id of a coordinator transaction waiting there, its rows written and not committed.
held_xid() {
    sql "SELECT backend_xid FROM pg_stat_activity WHERE datname = current_database()
         AND application_name = 'parallax-coordinator' AND wait_event = 'advisory'
         AND query LIKE 'COPY%' AND backend_xid IS NOT NULL LIMIT 1"
}

wait_until 120 "heavy ingest under way" 'test "$(rows)" -ge $((AGENTS * PROBES * 3))'
for k in $(seq "$KILLS"); do
    r0=$(rows); t0=$(date +%s%N)
    wait_until 120 "more rows before kill $k" 'test "$(rows)" -ge $((r0 + AGENTS * PROBES * 3))'
    r1=$(rows); t1=$(date +%s%N)
    log "kill $k: ingest at $(( (r1 - r0) * 1000000000 / (t1 - t0 + 1) )) rows/s, $r1 rows so far"
    if [ "$k" = 2 ]; then
        hold_start
        wait_until 60 "coordinator inside an ingest transaction, its rows written" 'test -n "$(held_xid)"'
        xid=$(held_xid)
        log "the coordinator waits inside ingest transaction $xid: kill -9 now"
        kill -KILL "$COORD_PID"
        hold_end
        # Its backend finds the client gone only once it resumes; then it must roll back.
        wait_until 60 "transaction $xid rolled back" 'test "$(sql "SELECT txid_status($xid)")" = aborted'
    else
        kill -KILL "$COORD_PID"
    fi
    wait "$COORD_PID" 2>/dev/null || true
    log "coordinator killed; the agents spool meanwhile"
    p=$(stat_of k1 pending)
    wait_until 60 "results pile up while the coordinator is dead" 'test "$(stat_of k1 pending)" -gt $((p + PROBES))'
    start_bg "coordinator-$k" "$COORD" -c "$WORK/coord.conf"
    COORD_PID=$LAST_PID
    wait_until 60 "coordinator $k back" 'grep -q "connected to the database" "$WORK/coordinator-$k.log"'
done
sql "DROP TRIGGER zz_chaos_hold ON parallax.results; DROP FUNCTION parallax.chaos_hold()"

log "load stops: every target removed; the agents drain their spools"
stop_load; V=$EMPTY_VERSION
for n in "${NAMES[@]}"; do
    wait_until 180 "$n drained on schedule $V" \
        'test "$(stat_of '"$n"' schedule_version)" = "$V" -a "$(stat_of '"$n"' pending)" = 0'
done
# Runs a loaded machine could not start on time are gap records too: wait for them as well.
skips_of() { sql "SELECT coalesce(sum(dropped_count), 0) FROM parallax.gaps g JOIN parallax.agents a ON a.id = g.agent_id WHERE a.name = '$1' AND g.reason = 'run_skipped'"; }
for n in "${NAMES[@]}"; do
    wait_until 60 "$n's skipped runs stored" 'test "$(skips_of '"$n"')" = "$(stat_of '"$n"' runs_skipped)"'
done
for n in "${NAMES[@]}"; do kill -TERM "${APID[$n]}"; done
for n in "${NAMES[@]}"; do wait "${APID[$n]}" || fail "agent $n exit status $?"; done

for n in "${NAMES[@]}"; do
    produced=$(stat_of "$n" produced); acked=$(stat_of "$n" acked); dropped=$(stat_of "$n" dropped)
    pending=$(stat_of "$n" pending); rejected=$(stat_of "$n" rejected_results)
    r=$(rows_of "$n")
    b=$(sql "SELECT coalesce(sum(results), 0) FROM parallax.batches WHERE agent_id = (SELECT id FROM parallax.agents WHERE name = '$n')")
    log "$n: produced=$produced acked=$acked dropped=$dropped pending=$pending rejected=$rejected rows=$r batch_results=$b runs_skipped=$(stat_of "$n" runs_skipped) (late $(stat_of "$n" runs_skipped_late), busy $(stat_of "$n" runs_skipped_busy))"
    [ "$produced" -gt 0 ] || fail "$n produced nothing"
    [ "$r" = "$acked" ] || fail "$n: rows $r != acked $acked"
    [ "$b" = "$acked" ] || fail "$n: stored batches hold $b results, acked $acked"
    [ "$produced" = $((acked + dropped + pending + rejected)) ] || fail "$n: produced != acked + dropped + pending + rejected"
    [ "$dropped" = 0 ] || fail "$n: $dropped results dropped"
    [ "$pending" = 0 ] || fail "$n: $pending results still pending at exit"
    [ "$rejected" = 0 ] || fail "$n: $rejected results rejected"
done
dups=$(sql "SELECT count(*) FROM (SELECT 1 FROM parallax.results GROUP BY agent_id, probe_id, ts HAVING count(*) > 1) d")
[ "$dups" = 0 ] || fail "$dups (agent, probe, ts) keys stored more than once"
[ "$(sql "SELECT count(*) FROM parallax.gaps WHERE reason = 'spool_dropped'")" = 0 ] || fail "spool-drop gap records although nothing was dropped"
resent=$(cat "$WORK"/coordinator*.log | grep -c "already stored; acknowledging again" || true)
log "total rows $(rows); batches the agents resent after a kill and the coordinator recognised: $resent"
# A clean stop of the coordinator (under the sanitizers this is where leaks are reported).
kill -TERM "$COORD_PID"; wait "$COORD_PID" || fail "coordinator exit status $?"
log "ok"
