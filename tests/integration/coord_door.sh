#!/usr/bin/env bash
# coord_door: results and gaps stamped outside the window of time the coordinator accepts
# around their receipt (accept_past_s, accept_ahead_s: shipped defaults) are refused one by
# one, with a reason in the ack, never "retry", and counted in parallax.rejections; the rest
# of their batch is stored. A multi-year gap is clamped to the window, so it neither stalls
# the ingest of another agent streaming beside it nor makes the statement time out; a batch
# naming 1,000 days creates no partition; a long read of results holds no batch up.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent hostile NL
add_agent steady DE
"$CTL" --db "$DB" target add web --address 127.0.0.1 --probe tcp:1 --interval 5 >/dev/null
PROBE=$(sql "SELECT id FROM parallax.probes LIMIT 1")
DAY_S=86400
WEEK_S=$((7 * DAY_S))

# The coordinator keeps partitions made for every day it accepts: a week back to tomorrow.
wait_until 20 "partitions of the accepted window made" \
    'test "$(sql "SELECT count(*) FROM pg_inherits WHERE inhparent = '"'"'parallax.results'"'"'::regclass")" -ge 9'
PARTS=$(sql "SELECT count(*) FROM pg_inherits WHERE inhparent = 'parallax.results'::regclass")

log "a gap of three years from one agent while another streams: clamped to a week, stored, no retry"
start_bg steady "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret steady)" \
    stream 11 1 200 "$PROBE" 50 10
STEADY_PID=$LAST_PID
out=$(as_agent hostile -g "0:$((3 * 365 * DAY_S)):0:5" batch 7 1 "$PROBE" 3)
grep -q '^ack 1 stored refused 0 results 0 gaps clamped 1 gaps: gap reaching .* is outside the accepted window' <<<"$out" \
    || fail "multi-year gap: $out"
span=$(sql "SELECT round(extract(epoch FROM ts_to - ts_from) / 3600) FROM parallax.gaps WHERE agent_id = (SELECT id FROM parallax.agents WHERE name = 'hostile')")
[ "$span" = 168 ] || fail "the clamped gap spans $span hours, not a week"
# Resent (its ack lost): a duplicate, stored once, again not retried.
out=$(as_agent hostile -g "0:$((3 * 365 * DAY_S)):0:5" batch 7 1 "$PROBE" 3 2)
[ "$(grep -c '^ack 1 stored' <<<"$out")" = 2 ] || fail "resent gap batch: $out"
wait "$STEADY_PID" || fail "the steady agent's stream failed: $(tail -3 "$WORK/steady.log")"
done_line=$(grep '^done' "$WORK/steady.log")
[ "$done_line" = "done 200 0 0" ] || fail "the steady agent was held up: $done_line"
[ "$(sql "SELECT count(*) FROM parallax.results r JOIN parallax.agents a ON a.id = r.agent_id WHERE a.name = 'steady'")" = 10000 ] \
    || fail "the steady agent's results are not all stored"
! grep -Eqi 'statement timeout|canceling statement|57014|retry' "$WORK/coordinator.log" \
    || fail "the coordinator timed out or asked to retry: $(grep -Ei 'timeout|cancel|retry' "$WORK/coordinator.log" | head -3)"

log "a batch naming 1,000 days: the days outside the window refused, no partition made"
out=$(as_agent hostile batch 7 2 "$PROBE" 1000 1 ok "$DAY_S")
# Stamped 1, 2, ... 1000 days before now: those of the last 6 days are in the window.
grep -q '^ack 2 stored refused 994 results 0 gaps clamped 0 gaps: result stamped .* is outside the accepted window' <<<"$out" \
    || fail "1,000 days: $out"
[ "$(sql "SELECT count(*) FROM pg_inherits WHERE inhparent = 'parallax.results'::regclass")" = "$PARTS" ] \
    || fail "partitions were made: $(sql "SELECT count(*) FROM pg_inherits WHERE inhparent = 'parallax.results'::regclass") against $PARTS"
[ "$(sql "SELECT count(*) FROM parallax.results r JOIN parallax.agents a ON a.id = r.agent_id WHERE a.name = 'hostile'")" = 9 ] \
    || fail "the hostile agent's admitted results: $(sql "SELECT count(*) FROM parallax.results r JOIN parallax.agents a ON a.id = r.agent_id WHERE a.name = 'hostile'")"

log "results from the future (a clock a day ahead, not yet measured) are refused too"
out=$(as_agent hostile -g "0:-$((DAY_S + 7200)):-$((2 * DAY_S)):4" batch 7 3 "$PROBE" 0)
grep -q '^ack 3 stored refused 0 results 1 gaps clamped 0 gaps: gap from .* is outside the accepted window' <<<"$out" \
    || fail "gap from the future: $out"

log "what was refused is counted in parallax.rejections, one row per agent and kind"
got=$(sql "SELECT kind || ' ' || count FROM parallax.rejections j JOIN parallax.agents a ON a.id = j.agent_id
           WHERE a.name = 'hostile' ORDER BY kind")
[ "$got" = "gap 1
result 994" ] || fail "rejections: $got"
grep -q "agent hostile: batch 1: 0 results and 0 gaps refused, 1 gaps clamped" "$WORK/coordinator.log" \
    || fail "the clamp is not in the coordinator's log"
"$CTL" --db "$DB" agent show hostile >"$WORK/show"
grep -Eq '^rejected +gap 1, result 994 \(latest: gap from .* is outside the accepted window .*\)$' "$WORK/show" \
    || fail "agent show: $(grep rejected "$WORK/show")"
"$CTL" --db "$DB" agent show hostile --json | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)["rejected"]
assert r["result"]["count"] == 994 and r["gap"]["count"] == 1, r
assert "outside the accepted window" in r["result"]["reason"], r' || fail "agent show --json: rejected"
"$CTL" --db "$DB" agent show steady --json | /usr/bin/python3 -c '
import json, sys; r = json.load(sys.stdin)["rejected"]; assert r == {}, r' || fail "the steady agent has rejections"

log "a long read of results open while batches arrive: every batch stored at once, no retry"
psql -X -q -d "$DB_NAME" -c "BEGIN; SELECT count(*) FROM parallax.results; SELECT pg_sleep(20); COMMIT" >/dev/null 2>&1 &
READER=$!
PIDS+=("$READER")
wait_until 10 "the long read holds its lock" \
    'test "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.relation = '"'"'parallax.results'"'"'::regclass AND a.query LIKE '"'"'%pg_sleep%'"'"'")" -gt 0'
# Results of yesterday and of the day before: partitions the coordinator made ahead.
out=$(as_agent steady stream 12 1 20 "$PROBE" 100 0)
[ "$(tail -1 <<<"$out")" = "done 20 0 0" ] || fail "batches during a long read: $(tail -1 <<<"$out")"
out=$(as_agent steady batch 13 1 "$PROBE" 2 1 ok "$((DAY_S + 3600))")
grep -q '^ack 1 stored$' <<<"$out" || fail "yesterday's results during a long read: $out"
kill "$READER" 2>/dev/null || true
log "ok"
