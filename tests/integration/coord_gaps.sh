#!/usr/bin/env bash
# coord_gaps: a batch's gap records are stored with its results in one transaction, exactly
# once however often the batch is resent; probe id 0 becomes NULL (every probe); a batch of
# gaps alone is stored too; gaps mark the bins they cover for the merge; the batch record
# counts them; and a gap's reason (spool drop or skipped runs) is kept and counted apart.
source "$(dirname "$0")/lib.sh"
new_db
start_coordinator
add_agent gb1 GB
"$CTL" --db "$DB" target add web --address 127.0.0.1 --probe tcp:1 --interval 5 >/dev/null
PROBE=$(sql "SELECT id FROM parallax.probes LIMIT 1")
client() { "$PXCLIENT" -e "$COORD_EP" -k "$COORD_KEY" -s "$(agent_secret gb1)" "$@"; }

log "a batch with 5 results and 2 gaps, sent three times: stored once"
out=$(client -g "$PROBE:600:300:40" -g "0:200:100:9" batch 77 1 "$PROBE" 5 3)
[ "$(grep -c '^ack 1 stored$' <<<"$out")" = 3 ] || fail "expected 3 stored acks, got: $out"
[ "$(sql "SELECT count(*) FROM parallax.results")" = 5 ] || fail "results stored more than once"
[ "$(sql "SELECT count(*) FROM parallax.gaps")" = 2 ] || fail "gaps: $(sql "SELECT count(*) FROM parallax.gaps")"
[ "$(sql "SELECT results || '/' || gaps FROM parallax.batches")" = 5/2 ] || fail "batch record: $(sql "SELECT results, gaps FROM parallax.batches")"
got=$(sql "SELECT coalesce(probe_id::text, 'all') || ' ' || extract(epoch FROM ts_to - ts_from)::int || ' ' || dropped_count
           FROM parallax.gaps ORDER BY dropped_count")
[ "$got" = "all 100 9
$PROBE 300 40" ] || fail "gap rows: $got"
[ "$(sql "SELECT count(DISTINCT reported_at) FROM parallax.gaps")" = 1 ] || fail "gaps of one batch in several transactions"
grep -q "batch 1 was already stored" "$WORK/coordinator.log" || fail "duplicate not logged"

log "gaps mark the vantage bins they cover (probe id 0: every probe)"
[ "$(sql "SELECT count(*) FROM parallax.merge_queue WHERE scope = 'vantage'")" -gt 0 ] \
    || fail "no vantage bin marked dirty by the gap"

log "a batch of gaps alone is stored, exactly once"
out=$(client -g "0:50:40:3" batch 77 2 "$PROBE" 0 2)
[ "$(grep -c '^ack 2 stored$' <<<"$out")" = 2 ] || fail "gap-only batch: $out"
[ "$(sql "SELECT count(*) FROM parallax.gaps")" = 3 ] || fail "gap-only batch stored $(sql "SELECT count(*) - 2 FROM parallax.gaps") times"
[ "$(sql "SELECT count(*) FROM parallax.results")" = 5 ] || fail "a gap-only batch added results"

log "a gap keeps its reason: skipped runs are stored apart from spool drops"
out=$(client -g "$PROBE:30:30:1:1" -g "$PROBE:20:10:2:1" batch 77 4 "$PROBE" 0)
grep -q '^ack 4 stored$' <<<"$out" || fail "batch of skipped-run gaps: $out"
[ "$(sql "SELECT string_agg(reason || ' ' || dropped_count, ', ' ORDER BY reason, dropped_count) FROM parallax.gaps")" = \
  "spool_dropped 3, spool_dropped 9, spool_dropped 40, run_skipped 1, run_skipped 2" ] ||
    fail "gap reasons: $(sql "SELECT reason, dropped_count FROM parallax.gaps")"
[ "$(sql "SELECT dropped || ' ' || skipped FROM parallax.agent_status() WHERE agent = 'gb1'")" = "52 3" ] ||
    fail "agent_status counts: $(sql "SELECT dropped, skipped FROM parallax.agent_status()")"

log "a gap naming a probe that was never issued is rejected with the batch, and nothing of it stays"
out=$(client -g "999999:50:40:3" batch 77 5 "$PROBE" 2)
grep -q '^ack 5 rejected: gap 0 names probe 999999, which does not exist$' <<<"$out" || fail "unknown probe in a gap: $out"
[ "$(sql "SELECT count(*) FROM parallax.batches")" = 3 ] || fail "rejected batch recorded"
[ "$(sql "SELECT count(*) FROM parallax.results")" = 5 ] || fail "rejected batch stored results"
log "ok"
