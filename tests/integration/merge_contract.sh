#!/usr/bin/env bash
# merge_contract: what the coordinator relies on: any insert of results (INSERT ... SELECT
# from a staging table, COPY) marks bins dirty; merge_run merges only closed bins, does
# nothing when nothing is due, is idempotent, and lets one caller at a time work; the outages
# relation has the agreed columns; settings are plain SQL; examples.sql runs.
source "$(dirname "$0")/lib.sh"
source "$PX_SOURCE_DIR/tests/data/merge/merge_fx.sh"

fx_scenario "the contract"
expect_eq "outages columns" \
    "$(sql "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'parallax.outages'::regclass AND attnum > 0")" \
    "id,scope,subject,started_at,ended_at,stage,detail"
expect_eq "default settings" \
    "$(sql "SELECT min_vantages || ' ' || min_networks || ' ' || open_after || ' ' || close_after FROM parallax.merge_settings")" "2 2 2 3"

log "an ingest-style INSERT ... SELECT from a staging table marks bins dirty"
fx "SELECT fx.rule(0, 60)"
fx "SELECT fx.rule(20, 29, target => 'ir-.*', status => 'timeout')"
fx "SELECT fx.play(0, 4)"
fx "CREATE TABLE staging (LIKE parallax.results INCLUDING DEFAULTS)"
fx "BEGIN; SELECT fx.emit(5, 5); INSERT INTO staging SELECT * FROM parallax.results WHERE ts >= fx.bin(5); DELETE FROM parallax.results WHERE ts >= fx.bin(5); DELETE FROM parallax.merge_dirty; DELETE FROM parallax.merge_inbox; COMMIT"
# One vantage's run of ir-web1 is missing: that bin is incomplete.
fx "DELETE FROM staging WHERE agent_id = (SELECT id FROM parallax.agents WHERE name = 'A')
      AND probe_id IN (SELECT p.id FROM parallax.probes p JOIN parallax.targets t ON t.id = p.target_id WHERE t.name = 'ir-web1')"
fx "INSERT INTO parallax.results SELECT * FROM staging"
# The insert's trigger appends to the inbox; merge_run folds it into merge_dirty first.
expect_eq "queued in the inbox" "$(sql "SELECT count(*) FROM parallax.merge_inbox WHERE bin_start = fx.bin(5)")" 11
expect_eq "the inbox folded into 11 bins" "$(sql "SELECT parallax.merge_collect()")" 11
expect_eq "inbox empty" "$(sql "SELECT count(*) FROM parallax.merge_inbox")" 0
expect_eq "dirty target bins" "$(sql "SELECT count(*) FROM parallax.merge_dirty WHERE scope = 'target' AND bin_start = fx.bin(5)")" 7
expect_eq "dirty vantage bins" "$(sql "SELECT count(*) FROM parallax.merge_dirty WHERE scope = 'vantage' AND bin_start = fx.bin(5)")" 4

log "a complete target bin is merged at its last run; other bins once closed (end plus grace)"
expect_eq "grace default" "$(sql "SELECT parallax.merge_grace(60, s) FROM parallax.merge_settings s")" "00:01:02"
first_run=$(sql "SELECT min(ts) FROM staging")
expect_eq "before any run" "$(sql "SELECT parallax.merge_run('$first_run'::timestamptz - interval '1 ms')")" 0
expect_eq "no bin yet" "$(sql "SELECT count(*) FROM parallax.bins WHERE bin_start = fx.bin(5)")" 0
expect_eq "before closing: the 6 complete targets" "$(sql "SELECT parallax.merge_run(fx.bin(6) + interval '61 s')")" 6
expect_eq "merged with the vantages assumed healthy (provisional)" \
    "$(sql "SELECT string_agg(DISTINCT state::text, ',') FROM parallax.target_bins WHERE bin_start = fx.bin(5)")" "up"
expect_eq "their evidence names the assumed health" \
    "$(sql "SELECT count(*) FROM parallax.target_bins WHERE bin_start = fx.bin(5) AND evidence->'provisional'->>'A' = 'healthy'")" 6
expect_eq "after closing: 4 vantages, ir-web1, the 6 provisional target bins again, the group" \
    "$(sql "SELECT parallax.merge_run(fx.bin(6) + interval '62 s')")" 12
expect_eq "re-judged without assumptions" "$(sql "SELECT count(*) FROM parallax.target_bins WHERE bin_start = fx.bin(5) AND evidence ? 'provisional'")" 0
expect_eq "no target bin still provisional" "$(sql "SELECT count(*) FROM parallax.bins WHERE scope = 'target' AND provisional IS NOT NULL")" 0
expect_eq "once merged, nothing is due" "$(sql "SELECT parallax.merge_run(fx.bin(6) + interval '70 s')")" 0

