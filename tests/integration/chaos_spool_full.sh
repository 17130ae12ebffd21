#!/usr/bin/env bash
# chaos_spool_full: an agent with the smallest spool (1 MiB) keeps probing hundreds of
# loopback targets a second while the coordinator is away, until its spool has dropped its
# oldest segments more times than it has segments (so gap records are carried over too); a
# second agent with the default spool drops nothing. The small one is stopped, the coordinator
# comes back, the load stops, the small one restarts (its counters rebuilt from its spool)
# and drains. Then: every agent's rows = acked, produced = acked + dropped + pending (pending
# 0), no (agent, probe, ts) twice; the small one's drops are gap records in parallax.gaps
# summing to its own `dropped` counter, and `parallaxctl agent list` (table and --json) shows
# each agent's drops equal to its `dropped` counter.
source "$(dirname "$0")/lib.sh"
TARGETS=${PX_SPOOL_TARGETS:-250} # each with icmp and tcp, every second
# Segments to drop: more than the spool holds (16), so gap records themselves are in dropped
# segments and must be carried over, not lost or counted twice.
DROPS=${PX_SPOOL_DROPS:-20}
new_db
start_coordinator
# tcp probes go to a low port nothing listens on: 'refused' at once, no connection, so no
# TIME_WAIT sockets that would take ephemeral ports (which other tests bind) for a minute.
CLOSED_PORT=
for p in 9 13 17 19 37 79; do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { CLOSED_PORT=$p; break; }
done
[ -n "$CLOSED_PORT" ] || fail "no closed low port on loopback"
{
    echo "name,address,probes,interval,timeout,allow_internal"
    for i in $(seq "$TARGETS"); do echo "lo$i,127.0.0.1,icmp tcp:$CLOSED_PORT,1,500,yes"; done
} >"$WORK/targets.csv"
"$CTL" --db "$DB" target import "$WORK/targets.csv" >/dev/null

add_agent small GB
add_agent big DE
printf 'spool_max_bytes = 1048576\nmax_pps = 10000\n' >>"$WORK/small.conf"
printf 'max_pps = 10000\n' >>"$WORK/big.conf"
T_START=$(date +%s)
start_agent small; SMALL=$LAST_PID
start_agent big; BIG=$LAST_PID

stat_of() { sed -n "s/^$2=//p" "$WORK/state-$1/stats" 2>/dev/null; }
agent_id() { sql "SELECT id FROM parallax.agents WHERE name = '$1'"; }
rows_of() { sql "SELECT count(*) FROM parallax.results WHERE agent_id = $(agent_id "$1")"; }

wait_until 60 "both agents delivering" 'test "$(rows_of small)" -gt 1000 -a "$(rows_of big)" -gt 1000'
log "the coordinator goes away; the agents spool"
kill -TERM "$COORD_PID"; wait "$COORD_PID" || fail "coordinator exit status $?"
# Each drop removes one 64 KiB segment (and makes one gap record: more than 16 probes lost
# results, so it covers every probe).
wait_until 180 "the small spool dropping its oldest segment $DROPS times" \
    'test "$(stat_of small gaps)" -ge "$DROPS" -a "$(stat_of small dropped)" -gt 0'
log "small: dropped=$(stat_of small dropped) gaps=$(stat_of small gaps) spool_bytes=$(stat_of small spool_bytes) segments=$(stat_of small segments)"
[ "$(stat_of small spool_bytes)" -le $((1048576 + 256 * 1024)) ] || fail "the spool grew past its bound: $(stat_of small spool_bytes) bytes"
[ "$(stat_of big dropped)" = 0 ] || fail "the default spool dropped results"

# The small agent stops here and comes back only once the schedule is empty, with its saved
# schedule removed, so that it produces nothing while its full spool drains: what is checked
# after the restart is that its counters are rebuilt from the spool. (A full spool never
# drops a segment holding a batch sent and not answered — it may be stored already; the unit
# test test_full_spool_keeps_batches_in_flight covers that race.)
kill -TERM "$SMALL"; wait "$SMALL" || fail "agent small exit status $?"
declare -A AT_EXIT
for k in produced acked dropped gaps pending; do AT_EXIT[$k]=$(stat_of small "$k"); done

log "the coordinator is back"
start_bg coordinator2 "$COORD" -c "$WORK/coord.conf"
COORD_PID=$LAST_PID
wait_until 60 "coordinator back" 'grep -q "connected to the database" "$WORK/coordinator2.log"'

log "load stops: every target removed; the agents drain their spools"
stop_load; V=$EMPTY_VERSION
rm -f "$WORK/state-small/schedule"
start_agent small; SMALL=$LAST_PID
# Its lifetime counters are rebuilt from the spool (segment headers, drop and gap records).
wait_until 30 "small restarted" 'test "$(stat_of small pid)" = "$SMALL"'
for k in produced dropped gaps; do
    [ "$(stat_of small "$k")" = "${AT_EXIT[$k]}" ] || fail "small: $k was ${AT_EXIT[$k]} at exit, $(stat_of small "$k") after the restart"
