#!/usr/bin/env bash
# coord_heartbeat_abuse: an agent that heartbeats as fast as it is answered, its clock
# swinging between 20 days ahead and 20 days behind at every exchange (a bug, or a stolen
# key), beside an agent streaming results: the streamer's heartbeats and batches are still
# answered within 1 s (p99); the heartbeats table grows by about one row a second, not one
# per heartbeat; the bins the swinging clock queues for re-merging stay bounded (the offset
# is stored at most every 5 s and its re-merge reaches back at most merge_settings.sweep_max,
# however far it swings). Shipped defaults throughout.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent noisy NL
add_agent steady DE
"$CTL" --db "$DB" target add web --address 127.0.0.1 --probe tcp:1 --interval 5 >/dev/null
PROBE=$(sql "SELECT id FROM parallax.probes LIMIT 1")
LAT_S=20
SWING_MS=$((20 * 86400 * 1000))
# Some history of the noisy agent, so that re-merges have bins to find.
out=$(as_agent noisy batch 5 1 "$PROBE" 1000 1 ok 60)
grep -q '^ack 1 stored$' <<<"$out" || fail "history: $out"

log "steady streams for ${LAT_S}s while noisy heartbeats flat out with a clock swinging +-20 days"
start_bg steady timeout $((LAT_S + 30)) "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret steady)" \
    latency "$LAT_S" 50 31 "$PROBE"
STEADY=$LAST_PID
t0=$(date +%s%N)
# Bounded by time (and count): as fast as the coordinator answers, for as long as steady runs.
timeout "$LAT_S" "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret noisy)" \
    heartbeats 400000 0 "$SWING_MS" swing >"$WORK/noisy.out" || true
t1=$(date +%s%N)
sent=$(grep -c '^heartbeat' "$WORK/noisy.out")
secs=$(( (t1 - t0) / 1000000000 + 1 ))
log "noisy: $sent heartbeats answered in ${secs}s ($(( sent / secs ))/s)"
[ "$sent" -ge 5000 ] || fail "only $sent heartbeats answered: not the abuse this test is about"
wait "$STEADY" || fail "steady's latency run failed: $(cat "$WORK/steady.log")"
cat "$WORK/steady.log" >&2
for kind in heartbeat ack; do
    line=$(grep "^$kind sent" "$WORK/steady.log") || fail "no $kind line"
    read -r _ _ n _ answered _ _ _ p99 _ _ <<<"$line"
    [ "$answered" = "$n" ] || fail "steady: $kind $answered of $n answered"
    awk -v p="$p99" 'BEGIN { exit !(p < 1000) }' || fail "steady: $kind p99 $p99 ms (goal < 1000)"
done

log "the heartbeats table grew by about one row a second, the re-merge queue stays bounded"
rows=$(sql "SELECT count(*) FROM parallax.heartbeats h JOIN parallax.agents a ON a.id = h.agent_id WHERE a.name = 'noisy'")
log "noisy: $rows heartbeat rows for $sent heartbeats"
[ "$rows" -le $((secs + 2)) ] || fail "$rows heartbeat rows in ${secs}s"
queued=$(sql "SELECT count(*) FROM parallax.merge_queue q JOIN parallax.agents a ON a.id = q.subject_id
              WHERE q.scope = 'vantage' AND a.name = 'noisy'")
bound=$(sql "SELECT 2 * ceil(extract(epoch FROM sweep_max) / vantage_bin_s)::int + 10 FROM parallax.merge_settings_now()")
log "noisy: $queued vantage bins queued (bound $bound)"
[ "$queued" -le "$bound" ] || fail "$queued vantage bins queued for noisy, more than $bound"
stores=$(grep -c "agent noisy: clock offset changed\|agent noisy: clock is" "$WORK/coordinator.log" || true)
[ "$stores" -le $((secs / 5 * 2 + 4)) ] || fail "the clock was stored $stores times in ${secs}s"
log "ok"
