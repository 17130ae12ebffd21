#!/usr/bin/env bash
# agent_skips: a run the agent cannot start on time is no silent hole. Two probes every second
# through max_pps = 1: at most one run a second starts, so about half the slots find the run
# before still waiting for its turn. Each such run is counted in the stats file
# (runs_skipped, runs_skipped_busy), logged at info at most once a minute per probe, and
# stored as a run_skipped gap of its probe over its slot: every slot of a probe between its
# first and last result is a result or a gap, once. `status` shows them as SKIPPED, not DROPS.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent sk1 GB
echo "max_pps = 1" >>"$WORK/sk1.conf"
probe="tcp:${COORD_EP##*:}"
"$CTL" --db "$DB" target add a --address 127.0.0.1 --allow-internal --probe "$probe" --interval 1 >/dev/null
"$CTL" --db "$DB" target add b --address 127.0.0.1 --allow-internal --probe "$probe" --interval 1 >/dev/null
start_agent sk1
STATS="$WORK/state-sk1/stats"
stat_of() { sed -n "s/^$1=//p" "$STATS" 2>/dev/null; }
skipped_gaps() { sql "SELECT coalesce(sum(dropped_count), 0) FROM parallax.gaps WHERE reason = 'run_skipped'"; }

log "skipped runs arrive as gaps"
wait_until 60 "six skipped runs stored" 'test "$(skipped_gaps)" -ge 6'
wait_until 30 "results of both probes" 'test "$(sql "SELECT count(DISTINCT probe_id) FROM parallax.results")" = 2'
stop_load
# The agent runs the empty schedule once it has it (a little after the coordinator made it:
# until then its probes still run and skip); its stats file says which schedule it runs.
wait_until 30 "the agent runs the empty schedule" 'test "$(stat_of schedule_version)" = "$EMPTY_VERSION"'
# Nothing runs any more: wait until every skip the agent counted is stored.
wait_until 30 "every skipped run stored" 'test -n "$(stat_of runs_skipped)" && test "$(skipped_gaps)" = "$(stat_of runs_skipped)"'

log "counted in the stats file, by reason"
runs=$(stat_of runs); skipped=$(stat_of runs_skipped)
late=$(stat_of runs_skipped_late); busy=$(stat_of runs_skipped_busy)
log "runs=$runs skipped=$skipped (late $late, busy $busy) dropped=$(stat_of dropped) gaps=$(stat_of gaps)"
[ "$skipped" = $((late + busy)) ] || fail "runs_skipped $skipped is not late $late + busy $busy"
[ "$busy" -ge 1 ] || fail "no run skipped because the one before was waiting"
[ "$(stat_of dropped)" = 0 ] && [ "$(stat_of gaps)" = 0 ] || fail "skipped runs counted as spool drops"

log "each gap names its probe and covers its slots; no slot without a result or a gap"
[ "$(sql "SELECT count(*) FROM parallax.gaps WHERE reason = 'run_skipped' AND (probe_id IS NULL
          OR dropped_count <> extract(epoch FROM ts_to - ts_from)::int + 1)")" = 0 ] ||
    fail "odd skip gaps: $(sql "SELECT probe_id, ts_from, ts_to, dropped_count FROM parallax.gaps")"
# A probe's slots (a second apart, at its target's phase) are its results' times and its
# gaps' slots: between its first and last result they must be every slot, each once.
holes=$(sql "WITH slots AS (
                 SELECT probe_id, ts FROM parallax.results
                 UNION ALL
                 SELECT probe_id, generate_series(ts_from, ts_to, interval '1 second')
                 FROM parallax.gaps WHERE reason = 'run_skipped'),
             span AS (SELECT probe_id, min(ts) AS lo, max(ts) AS hi FROM parallax.results GROUP BY probe_id)
             SELECT string_agg(format('probe %s: %s slots, %s distinct, %s expected', span.probe_id, n, d,
                                      extract(epoch FROM hi - lo)::int + 1), '; ')
             FROM span CROSS JOIN LATERAL (
                 SELECT count(*) AS n, count(DISTINCT s.ts) AS d FROM slots s
                 WHERE s.probe_id = span.probe_id AND s.ts BETWEEN span.lo AND span.hi) c
             WHERE n <> d OR d <> extract(epoch FROM hi - lo)::int + 1")
[ -z "$holes" ] || fail "holes or doubles: $holes"

log "logged at info, at most one line per probe a minute"
lines=$(grep -c 'info: sched: probe .* not started: .*reported as a gap' "$WORK/agent-sk1.log" || true)
[ "$lines" -ge 1 ] && [ "$lines" -le 2 ] || fail "expected 1 or 2 skip lines, got $lines: $(grep 'not started' "$WORK/agent-sk1.log")"

log "status: SKIPPED, not DROPS"
ctl 0 status --json
python3 - "$WORK/out" "$skipped" <<'PY' || fail "status --json: $(cat "$WORK/out")"
import json, sys
a = {x["name"]: x for x in json.load(open(sys.argv[1]))["agents"]}["sk1"]
assert a["dropped"] == 0 and a["skipped"] == int(sys.argv[2]), a
PY
ctl 0 status
grep -Eq "^sk1 +GB +.* 0 +$skipped +[-0-9]+$" "$WORK/out" || fail "status row: $(cat "$WORK/out")"
log "ok"