done
wait_until 120 "gap records stored" 'test "$(sql "SELECT count(*) FROM parallax.gaps")" -gt 0'
for n in small big; do
    wait_until 180 "$n drained on schedule $V" \
        'test "$(stat_of '"$n"' schedule_version)" = "$V" -a "$(stat_of '"$n"' pending)" = 0'
done
[ "$(stat_of small produced)" = "${AT_EXIT[produced]}" ] || fail "the restarted small agent probed"
kill -TERM "$SMALL" "$BIG"
wait "$SMALL" || fail "agent small exit status $?"
wait "$BIG" || fail "agent big exit status $?"

"$CTL" --db "$DB" agent list >"$WORK/list.txt"
"$CTL" --db "$DB" agent list --json >"$WORK/list.json"
cat "$WORK/list.txt" >&2
# The table's DROPS column, found by its header (empty cells, e.g. ASN, would shift fields).
drops_in_table() {
    awk -v who="$1" 'NR == 1 { c = index($0, "DROPS"); next }
        substr($0, 1, length(who) + 1) == who " " { s = substr($0, c); sub(/ .*/, "", s); print s }' "$WORK/list.txt"
}
for n in small big; do
    produced=$(stat_of "$n" produced); acked=$(stat_of "$n" acked); dropped=$(stat_of "$n" dropped)
    pending=$(stat_of "$n" pending); rejected=$(stat_of "$n" rejected_results)
    r=$(rows_of "$n")
    # Spool drops only: a loaded machine may also skip runs, reported as run_skipped gaps.
    gap_sum=$(sql "SELECT coalesce(sum(dropped_count), 0) FROM parallax.gaps WHERE agent_id = $(agent_id "$n") AND reason = 'spool_dropped'")
    skip_sum=$(sql "SELECT coalesce(sum(dropped_count), 0) FROM parallax.gaps WHERE agent_id = $(agent_id "$n") AND reason = 'run_skipped'")
    gap_rows=$(sql "SELECT count(*) FROM parallax.gaps WHERE agent_id = $(agent_id "$n")")
    batch_gaps=$(sql "SELECT coalesce(sum(gaps), 0) FROM parallax.batches WHERE agent_id = $(agent_id "$n")")
    json_drops=$(jq -r --arg n "$n" '.[] | select(.name == $n) | .dropped' "$WORK/list.json")
    table_drops=$(drops_in_table "$n")
    log "$n: produced=$produced acked=$acked dropped=$dropped pending=$pending rows=$r gap_records=$gap_rows (agent made $(stat_of "$n" gaps), batches carried $batch_gaps) gap_sum=$gap_sum list=$table_drops json=$json_drops runs_skipped=$(stat_of "$n" runs_skipped) (since its last start) skip_sum=$skip_sum"
    [ "$r" = "$acked" ] || fail "$n: rows $r != acked $acked"
    [ "$produced" = $((acked + dropped + pending + rejected)) ] || fail "$n: produced != acked + dropped + pending + rejected"
    [ "$pending" = 0 ] || fail "$n: $pending results pending at exit"
    [ "$gap_sum" = "$dropped" ] || fail "$n: gap records count $gap_sum dropped results, the agent says $dropped"
    [ "$gap_rows" = "$batch_gaps" ] || fail "$n: $gap_rows gap rows, stored batches say $batch_gaps"
    [ "$json_drops" = "$dropped" ] || fail "$n: agent list --json says $json_drops drops, the agent $dropped"
    [ "$table_drops" = "$dropped" ] || fail "$n: agent list says $table_drops drops, the agent $dropped"
done
[ "$(stat_of small dropped)" -gt 0 ] || fail "the small spool dropped nothing"
[ "$(stat_of big dropped)" = 0 ] || fail "the default spool dropped results"
dups=$(sql "SELECT count(*) FROM (SELECT 1 FROM parallax.results GROUP BY agent_id, probe_id, ts HAVING count(*) > 1) d")
[ "$dups" = 0 ] || fail "$dups (agent, probe, ts) keys stored more than once"
# Gaps are in the agent's clock, like results: within this test's run, never empty.
bad=$(sql "SELECT count(*) FROM parallax.gaps WHERE ts_from > ts_to OR dropped_count <= 0
           OR ts_from < to_timestamp($T_START - 5) OR ts_to > now() + interval '5 seconds'")
[ "$bad" = 0 ] || fail "implausible gap records: $(sql "SELECT * FROM parallax.gaps")"
# A clean stop of the coordinator (under the sanitizers this is where leaks are reported).
kill -TERM "$COORD_PID"; wait "$COORD_PID" || fail "coordinator exit status $?"
log "ok"
