#!/usr/bin/env bash
# coord_metrics: the coordinator's /metrics endpoint (docs/metrics.md) as Prometheus sees it.
# The text passes `promtool check metrics`; a real prometheus scrapes it; counters rise as
# batches are stored, duplicates, rejections, refused handshakes and spool drops are counted
# apart; the database-derived series (outages open by scope and stage, agents by state) follow
# the tables; a port already taken is a warning, and the coordinator still takes results.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/tools/prometheus.sh"
command -v prometheus >/dev/null && command -v promtool >/dev/null ||
    skip "prometheus and promtool are not installed (Debian: prometheus)"

new_db

log "a port already taken: a warning, and the coordinator runs on without its endpoint"
TAKEN=$(free_port)
start_bg holder /usr/bin/python3 -c "
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', $TAKEN)); s.listen(1); print('bound', flush=True); time.sleep(300)"
wait_until 10 "the port holder bound" 'grep -q bound "$WORK/holder.log"'
COORD_CONF_EXTRA="metrics_listen = 127.0.0.1:$TAKEN" start_coordinator
grep -q "cannot listen on 127.0.0.1:$TAKEN for /metrics: .*running on without the metrics endpoint" \
    "$WORK/coordinator.log" || fail "no warning for the taken port"
add_agent m1 GB
"$CTL" --db "$DB" target add web --address 127.0.0.1 --probe tcp:1 --interval 5 >/dev/null
PROBE=$(sql "SELECT id FROM parallax.probes LIMIT 1")
out=$(as_agent m1 batch 70 1 "$PROBE" 1)
[ "$out" = "ack 1 stored" ] || fail "no batch stored without the endpoint: $out"
kill -TERM "$COORD_PID"
wait_until 10 "the coordinator stopped" '! kill -0 "$COORD_PID"'
grep -q "stopped" "$WORK/coordinator.log" || fail "the coordinator did not stop cleanly"
mv "$WORK/coordinator.log" "$WORK/coordinator-taken.txt"

MPORT=$(free_port)
COORD_CONF_EXTRA="metrics_listen = 127.0.0.1:$MPORT" start_coordinator
URL="http://127.0.0.1:$MPORT/metrics"
wait_until 10 "the endpoint answers" 'curl -sf "$URL" >/dev/null'
grep -q "metrics at http://127.0.0.1:$MPORT/metrics" "$WORK/coordinator.log" || fail "endpoint not logged"

# metric 'NAME{LABELS}': its value in a fresh scrape ("" when absent).
metric() { curl -sf "$URL" | awk -v n="$1" '$1 == n { print $2 }'; }

log "the exposition text: content type, HELP and TYPE, promtool clean"
curl -sf -D "$WORK/headers" -o /dev/null "$URL" || fail "scrape failed"
grep -qi '^content-type: text/plain; version=0.0.4' "$WORK/headers" || fail "content type: $(cat "$WORK/headers")"
prom_scrape_check "$URL"
for m in parallax_batches_ingested_total parallax_ingest_latency_seconds parallax_sessions \
         parallax_outages_open parallax_merge_duration_seconds parallax_agents; do
    grep -q "^# TYPE $m " "$WORK/scrape.txt" || fail "no TYPE line for $m"
    grep -q "^# HELP $m " "$WORK/scrape.txt" || fail "no HELP line for $m"
done
# docs/metrics.md lists exactly what is served.
documented=$(grep -o '^| `parallax_[a-z_]*`' "$PX_SOURCE_DIR/docs/metrics.md" | tr -d '|` ' | sort)
served=$(awk '$1 == "#" && $2 == "TYPE" { print $3 }' "$WORK/scrape.txt" | sort)
[ "$documented" = "$served" ] || fail "docs/metrics.md and /metrics differ: $(diff <(echo "$documented") <(echo "$served"))"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/")
[ "$code" = 404 ] || fail "/ answered $code, expected 404"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$URL")
# evhttp answers a method it was told not to allow with 501.
[ "$code" = 501 ] || [ "$code" = 405 ] || fail "POST answered $code, expected 501 or 405"