log "COPY marks bins dirty too"
fx "SELECT fx.emit(6, 6)"
sql "COPY (SELECT * FROM parallax.results WHERE ts >= fx.bin(6)) TO STDOUT" >"$WORK/bin6.copy"
fx "DELETE FROM parallax.results WHERE ts >= fx.bin(6); DELETE FROM parallax.merge_dirty WHERE scope = 'target'; DELETE FROM parallax.merge_inbox"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB_NAME" -c "COPY parallax.results FROM STDIN" <"$WORK/bin6.copy"
expect_eq "dirty after COPY" "$(sql "SELECT count(*) FROM parallax.merge_queue WHERE scope = 'target' AND bin_start = fx.bin(6)")" 7
fx "SELECT fx.merge(6)"
fx "SELECT fx.play(7, 40)"
expect_timeline group IR 0 40 nnnnnnnnnnnnnnnnnnnnBBBBBBBBBBnnnnnnnnnnn

log "a call with nothing due costs next to nothing"
# The second call of the session: the first also compiles the functions.
ms=$(sql "SELECT parallax.merge_run(fx.bin(41) + interval '10 s') IS NULL;
          SELECT extract(epoch FROM clock_timestamp() - s) * 1000 FROM (SELECT clock_timestamp() AS s) t, LATERAL (SELECT parallax.merge_run(fx.bin(41) + interval '10 s')) m" | tail -n 1)
awk -v ms="$ms" 'BEGIN { exit !(ms < 20) }' || fail "idle merge_run took $ms ms"

log "re-merging everything gives the same verdicts and the same outages, ids included"
snapshot() {
    sql "SELECT md5(string_agg(format('%s %s %s %s %s %s %s %s', scope, subject_id, bin_start, state, rtt_ms, evidence, h_open, h_outage_start), ',' ORDER BY scope, subject_id, bin_start)) FROM parallax.bins"
    sql "SELECT md5(string_agg(format('%s %s %s %s %s %s %s', id, scope, subject, started_at, ended_at, stage, detail), ',' ORDER BY id)) FROM parallax.outages"
}
before=$(snapshot)
events_before=$(sql "SELECT count(*) FROM parallax.outages")
[ "$(sql "SELECT parallax.merge_mark(fx.bin(0), fx.bin(41))")" -gt 400 ] || fail "merge_mark queued too little"
fx "SELECT fx.merge(40)"
expect_eq "same bins and outages" "$(snapshot)" "$before"
expect_eq "no duplicate outages" "$(sql "SELECT count(*) FROM parallax.outages")" "$events_before"

log "a backlog is worked off run_max at a time, oldest first, to the same verdicts"
fx "UPDATE parallax.merge_settings SET run_max = '10 minutes'"
fx "SELECT parallax.merge_mark(fx.bin(0), fx.bin(41))"
calls=0
while [ "$(sql "SELECT fx.merge(40)")" -gt 0 ]; do
    calls=$((calls + 1))
    [ $calls -le 20 ] || fail "the backlog is never worked off"
done
[ $calls -ge 4 ] || fail "42 bins of backlog merged in $calls calls, with 10 minutes a call"
expect_eq "same bins and outages after a capped backlog" "$(snapshot)" "$before"
fx "UPDATE parallax.merge_settings SET run_max = '1 hour'"

log "concurrent callers: one works, the others return 0 at once"
fx "SELECT parallax.merge_mark(fx.bin(0), fx.bin(41))"
# The first caller keeps its transaction (and so the lock) open until this test says COMMIT
# through a pipe: no timing window, however loaded the machine is.
mkfifo "$WORK/first.in"
psql -X -q -tA -d "$DB_NAME" <"$WORK/first.in" >"$WORK/first.out" 2>&1 &
first=$!
exec 7>"$WORK/first.in"
echo "BEGIN; SELECT parallax.merge_run(fx.bin(42) + interval '10 s');" >&7
wait_until 20 "the first merge holds the lock" \
    '[ "$(sql "SELECT count(*) FROM pg_locks WHERE locktype = '"'"'advisory'"'"' AND objid::bigint = (88340183732807 & 4294967295)")" = 1 ]'
t0=$(date +%s%N)
expect_eq "second caller" "$(PGOPTIONS='-c statement_timeout=5s' sql "SELECT parallax.merge_run(fx.bin(42) + interval '10 s')")" 0
# The first never commits on its own: a second caller that waited would wait until this
# limit, so any quick answer proves it did not.
[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 5000 ] || fail "the second caller waited for the first"
echo "COMMIT;" >&7
exec 7>&-
wait $first || fail "first merge failed: $(cat "$WORK/first.out")"
[ "$(head -1 "$WORK/first.out")" -gt 400 ] || fail "first merge merged too little: $(cat "$WORK/first.out")"
expect_eq "after both, same outages" "$(snapshot)" "$before"

log "settings are plain SQL"
fx "UPDATE parallax.merge_settings SET open_after = 1"
fx "SELECT fx.rule(45, 45, target => 'ir-web1', status => 'timeout')"
fx "SELECT fx.play(41, 50)"
expect_eq "a single bad bin opens an outage now" \
    "$(sql "SELECT count(*) FROM parallax.outages WHERE subject = 'ir-web1' AND started_at = fx.bin(45)")" 1

log "examples.sql runs"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB_NAME" -f "$PX_SOURCE_DIR/schema/examples.sql" >"$WORK/examples.out" ||
    fail "examples.sql failed"
log "ok"