log "a real prometheus scrapes it"
prom_start "127.0.0.1:$(free_port)" "127.0.0.1:$MPORT"
[ "$(prom_query 'scrape_samples_scraped{job="parallax"}')" -ge "$(grep -vc "^#" "$WORK/scrape.txt")" ] || fail "too few samples scraped"

log "counters rise as batches are stored"
out=$(as_agent m1 -g "$PROBE:600:300:40" batch 71 1 "$PROBE" 5 2)
[ "$(grep -c '^ack 1 stored$' <<<"$out")" = 2 ] || fail "batch: $out"
[ "$(metric 'parallax_batches_ingested_total{agent="m1"}')" = 1 ] || fail "batches: $(metric 'parallax_batches_ingested_total{agent="m1"}')"
[ "$(metric 'parallax_results_ingested_total{agent="m1"}')" = 5 ] || fail "results"
[ "$(metric 'parallax_batches_duplicate_total{agent="m1"}')" = 1 ] || fail "duplicates"
[ "$(metric 'parallax_spool_dropped_total{agent="m1"}')" = 40 ] || fail "spool drops"
[ "$(metric 'parallax_ingest_latency_seconds_count')" = 1 ] || fail "latency count"
wait_until 20 "prometheus sees the batch" \
    '[ "$(prom_query "parallax_batches_ingested_total{agent=\"m1\"}")" = 1 ]'
out=$(as_agent m1 batch 71 2 "$PROBE" 3)
[ "$out" = "ack 2 stored" ] || fail "second batch: $out"
wait_until 20 "prometheus sees the counter rise" \
    '[ "$(prom_query "parallax_results_ingested_total{agent=\"m1\"}")" = 8 ]'
wait_until 20 "an increase over the scrapes" \
    '[ "$(prom_query "increase(parallax_results_ingested_total{agent=\"m1\"}[1m]) > 0")" != "" ]'

log "rejections and refused handshakes are counted by reason"
out=$(as_agent m1 -g "999999:50:40:3" batch 71 3 "$PROBE" 1)
grep -q '^ack 3 rejected' <<<"$out" || fail "unknown probe: $out"
[ "$(metric 'parallax_batches_rejected_total{reason="invalid"}')" = 1 ] || fail "rejected"
[ "$(metric 'parallax_batches_rejected_total{reason="retry"}')" = 0 ] || fail "retry not 0"
"$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" handshakes 3 >/dev/null || true
wait_until 10 "refused handshakes counted" \
    '[ "$(metric "parallax_handshakes_refused_total{reason=\"unregistered\"}")" -ge 3 ]'

log "the database-derived series follow the tables"
wait_until 20 "agents by state" '[ "$(metric "parallax_agents{state=\"online\"}")" = 1 ]'
[ "$(metric 'parallax_outages_open{scope="group",stage="blackout"}')" = 0 ] || fail "a blackout before any"
sql "INSERT INTO parallax.outage_events (scope, subject_id, subject, started_at, stage, detail)
     VALUES ('group', 1, 'metrics-test', now() - interval '5 minutes', 'blackout', '{}')"
wait_until 20 "the open blackout shows" \
    '[ "$(metric "parallax_outages_open{scope=\"group\",stage=\"blackout\"}")" = 1 ]'
wait_until 20 "prometheus reads the blackout" \
    '[ "$(prom_query "parallax_outages_open{scope=\"group\",stage=\"blackout\"}")" = 1 ]'
sql "UPDATE parallax.outage_events SET ended_at = now() WHERE subject = 'metrics-test'"
wait_until 20 "the blackout closed" \
    '[ "$(prom_query "parallax_outages_open{scope=\"group\",stage=\"blackout\"}")" = 0 ]'
snap=$(metric parallax_metrics_snapshot_timestamp_seconds)
[ "$(/usr/bin/python3 -c "import time; print(int(abs(time.time() - float('$snap')) < 30))")" = 1 ] ||
    fail "snapshot timestamp $snap"

log "notifications by receiver, from the outbox (parallax.notify_deliveries)"
[ -z "$(metric 'parallax_notifications_pending{receiver="am"}')" ] || fail "notifications of no receiver"
sql "INSERT INTO parallax.notify_receivers (name, kind, url) VALUES ('am', 'alertmanager', 'http://127.0.0.1:9/')"
sql "INSERT INTO parallax.notify_events (key, outage_id, event, scope, subject_id, subject, stage, started_at,
         late, maintenance, detail)
     SELECT 'metrics:' || i, i, 'opened', 'group', 1, 'metrics-test', 'blackout', now(), false, false, '{}'
     FROM generate_series(1, 6) i"
sql "INSERT INTO parallax.notify_deliveries (event_id, receiver_id, state)
     SELECT e.id, r.id, (ARRAY['sent', 'sent', 'sent', 'dead', 'pending', 'pending'])[row_number() OVER (ORDER BY e.id)]
     FROM parallax.notify_events e, parallax.notify_receivers r WHERE e.key LIKE 'metrics:%' AND r.name = 'am'"
wait_until 20 "notifications by receiver" \
    '[ "$(metric "parallax_notifications_sent_total{receiver=\"am\"}")" = 3 ]'
[ "$(metric 'parallax_notifications_failed_total{receiver="am"}')" = 1 ] || fail "failed notifications"
[ "$(metric 'parallax_notifications_pending{receiver="am"}')" = 2 ] || fail "pending notifications"
# The other series read from the database come with them.
[ "$(metric 'parallax_agents{state="online"}')" = 1 ] || fail "agents lost beside the notifications"

log "the scrape is still promtool clean with every series made"
prom_scrape_check "$URL"
log "ok"
